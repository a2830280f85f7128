# The learner: unit tests that dlopen the cartpole plugin need it built
# first, and learner_train.py runs `gnarl train` / `gnarl bench` on
# configs/cartpole.yaml (see its docstring for what each mode checks).
foreach(_t test_rollout test_trainer)
  if(TARGET ${_t} AND TARGET cartpole)
    add_dependencies(${_t} cartpole)
  endif()
endforeach()

if(GNARL_PYTHON)
  foreach(_mode learns solves determinism signal bench)
    add_test(NAME learner_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/learner_train.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/cartpole.yaml"
                     "${CMAKE_CURRENT_BINARY_DIR}/learner_${_mode}")
    set_tests_properties(learner_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      TIMEOUT 300 LABELS integration)
  endforeach()
  # Three whole 500k-step runs: minutes in the sanitizer build.
  set_tests_properties(learner_solves PROPERTIES TIMEOUT 1800)
endif()
