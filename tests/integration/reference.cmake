# The reference project's settings (reference_test.py's docstring says
# what it checks): README.md's table against `gnarl config reference`, and
# what `gnarl config check` says of each.
if(GNARL_PYTHON AND TARGET overworld)
  add_test(NAME reference_keys
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/reference_test.py"
                   $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                   "${CMAKE_SOURCE_DIR}/README.md")
  set_tests_properties(reference_keys PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    TIMEOUT 120 LABELS "integration;cli")
endif()
