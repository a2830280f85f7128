# The scale-out recipes of deploy/ (recipes_test.py's docstring says what
# is checked without a container engine, Slurm or Kubernetes): the
# Containerfile's packages against Debian and the built binary's
# libraries, the MPIJob's shape and gnarl command, the Slurm script run
# with mpirun in place of srun (2 ranks, then resumed on 1).
if(GNARL_PYTHON AND TARGET cartpole AND TARGET overworld AND TARGET local)
  set(_mpirun "")
  if(GNARL_HAVE_MPI)
    find_program(GNARL_MPIRUN NAMES mpirun mpiexec)
    if(GNARL_MPIRUN)
      set(_mpirun "${GNARL_MPIRUN}")
    endif()
  endif()
  add_test(NAME recipes
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/recipes_test.py"
                   "${CMAKE_SOURCE_DIR}" "${CMAKE_BINARY_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/recipes" ${_mpirun})
  # Under ASan, Open MPI's own allocations at exit are suppressed as in
  # mpi.cmake; two ranks on two cores: never beside another MPI test.
  set_tests_properties(recipes PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};ASAN_OPTIONS=fast_unwind_on_malloc=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/mpi_lsan.supp:print_suppressions=0"
    LABELS "integration;recipes" TIMEOUT 600 RESOURCE_LOCK mpi)
endif()
