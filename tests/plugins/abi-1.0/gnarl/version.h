/*
 * gnarl/version.h - the version of gnarl this SDK belongs to.
 * The single source of truth: CMake reads the project version from here.
 */
#ifndef GNARL_VERSION_H
#define GNARL_VERSION_H

#define GNARL_VERSION_MAJOR 0
#define GNARL_VERSION_MINOR 1
#define GNARL_VERSION_PATCH 0
#define GNARL_VERSION "0.1.0"

#endif /* GNARL_VERSION_H */
