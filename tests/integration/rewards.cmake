# What the reward terms cost per env step, run as the core runs them
# (rewards_bench.c): a program that prints numbers, for comparing builds
# (rewards_bench build/plugins other-build/plugins).  The suite runs it
# briefly so it keeps building and working; no timing is asserted.
add_executable(rewards_bench "${CMAKE_CURRENT_SOURCE_DIR}/integration/rewards_bench.c")
target_link_libraries(rewards_bench PRIVATE gnarl_core)
add_test(NAME rewards_bench_smoke
         COMMAND rewards_bench --steps 300 --passes 1 --rounds 1 "${GNARL_BUILD_PLUGIN_DIR}")
set_tests_properties(rewards_bench_smoke PROPERTIES LABELS integration)
