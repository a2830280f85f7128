/*
 * hash.h - SHA-256 of a buffer as lowercase hex, the checksum checkpoints
 * record for each file they hold (OpenSSL libcrypto, EVP interface).
 */
#ifndef GNARL_HASH_H
#define GNARL_HASH_H

#include <stddef.h>

#include <gnarl/plugin.h>

/* Hex digits of a SHA-256 plus the terminating NUL. */
#define GNARL_HASH_SHA256_HEX 65

/* Write the SHA-256 of data[0..len) as 64 lowercase hex digits and a NUL
 * into hex.  data may be NULL when len is 0.  0, or GNARL_EIO if libcrypto
 * fails (message in err). */
int gnarl_hash_sha256_hex(const void *data, size_t len, char hex[GNARL_HASH_SHA256_HEX],
                          char err[GNARL_ERR_SIZE]);

#endif /* GNARL_HASH_H */
