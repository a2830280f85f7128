# Checkpoints and resume (issue 5): real train-then-resume runs through the
# gnarl binary, one ctest per mode of resume_test.py (see its docstring),
# and the save/verify/load benchmark of the default network.
if(GNARL_PYTHON)
  foreach(_mode exact_cartpole exact_overworld abi_1_0 legacy_memory reweight add_term num_envs
                reward_param llm_probability episode_length refusals crash save_failure
                commands)
    add_test(NAME resume_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/resume_test.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/resume_${_mode}")
    set_tests_properties(resume_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_FIXTURE_DIR=${GNARL_FIXTURE_DIR}"
      SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "integration;resume")
  endforeach()
  # A hundred runs killed mid-save: minutes in the sanitizer build.
  set_tests_properties(resume_crash PROPERTIES TIMEOUT 1500)
endif()

# Checkpoints on the S3 fixture (tests/integration/storage.cmake, included
# after this file: its s3.env path is spelt out here).
if(GNARL_PYTHON AND TARGET s3)
  add_test(NAME resume_s3
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/resume_test.py"
                   s3 $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/resume_s3")
  set_tests_properties(resume_s3 PROPERTIES
    FIXTURES_REQUIRED s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "GNARL_S3_ENV=${CMAKE_BINARY_DIR}/s3/s3.env;GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    LABELS "s3;integration;resume")
endif()

# test_resume dlopens the cartpole, overworld and fixture env plugins.
if(TARGET test_resume)
  foreach(_p cartpole overworld fixture_env room_discovery grid_exploration movement dungeon_entry
             combat health death milestones time_penalty)
    if(TARGET ${_p})
      add_dependencies(test_resume ${_p})
    endif()
  endforeach()
endif()

# gnarl's checkpoint cost on the default network (configs/env.yaml): save,
# verify (open: read, SHA-256, safetensors rules), load.  Prints numbers; the
# smoke test only runs it.
add_executable(resume_bench "${CMAKE_CURRENT_SOURCE_DIR}/integration/resume_bench.c")
target_link_libraries(resume_bench PRIVATE gnarl_core)
target_compile_definitions(resume_bench PRIVATE
  GNARL_SOURCE_DIR="${CMAKE_SOURCE_DIR}" GNARL_TEST_DIR="${CMAKE_CURRENT_BINARY_DIR}")
add_test(NAME resume_bench_smoke COMMAND resume_bench --repeat 2)
set_tests_properties(resume_bench_smoke PROPERTIES
  ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}" LABELS "integration;resume")
