/*
 * image.c - frames as PNG through libpng (see image.h).
 *
 * Entry points: gnarl_image_write_png (a file), gnarl_image_png (memory).
 * Both go through encode(), the one writer, with a sink that takes the
 * bytes.  libpng reports errors by longjmp: everything read after the
 * jump is volatile or set before the setjmp; a sink that fails says why
 * in its own struct, then calls png_error.
 */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct sink {
	FILE *f;                  /* a file, or else memory: */
	uint8_t *p;
	size_t len, cap;
	int rc;                   /* the sink's failure, 0 while none */
};

static void sink_write(png_structp png, png_bytep data, size_t n)
{
	struct sink *s = png_get_io_ptr(png);

	if (s->f) {
		if (fwrite(data, 1, n, s->f) != n) {
			s->rc = GNARL_EIO;
			png_error(png, "write failed");
		}
		return;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		uint8_t *p;

		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->p, cap);
		if (!p) {
			s->rc = GNARL_ENOMEM;
			png_error(png, "out of memory");
		}
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
}

static void sink_flush(png_structp png)
{
	struct sink *s = png_get_io_ptr(png);

	if (s->f && fflush(s->f) != 0) {
		s->rc = GNARL_EIO;
		png_error(png, "write failed");
	}
}

/* rgb as an 8-bit RGB PNG into s.  0 or a GNARL_E* code. */
static int encode(struct sink *s, const uint8_t *rgb, uint32_t width, uint32_t height)
{
	png_structp png = NULL;
	png_infop info = NULL;
	volatile int rc = GNARL_ENOMEM;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info)
		goto out;
	if (setjmp(png_jmpbuf(png))) {
		rc = s->rc ? s->rc : GNARL_EIO;
		goto out;
	}
	png_set_write_fn(png, s, sink_write, sink_flush);
	png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < height; y++)
		png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
	png_write_end(png, info);
	rc = 0;
out:
	png_destroy_write_struct(&png, &info);
	return rc;
}

int gnarl_image_write_png(const char *path, const uint8_t *rgb, uint32_t width,
                          uint32_t height, char err[GNARL_ERR_SIZE])
{
	struct sink s = {0};
	int rc;

	if (width == 0 || height == 0)
		return gnarl_err(err, GNARL_EINVAL, "%s: an image of %u x %u pixels has nothing to "
		                 "write", path, width, height);
	s.f = fopen(path, "wb");
	if (!s.f)
		return gnarl_err(err, GNARL_EIO, "cannot create '%s': %s", path, strerror(errno));
	rc = encode(&s, rgb, width, height);
	if (fclose(s.f) != 0 && !rc)
		rc = GNARL_EIO;
	if (rc == GNARL_ENOMEM)
		return gnarl_err(err, rc, "out of memory writing '%s'", path);
	return rc ? gnarl_err(err, rc, "cannot write '%s' (disk full or not writable?)", path)
	          : 0;
}

int gnarl_image_png(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **out,
                    size_t *len, char err[GNARL_ERR_SIZE])
{
	struct sink s = {0};
	int rc;

	*out = NULL;
	*len = 0;
	if (width == 0 || height == 0)
		return gnarl_err(err, GNARL_EINVAL, "an image of %u x %u pixels has nothing to "
		                 "encode", width, height);
	rc = encode(&s, rgb, width, height);
	if (rc) {
		free(s.p);
		return gnarl_err(err, rc, "encoding a %u x %u PNG: %s", width, height,
		                 gnarl_strerror(rc));
	}
	*out = s.p;
	*len = s.len;
	return 0;
}
