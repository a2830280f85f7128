# What gnarl train and gnarl eval show on stderr (console_test.py's
# docstring says what each mode checks): the status line in a real
# pseudo-terminal (tmux), the plain lines and the summary when piped.
if(GNARL_PYTHON AND TARGET overworld AND TARGET local)
  foreach(_mode tty piped eval)
    add_test(NAME console_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/console_test.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                     "${CMAKE_CURRENT_BINARY_DIR}/console_${_mode}")
    set_tests_properties(console_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "integration;console")
  endforeach()
endif()
