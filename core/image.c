/*
 * image.c - frames as PNG files through libpng (see image.h).
 *
 * Entry point: gnarl_image_write_png.  libpng reports errors by longjmp:
 * everything read after the jump is volatile or set before the setjmp.
 */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int gnarl_image_write_png(const char *path, const uint8_t *rgb, uint32_t width,
                          uint32_t height, char err[GNARL_ERR_SIZE])
{
	png_structp png = NULL;
	png_infop info = NULL;
	volatile int rc = GNARL_EIO;
	FILE *f;

	if (width == 0 || height == 0)
		return gnarl_err(err, GNARL_EINVAL, "%s: an image of %u x %u pixels has nothing to "
		                 "write", path, width, height);
	f = fopen(path, "wb");
	if (!f)
		return gnarl_err(err, GNARL_EIO, "cannot create '%s': %s", path, strerror(errno));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info || setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, f);
	png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < height; y++)
		png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
	png_write_end(png, info);
	rc = 0;
out:
	png_destroy_write_struct(&png, &info);
	if (fclose(f) != 0 && !rc)
		rc = GNARL_EIO;
	return rc ? gnarl_err(err, rc, "cannot write '%s' (disk full or not writable?)", path)
	          : 0;
}
