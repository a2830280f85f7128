# The Game Boy path: the free test cartridge (tests/rom), what the gameboy
# env's unit tests (tests/unit/test_gameboy*.c) need beyond the default unit
# test setup, and the benchmark program (tests/integration/gameboy_bench.c).
# Everything here needs both libmgba and sdcc; without them the unit tests
# build and skip.
add_subdirectory("${CMAKE_CURRENT_SOURCE_DIR}/rom" "${CMAKE_CURRENT_BINARY_DIR}/rom")

set(_gb_ready OFF)
if(GNARL_HAVE_MGBA AND TARGET gameboy AND TARGET gnarl_test_rom)
  set(_gb_ready ON)
endif()
# configs/test-cartridge.yaml names these; the registry opens them all.
set(_gb_plugins gameboy gnarl_test_rom)
foreach(_p room_discovery grid_exploration movement dungeon_entry combat health death
           milestones time_penalty local)
  if(TARGET ${_p})
    list(APPEND _gb_plugins ${_p})
  endif()
endforeach()

# The tests play the cartridge themselves too (to make mGBA save states),
# so they link libmgba besides dlopen'ing gameboy.so.
foreach(_t gameboy gameboy_reset gameboy_state)
  if(TARGET test_${_t} AND _gb_ready)
    add_dependencies(test_${_t} ${_gb_plugins})
    target_compile_definitions(test_${_t} PRIVATE GNARL_TEST_ROM="${GNARL_TEST_ROM}")
    target_include_directories(test_${_t} PRIVATE "${MGBA_INCLUDE_DIR}")
    target_link_libraries(test_${_t} PRIVATE ${MGBA_LIBRARY})
    set_tests_properties(unit_${_t} PROPERTIES LABELS "unit;gameboy")
  endif()
endforeach()

if(_gb_ready)
  add_executable(gameboy_bench "${CMAKE_CURRENT_SOURCE_DIR}/integration/gameboy_bench.c")
  add_dependencies(gameboy_bench ${_gb_plugins})
  target_compile_definitions(gameboy_bench PRIVATE
    GNARL_TEST_ROM="${GNARL_TEST_ROM}"
    GNARL_BUILD_DIR="${CMAKE_BINARY_DIR}"
    GNARL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_include_directories(gameboy_bench PRIVATE "${MGBA_INCLUDE_DIR}")
  target_link_libraries(gameboy_bench PRIVATE gnarl_core ${MGBA_LIBRARY})
  # Runs the benchmark briefly: it must work end to end (numbers are not
  # judged; run it with default sizes to measure).
  add_test(NAME integration_gameboy_bench
           COMMAND gameboy_bench --frames 2000 --steps 100 --envs 4 --json)
  set_tests_properties(integration_gameboy_bench PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    PASS_REGULAR_EXPRESSION "\"env_sps\": [0-9]+"
    LABELS "integration;gameboy")
endif()

# The gnarl command on the cartridge (tests/integration/gameboy_cli.py):
# `gnarl gb peek` end to end, and a short `gnarl train` run whose
# room_discovery and combat terms must pay out.
if(_gb_ready AND GNARL_PYTHON)
  foreach(_mode peek train)
    add_test(NAME integration_gameboy_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/gameboy_cli.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/gameboy_${_mode}")
    # (a bound on a hang: under a load of 35 `train` took 257 s in Release)
    set_tests_properties(integration_gameboy_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_TEST_ROM=${GNARL_TEST_ROM}"
      TIMEOUT 1800 LABELS "integration;gameboy")
  endforeach()
endif()

# A checkpoint resumes the cartridge's running episodes exactly
# (resume_test.py exact_gameboy: 20 iterations == 10 + resume + 10).
if(_gb_ready AND GNARL_PYTHON)
  add_test(NAME resume_exact_gameboy
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/resume_test.py"
                   exact_gameboy $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/resume_exact_gameboy")
  set_tests_properties(resume_exact_gameboy PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_TEST_ROM=${GNARL_TEST_ROM}"
    SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "integration;resume;gameboy")
endif()
