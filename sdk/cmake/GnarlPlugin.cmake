# gnarl_add_plugin(<name> <source>...)
#
# Builds <name>.so, a gnarl plugin: a MODULE library with hidden visibility
# (only gnarl_plugin_entry is exported) that links nothing of gnarl.  Used
# by gnarl's own plugins and, through find_package(gnarl-plugin), by
# third-party plugins built out of tree.
include_guard(GLOBAL)

function(gnarl_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_include_directories(${name} PRIVATE "${GNARL_PLUGIN_INCLUDE_DIR}")
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  if(GNARL_BUILD_PLUGIN_DIR)
    # In gnarl's own tree: gather plugins where build/gnarl finds them, and
    # install them with gnarl.
    set_target_properties(${name} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY "${GNARL_BUILD_PLUGIN_DIR}")
    install(TARGETS ${name} LIBRARY DESTINATION "${GNARL_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()
