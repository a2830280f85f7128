# The Game Boy path: the free test cartridge (tests/rom), what the gameboy
# env's unit test (tests/unit/test_gameboy.c) needs beyond the default unit
# test setup, and the benchmark program (tests/integration/gameboy_bench.c).
# Everything here needs both libmgba and sdcc; without them test_gameboy
# builds and skips.
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

if(TARGET test_gameboy AND _gb_ready)
  # The test plays the cartridge itself too (to make mGBA save states), so
  # it links libmgba besides dlopen'ing gameboy.so.
  add_dependencies(test_gameboy ${_gb_plugins})
  target_compile_definitions(test_gameboy PRIVATE GNARL_TEST_ROM="${GNARL_TEST_ROM}")
  target_include_directories(test_gameboy PRIVATE "${MGBA_INCLUDE_DIR}")
  target_link_libraries(test_gameboy PRIVATE ${MGBA_LIBRARY})
  set_tests_properties(unit_gameboy PROPERTIES LABELS "unit;gameboy")
endif()

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
