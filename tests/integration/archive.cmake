# The archive of start states (core/archive*.c) beyond its unit test:
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
