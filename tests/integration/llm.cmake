# LLM guidance: the real llm_text/llm_vision plugins against the test
# server (tests/llm/server.py, started by each test as a process on
# 127.0.0.1), core/guidance.c end to end with them and the overworld env,
# and the benchmarks bench_llm (request()/poll() costs) and bench_guidance
# (draw + update per step), programs that print numbers, and bench_train.py
# (steps/s of gnarl train with LLM on and off, run by hand).
if(GNARL_HAVE_CMOCKA AND TARGET llm_text AND TARGET llm_vision)
  set(_llm_dir "${GNARL_TEST_DIR}/llm")
  set(_llm_support "${_llm_dir}/llm_test_host.c" "${_llm_dir}/llm_server.c")
  set(_llm_defs
    GNARL_PYTHON="${GNARL_PYTHON}"
    GNARL_LLM_TEST_DIR="${_llm_dir}"
    GNARL_BUILD_DIR="${CMAKE_BINARY_DIR}")

  add_executable(test_llm_plugins "${_llm_dir}/test_llm_plugins.c" "${_llm_dir}/test_llm_wire.c"
    "${_llm_dir}/llm_fixture.c" ${_llm_support})
  add_executable(bench_llm "${_llm_dir}/bench_llm.c" ${_llm_support})
  foreach(_t test_llm_plugins bench_llm)
    target_include_directories(${_t} PRIVATE "${CMAKE_SOURCE_DIR}/sdk/include" "${_llm_dir}")
    target_compile_definitions(${_t} PRIVATE ${_llm_defs})
    target_link_libraries(${_t} PRIVATE
      PkgConfig::CMOCKA PkgConfig::CURL PkgConfig::JANSSON Threads::Threads ${DL_LIBRARY})
    add_dependencies(${_t} llm_text llm_vision)
  endforeach()

  # Guidance end to end: config -> registry -> real plugins, env and server.
  if(TARGET overworld AND TARGET local)
    add_executable(test_llm_guidance "${_llm_dir}/test_llm_guidance.c" ${_llm_support})
    target_include_directories(test_llm_guidance PRIVATE "${_llm_dir}")
    target_compile_definitions(test_llm_guidance PRIVATE ${_llm_defs})
    target_link_libraries(test_llm_guidance PRIVATE gnarl_core PkgConfig::CMOCKA PkgConfig::CURL)
    add_dependencies(test_llm_guidance llm_text llm_vision overworld local)
    add_test(NAME llm_guidance COMMAND test_llm_guidance)
    add_executable(bench_guidance "${_llm_dir}/bench_guidance.c" ${_llm_support})
    target_include_directories(bench_guidance PRIVATE "${_llm_dir}")
    target_compile_definitions(bench_guidance PRIVATE ${_llm_defs})
    target_link_libraries(bench_guidance PRIVATE gnarl_core PkgConfig::CURL)
    add_dependencies(bench_guidance llm_text llm_vision)
    set_tests_properties(llm_guidance PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      LABELS "integration;llm"
      TIMEOUT 120)
  endif()

  # gnarl train with both plugins while the server goes away and comes back,
  # and checkpoints resumed with LLM turned on and off
  # (tests/integration/llm_train.py says what each mode checks).
  if(GNARL_PYTHON AND TARGET overworld AND TARGET local)
    foreach(_mode outage restore broken)
      add_test(NAME llm_train_${_mode}
               COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/llm_train.py"
                       ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                       "${CMAKE_CURRENT_BINARY_DIR}/llm_train_${_mode}")
      set_tests_properties(llm_train_${_mode} PROPERTIES
        ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
        LABELS "integration;llm"
        TIMEOUT 900)
    endforeach()
    # `broken` compares resident memory between the run's halves: ASan's
    # quarantine (freed blocks held back, 256 MB by default) would count as
    # growth, so under ASan it holds at most 2 MB here.
    set_property(TEST llm_train_broken APPEND PROPERTY ENVIRONMENT
                 "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=2")
  endif()

  foreach(_group wire parse retry breaker flow broken)
    add_test(NAME llm_${_group} COMMAND test_llm_plugins ${_group})
    set_tests_properties(llm_${_group} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      LABELS "integration;llm"
      TIMEOUT 120)
  endforeach()
endif()
