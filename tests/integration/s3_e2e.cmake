# A whole run in S3 end to end (issue 6: run directory, restore from s3://
# on an empty working directory, wrong secret, missing bucket, the gateway
# stopped mid-run), through the gnarl binary against the `s3` fixture of
# storage.cmake (included after this file: its s3.env path is spelt out
# here).  One ctest per mode of s3_e2e_test.py (see its docstring), and
# per mode of s3_e2e_faults.py (the same through tests/s3/fault_proxy.py:
# writes whose reply is lost, 500/503, slow replies, truncated and
# corrupted bodies); the bucket is read back by its own SigV4 client
# (s3_e2e_client.py).
if(GNARL_PYTHON AND TARGET s3)
  foreach(_mode lands restore errors outage ambiguous faults)
    set(_script s3_e2e_test.py)
    if(_mode STREQUAL "ambiguous" OR _mode STREQUAL "faults")
      set(_script s3_e2e_faults.py)
    endif()
    add_test(NAME s3_e2e_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/${_script}"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/s3_e2e_${_mode}")
    set_tests_properties(s3_e2e_${_mode} PROPERTIES
      FIXTURES_REQUIRED s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 1800
      ENVIRONMENT "GNARL_S3_ENV=${CMAKE_BINARY_DIR}/s3/s3.env;GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      LABELS "s3;integration")
  endforeach()
endif()
