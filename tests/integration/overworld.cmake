# The overworld env's micro-benchmark: a program that prints env steps/s
# (run it by hand: build/tests/bench_overworld), plus a short run of it in
# the suite so it keeps building and working.  No timing is asserted.
add_executable(bench_overworld "${CMAKE_CURRENT_SOURCE_DIR}/unit/bench_overworld.c")
target_include_directories(bench_overworld PRIVATE "${CMAKE_SOURCE_DIR}/sdk/include")
target_compile_definitions(bench_overworld PRIVATE
  GNARL_PLUGIN_FILE="${GNARL_BUILD_PLUGIN_DIR}/overworld.so")
target_link_libraries(bench_overworld PRIVATE ${DL_LIBRARY})
add_dependencies(bench_overworld overworld)
add_test(NAME overworld_bench_smoke COMMAND bench_overworld --envs 8 --steps 20000)
set_tests_properties(overworld_bench_smoke PROPERTIES LABELS integration)

# test_overworld_gen (tests/unit/) checks the world generator itself, so it
# links the generator's source besides the core.
if(TARGET test_overworld_gen)
  target_sources(test_overworld_gen PRIVATE "${CMAKE_SOURCE_DIR}/plugins/envs/overworld/overworld_gen.c")
  target_include_directories(test_overworld_gen PRIVATE "${CMAKE_SOURCE_DIR}/sdk/include")
endif()
