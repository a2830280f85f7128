/*
 * hash.c - gnarl_hash_sha256_hex() through OpenSSL's EVP digest interface
 * (which picks the CPU's SHA extensions when present).  No state is kept
 * between calls.
 */
#include "hash.h"

#include <openssl/evp.h>

#include "error.h"

int gnarl_hash_sha256_hex(const void *data, size_t len, char hex[GNARL_HASH_SHA256_HEX],
                          char err[GNARL_ERR_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return gnarl_err(err, GNARL_ENOMEM, "sha256: out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, data ? data : "", len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return gnarl_err(err, GNARL_EIO, "sha256: libcrypto digest failed");
	for (unsigned int i = 0; i < md_len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}
