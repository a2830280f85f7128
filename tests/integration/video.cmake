# Episode videos (video_test.py's docstring says what each mode checks):
# gnarl eval --video, video.every in training (files, TensorBoard), and the
# HUD's video played by a real browser.  Read back by ffprobe and Chromium.
if(GNARL_HAVE_FFMPEG AND GNARL_PYTHON AND TARGET overworld AND TARGET local)
  set(_video_modes eval train)
  find_program(GNARL_CHROMIUM NAMES chromium chromium-browser)
  if(GNARL_HAVE_MICROHTTPD AND GNARL_CHROMIUM)
    list(APPEND _video_modes page)
  endif()
  foreach(_mode ${_video_modes})
    add_test(NAME video_${_mode}
             COMMAND "${GNARL_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/integration/video_test.py"
                     ${_mode} $<TARGET_FILE:gnarl> "${CMAKE_SOURCE_DIR}/configs/env.yaml"
                     "${CMAKE_CURRENT_BINARY_DIR}/video_${_mode}" "${GNARL_CHROMIUM}")
    set_tests_properties(video_${_mode} PROPERTIES
      ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}"
      SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "integration;video")
  endforeach()
endif()
