# Data-parallel training (core/dist.c): `gnarl train` under a real mpirun on
# loopback, one ctest per mode of mpi_test.py (see its docstring).  Without
# mpirun or without MPI in this build the tests report skipped (77).  Under
# the sanitizer build, LeakSanitizer ignores what Open MPI's own libraries
# leave allocated at exit (tests/mpi_lsan.supp), nothing of gnarl's.
find_program(GNARL_MPIRUN NAMES mpirun mpiexec)
if(NOT GNARL_MPIRUN)
  set(GNARL_MPIRUN "")
endif()
if(GNARL_HAVE_MPI)
  set(_mpi_have 1)
else()
  set(_mpi_have 0)
endif()
if(GNARL_PYTHON)
  foreach(_mode ranks determinism one_rank resume signal failure)
    add_test(NAME mpi_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/mpi_test.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}"
                     "${CMAKE_CURRENT_BINARY_DIR}/mpi_${_mode}" "${GNARL_MPIRUN}" ${_mpi_have})
    set_tests_properties(mpi_${_mode} PROPERTIES
      # Open MPI's libraries have no frame pointers: the slow unwinder
      # follows an allocation into them, where the suppressions match.
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR};ASAN_OPTIONS=fast_unwind_on_malloc=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/mpi_lsan.supp:print_suppressions=0"
      SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "integration;mpi"
      # Two ranks per test on two cores: never two MPI tests at once.
      RESOURCE_LOCK mpi)
  endforeach()
endif()

# The collectives themselves, exact, under a real mpirun -n 2
# (tests/integration/mpi_collectives.c).
if(GNARL_HAVE_MPI AND GNARL_MPIRUN)
  add_executable(mpi_collectives "${CMAKE_CURRENT_SOURCE_DIR}/integration/mpi_collectives.c")
  target_link_libraries(mpi_collectives PRIVATE gnarl_core)
  add_test(NAME mpi_collectives COMMAND "${GNARL_MPIRUN}" -n 2 $<TARGET_FILE:mpi_collectives>)
  set_tests_properties(mpi_collectives PROPERTIES
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_btl=self,vader;OMPI_MCA_oob_tcp_if_include=lo;HWLOC_COMPONENTS=-gl;OMPI_MCA_mca_base_component_disable_dlclose=1;ASAN_OPTIONS=fast_unwind_on_malloc=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/mpi_lsan.supp:print_suppressions=0"
    PASS_REGULAR_EXPRESSION "rank 1 of 2: every collective exact"
    FAIL_REGULAR_EXPRESSION "mpi_collectives: rank [0-9]+: "
    TIMEOUT 120 LABELS "integration;mpi" RESOURCE_LOCK mpi)
endif()
