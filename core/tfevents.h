/*
 * tfevents.h - a TensorBoard event file built in memory: the records of
 * TFRecord framing (length, masked CRC32C, data, masked CRC32C) holding
 * Event protobufs encoded by hand.  The first record carries file_version
 * "brain.Event:2"; each later one a Summary of scalar values or of one
 * image (an encoded PNG or GIF: TensorBoard's IMAGES tab shows a GIF
 * animated, which is how episode videos reach it).  The caller
 * stores the bytes (metrics uploads the whole file through storage).
 */
#ifndef GNARL_TFEVENTS_H
#define GNARL_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli) of data[0..len): "123456789" -> 0xE3069283. */
uint32_t gnarl_tfevents_crc32c(const void *data, size_t len);
/* TFRecord's mask: ((c >> 15) | (c << 17)) + 0xa282ead8. */
uint32_t gnarl_tfevents_mask(uint32_t crc);

struct gnarl_tfevents;

/* A new event file whose first record (wall_time, file_version) is
 * written.  0 or GNARL_ENOMEM. */
int gnarl_tfevents_create(double wall_time, struct gnarl_tfevents **out);
void gnarl_tfevents_free(struct gnarl_tfevents *ev);  /* accepts NULL */

/* Append one Event at `step` whose Summary holds n simple values
 * (tags[i], values[i]); tags are copied into the record.  On failure
 * (GNARL_ENOMEM) nothing is appended. */
int gnarl_tfevents_add_scalars(struct gnarl_tfevents *ev, double wall_time, int64_t step,
                               const char *const *tags, const float *values, size_t n);

/* Append one Event at `step` whose Summary holds one image value: `tag`,
 * height, width, colorspace (3 RGB, 4 RGBA) and the encoded file bytes
 * (PNG, GIF; copied).  GNARL_ENOMEM appends nothing. */
int gnarl_tfevents_add_image(struct gnarl_tfevents *ev, double wall_time, int64_t step,
                             const char *tag, uint32_t width, uint32_t height,
                             uint32_t colorspace, const void *data, size_t len);

/* The file's bytes so far (borrowed: valid until the next add or free). */
const void *gnarl_tfevents_data(const struct gnarl_tfevents *ev, size_t *len);

/* "events.out.tfevents.<10-digit unix time>.<hostname>" into buf (size
 * bytes).  Returns the length, or GNARL_EINVAL if it does not fit. */
int gnarl_tfevents_filename(char *buf, size_t size, int64_t unix_time, const char *hostname);

#endif /* GNARL_TFEVENTS_H */
