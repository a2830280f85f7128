# The SDK test: install to a temporary prefix, build the example reward
# plugin out of tree with one cc line (pkg-config) and with CMake
# (find_package), and load both with the installed `gnarl plugins show`.
add_test(NAME sdk_out_of_tree
         COMMAND sh "${CMAKE_CURRENT_LIST_DIR}/sdk_test.sh" "${CMAKE_BINARY_DIR}"
                 "${CMAKE_SOURCE_DIR}" "${CMAKE_COMMAND}")
set_tests_properties(sdk_out_of_tree PROPERTIES LABELS "sdk;integration" TIMEOUT 300)
