# File formats: the TensorBoard event file and model.safetensors written by
# gnarl (through metrics, checkpoint and the local store) are read back by
# independent Python readers (Debian's python3 with google.protobuf and
# numpy).  formats_bench measures save + verify + load of a default-sized
# checkpoint (a benchmark, run by hand: formats_bench DIR [REPEATS]).
foreach(_p formats_gen formats_bench)
  add_executable(${_p} "${CMAKE_CURRENT_SOURCE_DIR}/integration/${_p}.c")
  target_link_libraries(${_p} PRIVATE gnarl_core)
  add_dependencies(${_p} local)
endforeach()

if(GNARL_PYTHON)
  add_test(NAME integration_formats
           COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/integration/formats_run.sh"
                   $<TARGET_FILE:formats_gen> "${GNARL_PYTHON}"
                   "${CMAKE_CURRENT_SOURCE_DIR}/integration"
                   "${CMAKE_CURRENT_BINARY_DIR}/formats_work")
  set_tests_properties(integration_formats PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    TIMEOUT 120 LABELS integration)
  # `gnarl checkpoints list|show|tag|diff` on a run formats_gen wrote.
  add_test(NAME integration_checkpoints_cli
           COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/integration/formats_cli.sh"
                   $<TARGET_FILE:gnarl> $<TARGET_FILE:formats_gen> "${GNARL_PYTHON}"
                   "${CMAKE_CURRENT_BINARY_DIR}/formats_cli_work")
  set_tests_properties(integration_checkpoints_cli PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    TIMEOUT 120 LABELS integration)
endif()

# The checkpoint store on the `s3` fixture (see storage.cmake, which this
# file may be included before: the env file path is spelled out).
if(TARGET s3)
  add_executable(formats_s3_checkpoint
                 "${CMAKE_CURRENT_SOURCE_DIR}/integration/formats_s3_checkpoint.c")
  target_link_libraries(formats_s3_checkpoint PRIVATE gnarl_core)
  add_dependencies(formats_s3_checkpoint s3 local)
  add_test(NAME formats_s3_checkpoint COMMAND formats_s3_checkpoint)
  set_tests_properties(formats_s3_checkpoint PROPERTIES
    FIXTURES_REQUIRED s3 RESOURCE_LOCK s3 SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "GNARL_S3_ENV=${CMAKE_BINARY_DIR}/s3/s3.env;GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
    LABELS "s3;integration")
endif()
