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

# Gambatte's core (Debian's libretro-gambatte) where the plugin looks for
# it: without it (and not under CI=true, where it must be there) its
# integration tests are not registered, and its unit tests skip.
set(_gb_emulators libmgba)
if(GNARL_HAVE_LIBRETRO)
  string(REPLACE ":" ";" _retro_dirs "${GNARL_LIBRETRO_DIRS}")
  find_file(GNARL_GAMBATTE_CORE gambatte_libretro.so PATHS ${_retro_dirs} NO_DEFAULT_PATH)
endif()
if(GNARL_GAMBATTE_CORE OR "$ENV{CI}" STREQUAL "true")
  list(APPEND _gb_emulators gambatte)
else()
  message(STATUS "gnarl: Gambatte's libretro core not found: its gameboy tests skip "
                 "(install libretro-gambatte)")
endif()
# The tests play the cartridge themselves too (to make mGBA save states),
# so they link libmgba besides dlopen'ing gameboy.so.  Each runs once per
# emulator (GNARL_EMULATOR): unit_<t> under libmgba, unit_<t>_gambatte
# under Gambatte's libretro core (without the core installed those skip,
# and fail under CI=true).  test_gameboy_backends compares the two.
foreach(_t gameboy gameboy_reset gameboy_state gameboy_backends)
  if(TARGET test_${_t} AND _gb_ready)
    add_dependencies(test_${_t} ${_gb_plugins})
    target_compile_definitions(test_${_t} PRIVATE GNARL_TEST_ROM="${GNARL_TEST_ROM}")
    target_include_directories(test_${_t} PRIVATE "${MGBA_INCLUDE_DIR}")
    target_link_libraries(test_${_t} PRIVATE ${MGBA_LIBRARY})
    set_tests_properties(unit_${_t} PROPERTIES LABELS "unit;gameboy"
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_EMULATOR=libmgba")
    if(NOT _t STREQUAL "gameboy_backends")
      add_test(NAME unit_${_t}_gambatte COMMAND test_${_t})
      set_tests_properties(unit_${_t}_gambatte PROPERTIES
        ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_EMULATOR=gambatte"
        LABELS "unit;gameboy")
    endif()
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
           COMMAND gameboy_bench --frames 2000 --steps 100 --envs 4 --json
                   --emulators "${_gb_emulators}")
  set_tests_properties(integration_gameboy_bench PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    PASS_REGULAR_EXPRESSION "\"env_sps\": [0-9]+"
    LABELS "integration;gameboy")
endif()

# The gnarl command on the cartridge (tests/integration/gameboy_cli.py):
# `gnarl gb peek` end to end, and a short `gnarl train` run whose
# room_discovery and combat terms must pay out.
# Each under every emulator (configs/test-cartridge.yaml reads
# GNARL_EMULATOR): integration_gameboy_<mode> and ..._<mode>_gambatte.
if(_gb_ready AND GNARL_PYTHON)
  foreach(_emu ${_gb_emulators})
    set(_sfx "")
    if(NOT _emu STREQUAL "libmgba")
      set(_sfx "_${_emu}")
    endif()
    foreach(_mode peek train)
      add_test(NAME integration_gameboy_${_mode}${_sfx}
               COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/gameboy_cli.py"
                       ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                       "${CMAKE_CURRENT_BINARY_DIR}/gameboy_${_mode}${_sfx}")
      set_tests_properties(integration_gameboy_${_mode}${_sfx} PROPERTIES
        ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_TEST_ROM=${GNARL_TEST_ROM};GNARL_EMULATOR=${_emu}"
        TIMEOUT 600 LABELS "integration;gameboy")
    endforeach()
  endforeach()
endif()

# A checkpoint resumes the cartridge's running episodes exactly
# (resume_test.py exact_gameboy: 20 iterations == 10 + resume + 10).
if(_gb_ready AND GNARL_PYTHON)
  foreach(_emu ${_gb_emulators})
    set(_name resume_exact_gameboy)
    if(NOT _emu STREQUAL "libmgba")
      set(_name resume_exact_gameboy_${_emu})
    endif()
    add_test(NAME ${_name}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/resume_test.py"
                     exact_gameboy $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/${_name}")
    set_tests_properties(${_name} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};GNARL_TEST_ROM=${GNARL_TEST_ROM};GNARL_EMULATOR=${_emu}"
      SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "integration;resume;gameboy")
  endforeach()
endif()
