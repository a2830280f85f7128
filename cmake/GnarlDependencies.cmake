# Required and optional dependencies.  Optional components switch off
# cleanly (with a status line) when absent.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
pkg_check_modules(JPEG IMPORTED_TARGET libjpeg)
pkg_check_modules(MICROHTTPD IMPORTED_TARGET libmicrohttpd)
# FFmpeg's libraries: episode videos (gnarl eval --video, video.every).
pkg_check_modules(FFMPEG IMPORTED_TARGET libavcodec libavformat libswscale libavutil)

# libmgba ships no pkg-config or CMake file: find header and library.
find_path(MGBA_INCLUDE_DIR mgba/flags.h)
find_library(MGBA_LIBRARY mgba)
# The libretro API header (Debian's retroarch-dev): the gameboy env's
# libretro backend (Gambatte and other cores, dlopen'ed at run time).
find_path(LIBRETRO_INCLUDE_DIR libretro.h PATH_SUFFIXES libretro-common)
find_program(SDCC_EXECUTABLE sdcc)

option(GNARL_WITH_MPI "Build MPI support when MPI is found" ON)
if(GNARL_WITH_MPI)
  find_package(MPI COMPONENTS C QUIET)
endif()

set(GNARL_HAVE_MPI ${MPI_C_FOUND})
set(GNARL_HAVE_MGBA OFF)
if(MGBA_INCLUDE_DIR AND MGBA_LIBRARY)
  set(GNARL_HAVE_MGBA ON)
endif()
set(GNARL_HAVE_LIBRETRO OFF)
if(LIBRETRO_INCLUDE_DIR)
  set(GNARL_HAVE_LIBRETRO ON)
endif()
set(GNARL_HAVE_SDCC OFF)
if(SDCC_EXECUTABLE)
  set(GNARL_HAVE_SDCC ON)
endif()
set(GNARL_HAVE_MICROHTTPD ${MICROHTTPD_FOUND})
set(GNARL_HAVE_FFMPEG ${FFMPEG_FOUND})
set(GNARL_HAVE_JPEG ${JPEG_FOUND})
set(GNARL_HAVE_CMOCKA ${CMOCKA_FOUND})

foreach(_c MPI MGBA LIBRETRO SDCC MICROHTTPD FFMPEG JPEG CMOCKA)
  if(GNARL_HAVE_${_c})
    message(STATUS "gnarl: ${_c} found, enabled")
  else()
    message(STATUS "gnarl: ${_c} not found, its parts are switched off")
  endif()
endforeach()

find_library(DL_LIBRARY dl)
find_library(M_LIBRARY m)
