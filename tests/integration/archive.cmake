# The archive of start states (core/learn/archive*.c) beyond its unit test:
# archive_bench prints what random play with the archive reaches and what
# it costs (a program that prints numbers, run by hand: archive_bench -c
# configs/overworld-hard.yaml --set archive.enabled=true --steps 20000000),
# with a short run in the suite so it keeps building and working.
add_executable(archive_bench "${CMAKE_CURRENT_SOURCE_DIR}/integration/archive_bench.c")
target_link_libraries(archive_bench PRIVATE gnarl_core)
if(TARGET overworld)
  add_test(NAME archive_bench_smoke
           COMMAND archive_bench -c "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                   --set archive.enabled=true --steps 40960 --report 20480)
  set_tests_properties(archive_bench_smoke PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    LABELS integration)
endif()

# Everywhere a run goes (tests/integration/archive_test.py says what each mode
# checks): checkpoints and resume, S3 (the `s3` fixture of storage.cmake,
# included after this file: its s3.env path is spelt out here), and a 2-rank
# MPI run (mpi.cmake's settings; skipped, 77, without mpirun or MPI).
if(GNARL_PYTHON AND TARGET overworld)
  add_test(NAME archive_resume
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/archive_test.py"
                   resume $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/archive_resume")
  set_tests_properties(archive_resume PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_FIXTURE_DIR=${GNARL_FIXTURE_DIR}"
    TIMEOUT 600 LABELS "integration;resume")
  if(TARGET s3)
    add_test(NAME archive_s3
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/archive_test.py"
                     s3 $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/archive_s3")
    set_tests_properties(archive_s3 PROPERTIES
      FIXTURES_REQUIRED s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 600
      ENVIRONMENT "GNARL_S3_ENV=${CMAKE_BINARY_DIR}/s3/s3.env;GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      LABELS "s3;integration")
  endif()
  find_program(GNARL_MPIRUN NAMES mpirun mpiexec)
  if(GNARL_HAVE_MPI AND GNARL_MPIRUN)
    add_test(NAME archive_mpi
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/archive_test.py"
                     mpi $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/archive_mpi" "${GNARL_MPIRUN}" 1)
    set_tests_properties(archive_mpi PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};ASAN_OPTIONS=fast_unwind_on_malloc=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/mpi_lsan.supp:print_suppressions=0"
      TIMEOUT 600 LABELS "integration;mpi" RESOURCE_LOCK mpi)
  endif()
endif()

# The advisor of the exploration experiments (tests/llm/advisor.py, an
# "advisor" behaviour of the test LLM server) on the hard world's map.
if(GNARL_PYTHON AND TARGET overworld)
  add_test(NAME archive_advisor
           COMMAND "${GNARL_PYTHON}" "${CMAKE_SOURCE_DIR}/tests/llm/advisor_check.py"
                   $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/archive_advisor")
  set_tests_properties(archive_advisor PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}" TIMEOUT 300
    LABELS "integration;llm")
endif()

# The gameboy env's one-env state ops under the archive, on the test
# cartridge: registered at the end of tests/ (gameboy.cmake, included
# after this file, builds the cartridge and sets GNARL_TEST_ROM).
function(gnarl_archive_gameboy_test)
  if(GNARL_PYTHON AND GNARL_HAVE_MGBA AND TARGET gameboy AND TARGET gnarl_test_rom)
    add_test(NAME archive_gameboy
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/archive_test.py"
                     gameboy $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/archive_gameboy")
    set_tests_properties(archive_gameboy PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_TEST_ROM=${GNARL_TEST_ROM}"
      TIMEOUT 600 LABELS "integration;gameboy")
  endif()
endfunction()
cmake_language(DEFER CALL gnarl_archive_gameboy_test)
