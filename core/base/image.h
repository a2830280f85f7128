/*
 * image.h - writing frames as PNG: the one PNG writer of the core, to a
 * file (gnarl gb peek --png, gnarl eval --frames, tests that save frames
 * for a person to look at) or to memory (the web HUD's /frame.png).
 */
#ifndef GNARL_IMAGE_H
#define GNARL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

/* Write rgb (height rows of width pixels, 3 bytes each, top to bottom, no
 * padding; borrowed) to `path` as an 8-bit RGB PNG, replacing the file.
 * 0, GNARL_EINVAL for a zero size, or GNARL_EIO with a message naming the
 * path and the reason. */
int gnarl_image_write_png(const char *path, const uint8_t *rgb, uint32_t width,
                          uint32_t height, char err[GNARL_ERR_SIZE]);

/* The same PNG in memory: *out (owned by the caller, free()) holds *len
 * bytes.  0, GNARL_EINVAL for a zero size, GNARL_ENOMEM. */
int gnarl_image_png(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **out,
                    size_t *len, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_IMAGE_H */
