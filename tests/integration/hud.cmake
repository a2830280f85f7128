# The web HUD in `gnarl train` (tests/integration/hud_train.py says what
# each mode checks): a live run watched through every endpoint with LLM
# guidance from the test server, the startup errors, and, when Chromium is
# installed, the page rendered by a real browser.  bench_hud prints what
# the HUD costs the trainer per iteration, alone and with clients
# (a program that prints numbers, run by hand).
if(GNARL_HAVE_MICROHTTPD)
  add_executable(bench_hud "${CMAKE_CURRENT_SOURCE_DIR}/integration/hud_bench.c")
  target_link_libraries(bench_hud PRIVATE gnarl_core PkgConfig::CURL)

  if(GNARL_PYTHON AND TARGET overworld AND TARGET local AND TARGET llm_text)
    set(_hud_modes live errors crowd archive)
    find_program(GNARL_CHROMIUM NAMES chromium chromium-browser)
    if(GNARL_CHROMIUM)
      list(APPEND _hud_modes page)
    else()
      message(STATUS "gnarl: chromium not found: the HUD page test (hud_train_page) is off")
    endif()
    foreach(_mode ${_hud_modes})
      add_test(NAME hud_train_${_mode}
               COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/hud_train.py"
                       ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                       "${CMAKE_CURRENT_BINARY_DIR}/hud_train_${_mode}" "${GNARL_CHROMIUM}")
      set_tests_properties(hud_train_${_mode} PROPERTIES
        ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
        LABELS "integration;hud"
        # a bound on a hang: the page modes train at a real run's pace
        # through two Chromium loads, ~300 s under ASan with the other
        # core busy
        TIMEOUT 1200)
    endforeach()
  endif()
endif()
