/*
 * llm_image.h - the vision plugin's picture: the env's 160x144 RGB frame,
 * scaled by nearest neighbour, encoded as PNG (libpng) or JPEG (libjpeg),
 * as a base64 `data:` URL.  Runs on the plugin's worker thread only.
 */
#ifndef GNARL_LLM_IMAGE_H
#define GNARL_LLM_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "llm_buf.h"

enum gnarl_llm_image_format {
	GNARL_LLM_IMAGE_PNG = 0,
	GNARL_LLM_IMAGE_JPEG = 1,
};

/* Whether this build can write `format` (JPEG needs libjpeg at build time). */
bool gnarl_llm_image_supported(enum gnarl_llm_image_format format);

/* Output size of a frame scaled by `scale`: round(160*scale) x round(144*scale),
 * at least 1x1. */
void gnarl_llm_image_size(double scale, uint32_t *w, uint32_t *h);

/* Nearest-neighbour scale of a GNARL_FRAME_WIDTH x GNARL_FRAME_HEIGHT RGB
 * frame into out (w*h*3 bytes): output pixel (x, y) takes source pixel
 * (((2x+1)*160)/(2w), ((2y+1)*144)/(2h)), the source pixel under its centre. */
void gnarl_llm_image_scale(const uint8_t *frame, uint32_t w, uint32_t h, uint8_t *out);

/* Encode rgb (w*h*3, rows top to bottom) and append a data URL
 * ("data:image/png;base64,...") to out.  quality (1..100) is for JPEG.
 * 0, or -1 with a message in err (err_size bytes). */
int gnarl_llm_image_data_url(enum gnarl_llm_image_format format, const uint8_t *rgb,
                             uint32_t w, uint32_t h, int quality, struct gnarl_llm_buf *out,
                             char *err, size_t err_size);

/* Append the standard base64 (RFC 4648, padded) of data to out.  0 or -1. */
int gnarl_llm_base64(const uint8_t *data, size_t len, struct gnarl_llm_buf *out);

#endif /* GNARL_LLM_IMAGE_H */
