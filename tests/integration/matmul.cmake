# The learner's products on every kernel (tests/integration/matmul_bench.c):
# gnarl's tiled kernel, OpenBLAS and, when Debian's libxsmm-dev is
# installed, libxsmm.  A benchmark run by hand; the smoke test runs one
# round and fails if the kernels disagree.
pkg_check_modules(LIBXSMM IMPORTED_TARGET libxsmm)
add_executable(matmul_bench "${CMAKE_CURRENT_SOURCE_DIR}/integration/matmul_bench.c")
target_link_libraries(matmul_bench PRIVATE gnarl_core)
if(LIBXSMM_FOUND)
  message(STATUS "gnarl: LIBXSMM found, matmul_bench compares it")
  target_compile_definitions(matmul_bench PRIVATE GNARL_HAVE_LIBXSMM=1)
  target_link_libraries(matmul_bench PRIVATE PkgConfig::LIBXSMM)
else()
  message(STATUS "gnarl: LIBXSMM not found, matmul_bench compares gnarl's kernel and OpenBLAS")
endif()
add_test(NAME matmul_bench_smoke COMMAND matmul_bench --rounds 1)
set_tests_properties(matmul_bench_smoke PROPERTIES LABELS "integration" TIMEOUT 300)
