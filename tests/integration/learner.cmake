# The learner: unit tests that dlopen the cartpole plugin need it built
# first, and the integration tests below run `gnarl train` / `gnarl bench`
# on configs/cartpole.yaml.
if(TARGET test_rollout AND TARGET cartpole)
  add_dependencies(test_rollout cartpole)
endif()
