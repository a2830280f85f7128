# `gnarl eval` end to end on configs/env.yaml (eval_check.py's docstring
# says what each mode checks).  `trained` trains a small policy first and
# fails when the trainer writes no checkpoint.
if(GNARL_PYTHON)
  foreach(_mode random frames trained)
    add_test(NAME eval_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/eval_check.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                     "${CMAKE_CURRENT_BINARY_DIR}/eval_${_mode}")
    set_tests_properties(eval_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      # a bound on a hang: `trained` trains 100k steps, under ASan on a
      # loaded machine that took longer than 300 s
      TIMEOUT 1200 LABELS integration)
  endforeach()
endif()
