# Storage: the `s3` CTest fixture (a single-node Ceph RADOS gateway on
# 127.0.0.1, tests/s3/start.sh and stop.sh) and the tests against it.
#
# Any test that needs S3 says
#   FIXTURES_REQUIRED s3  RESOURCE_LOCK s3  SKIP_RETURN_CODE 77
#   ENVIRONMENT GNARL_S3_ENV=<build>/s3/s3.env
# and reads that file (shell assignments: S3_ENDPOINT_URL,
# S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION_NAME, GNARL_S3_DIR,
# GNARL_S3_CEPH_CONF; or GNARL_S3_SKIP="<reason>" without Ceph, then exit
# 77).  `ctest` alone starts the gateway before the first such test and
# stops it by PID after the last.
set(GNARL_S3_FIXTURE_DIR "${CMAKE_BINARY_DIR}/s3")
set(GNARL_S3_ENV "${GNARL_S3_FIXTURE_DIR}/s3.env")

add_test(NAME s3_fixture_start
         COMMAND "${CMAKE_SOURCE_DIR}/tests/s3/start.sh" "${GNARL_S3_FIXTURE_DIR}")
set_tests_properties(s3_fixture_start PROPERTIES
  FIXTURES_SETUP s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 180 LABELS "s3;integration")
add_test(NAME s3_fixture_stop
         COMMAND "${CMAKE_SOURCE_DIR}/tests/s3/stop.sh" "${GNARL_S3_FIXTURE_DIR}")
set_tests_properties(s3_fixture_stop PROPERTIES
  FIXTURES_CLEANUP s3 RESOURCE_LOCK s3 TIMEOUT 60 LABELS "s3;integration")

# One program per test: <name>.c + storage_s3_util.c, run as ctest <test>.
# storage_s3_bench prints put/get times of a checkpoint-sized object.
function(gnarl_s3_test test program)
  add_executable(${program} "${CMAKE_CURRENT_SOURCE_DIR}/integration/${program}.c"
                            "${CMAKE_CURRENT_SOURCE_DIR}/integration/storage_s3_util.c")
  target_include_directories(${program} PRIVATE "${CMAKE_SOURCE_DIR}/sdk/include")
  target_compile_definitions(${program} PRIVATE
    GNARL_PLUGIN_DIR="${GNARL_BUILD_PLUGIN_DIR}"
    GNARL_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    GNARL_PYTHON="${GNARL_PYTHON}")
  target_link_libraries(${program} PRIVATE PkgConfig::CMOCKA PkgConfig::CURL PkgConfig::CRYPTO
                        Threads::Threads ${DL_LIBRARY})
  add_dependencies(${program} s3 local)
  add_test(NAME ${test} COMMAND ${program})
  set_tests_properties(${test} PROPERTIES
    FIXTURES_REQUIRED s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "GNARL_S3_ENV=${GNARL_S3_ENV};GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    LABELS "s3;integration")
endfunction()

if(GNARL_HAVE_CMOCKA AND TARGET s3)
  gnarl_s3_test(storage_s3 storage_s3_test)
  gnarl_s3_test(storage_s3_faults storage_s3_faults_test)
  gnarl_s3_test(storage_s3_bench storage_s3_bench)
  # The same store reached the trainer's way: config + gnarl_storage_open.
  gnarl_s3_test(storage_s3_core storage_s3_core_test)
  target_link_libraries(storage_s3_core_test PRIVATE gnarl_core)
endif()
