# Local storage failing under a run (tests/integration/faults_disk.py): a
# tmpfs as run.storage, filled up or remounted read-only mid-run.  Needs
# root (CI is; elsewhere it reports itself skipped, tests/cannot_run.h).
if(GNARL_PYTHON AND TARGET overworld AND TARGET local)
  foreach(_mode full_disk read_only)
    add_test(NAME faults_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/faults_disk.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                     "${CMAKE_CURRENT_BINARY_DIR}/faults_${_mode}")
    set_tests_properties(faults_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      SKIP_RETURN_CODE 77 TIMEOUT 1800 LABELS "integration;faults")
  endforeach()
  # full_disk compares resident memory over failed saves: ASan's quarantine
  # (freed blocks held back, 256 MB by default) would count as growth, so
  # under ASan it holds at most 2 MB here.
  set_property(TEST faults_full_disk APPEND PROPERTY ENVIRONMENT
               "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=2")
endif()
