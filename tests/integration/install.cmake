# The install: `cmake --install` into a temporary prefix, then every
# shipped config trained and evaluated from there (install_test.py's
# docstring says what it checks).
if(GNARL_PYTHON AND TARGET overworld AND TARGET cartpole)
  # the cartridge's config runs only where the gameboy env and sdcc are
  set(_cart OFF)
  if(TARGET gnarl_test_rom AND TARGET gameboy)
    set(_cart ON)
  endif()
  set(_video OFF)
  if(GNARL_HAVE_FFMPEG)
    set(_video ON)
  endif()
  add_test(NAME install_configs
           COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/install_test.py"
                   "${CMAKE_BINARY_DIR}" "${CMAKE_SOURCE_DIR}"
                   "${CMAKE_CURRENT_BINARY_DIR}/install_configs" ${_cart} ${_video})
  set_tests_properties(install_configs PROPERTIES LABELS "install;integration" TIMEOUT 900)
endif()
