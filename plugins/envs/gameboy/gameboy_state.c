/*
 * gameboy_state.c - gnarl's own Game Boy state blobs: the env's checkpoint
 * state, the start-state files `gnarl gb peek --save-state` writes and
 * env.params.save_state reads, the boot cache and the run's copy of the
 * start state are all one format.
 *
 * Entry points: gnarl_gameboy_state_put_header / _check_header (the header,
 * with the messages that refuse another backend, cartridge or emulator
 * state size), gnarl_gameboy_state_write_file / _read_file (whole files,
 * written atomically), gnarl_gameboy_md5_hex.
 *
 * A blob (little-endian):
 *      0  "GBST" magic (u32 0x54534247)        4  version (2)
 *      8  n_envs                              12  header bytes (128)
 *     16  bytes of one emulator state (u64)
 *     24  backend name, 32 bytes NUL-padded (emu.h: struct gb_emu name)
 *     56  the cartridge's MD5, 32 hex digits
 *     88  its header title, 16 bytes NUL-padded
 *    104  reserved, zero
 *    128  per env: steps (u32), deaths (u32), frames since the episode
 *         started (u64), then the emulator's own state
 * Version 1 (checkpoints of gnarl before boot files and the libretro
 * backend) had a 24-byte header without backend or cartridge; its states
 * are libmgba's, without the cartridge RAM the libmgba backend now
 * appends, and still load as a checkpoint under libmgba.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gameboy.h"

#define MAGIC 0x54534247u /* "GBST" */
#define VERSION 2u
#define V1_HEADER 24
#define MAX_FILE (64u << 20)

int gnarl_gameboy_md5_hex(const void *data, size_t len, char hex[33])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, d, &n, EVP_md5(), NULL) || n != 16)
		return GNARL_EIO;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

size_t gnarl_gameboy_state_size(uint32_t n_envs, size_t emu_state)
{
	return GB_STATE_HEADER + (size_t)n_envs * (GB_ENV_HEADER + emu_state);
}

static void put_text(uint8_t *p, size_t width, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	memset(p, 0, width);
	memcpy(p, s, n < width ? n : width);
}

static void get_text(const uint8_t *p, size_t width, char *out)
{
	memcpy(out, p, width);
	out[width] = '\0';
}

void gnarl_gameboy_state_put_header(void *buf, const struct gb_state_id *id, uint32_t n_envs)
{
	uint8_t *p = buf;

	memset(p, 0, GB_STATE_HEADER);
	gnarl_put_u32(p, MAGIC);
	gnarl_put_u32(p + 4, VERSION);
	gnarl_put_u32(p + 8, n_envs);
	gnarl_put_u32(p + 12, GB_STATE_HEADER);
	gnarl_put_u64(p + 16, id->state_size);
	put_text(p + 24, 32, id->backend);
	put_text(p + 56, 32, id->rom_md5);
	put_text(p + 88, 16, id->rom_title);
}

bool gnarl_gameboy_state_is_blob(const void *buf, size_t size)
{
	return size >= 4 && gnarl_get_u32(buf) == MAGIC;
}

int gnarl_gameboy_state_check_header(const void *buf, size_t size, const struct gb_state_id *want,
                                     const char *what, uint32_t *n_envs, size_t *header,
                                     size_t *per_env, char err[GNARL_ERR_SIZE])
{
	const uint8_t *p = buf;
	char backend[33], md5[33], title[17];
	uint32_t version;
	uint64_t state, want_state = want->state_size;

	if (size < V1_HEADER || gnarl_get_u32(p) != MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "%s is not a gnarl Game Boy state (%zu bytes)", what,
		         size);
		return GNARL_ECORRUPT;
	}
	version = gnarl_get_u32(p + 4);
	*n_envs = gnarl_get_u32(p + 8);
	if (version == 1) {
		/* No cartridge recorded, and the backend was libmgba, whose state
		 * then ended before the cartridge RAM: the rest is the machine's. */
		state = gnarl_get_u64(p + 16);
		*header = V1_HEADER;
		if (strcmp(want->backend, "libmgba")) {
			snprintf(err, GNARL_ERR_SIZE, "%s was saved by the libmgba emulator backend (a "
			         "gnarl before the libretro one); this run uses %s: set "
			         "env.params.emulator to libmgba to continue it", what, want->backend);
			return GNARL_EINCOMPAT;
		}
		if (state < want->state_size)
			want_state = state;
	} else if (version == VERSION && size >= GB_STATE_HEADER &&
	           gnarl_get_u32(p + 12) == GB_STATE_HEADER) {
		state = gnarl_get_u64(p + 16);
		*header = GB_STATE_HEADER;
		get_text(p + 24, 32, backend);
		get_text(p + 56, 32, md5);
		get_text(p + 88, 16, title);
		if (strcmp(backend, want->backend)) {
			snprintf(err, GNARL_ERR_SIZE, "%s was saved by the %s emulator backend; this "
			         "run uses %s (set env.params.emulator to %s, or make the state again "
			         "on %s with gnarl gb peek --save-state)", what, backend, want->backend,
			         backend, want->backend);
			return GNARL_EINCOMPAT;
		}
		if (strcmp(md5, want->rom_md5)) {
			snprintf(err, GNARL_ERR_SIZE, "%s was saved on another cartridge (\"%s\", md5 %s); "
			         "this run's is \"%s\", md5 %s: use a state of this cartridge or set "
			         "env.params.rom to that one", what, title, md5, want->rom_title,
			         want->rom_md5);
			return GNARL_EINCOMPAT;
		}
	} else {
		snprintf(err, GNARL_ERR_SIZE, "%s is a gnarl Game Boy state of format %u; this gnarl "
		         "reads formats 1 and %u (a newer gnarl wrote it?)", what, version, VERSION);
		return GNARL_EVERSION;
	}
	if (state != want_state) {
		snprintf(err, GNARL_ERR_SIZE, "%s holds %llu-byte emulator states; %s makes %zu-byte "
		         "ones (another version of the emulator library, or another model?)", what,
		         (unsigned long long)state, want->backend, (size_t)want->state_size);
		return GNARL_EINCOMPAT;
	}
	if (size != *header + (size_t)*n_envs * (GB_ENV_HEADER + state)) {
		snprintf(err, GNARL_ERR_SIZE, "%s has %zu bytes; its header says %zu (truncated?)",
		         what, size, *header + (size_t)*n_envs * (GB_ENV_HEADER + (size_t)state));
		return GNARL_ECORRUPT;
	}
	*per_env = (size_t)state;
	return 0;
}

int gnarl_gameboy_state_read_file(const char *path, const char *what, void **out, size_t *size,
                                  char err[GNARL_ERR_SIZE])
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	void *buf = NULL;

	*out = NULL;
	if (!f) {
		snprintf(err, GNARL_ERR_SIZE, "%s: cannot open '%s': %s", what, path, strerror(errno));
		return GNARL_ENOENT;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE ||
	    !(buf = malloc(st.st_size ? (size_t)st.st_size : 1)) ||
	    fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(err, GNARL_ERR_SIZE, "%s: cannot read '%s' (%s)", what, path,
		         S_ISREG(st.st_mode) && st.st_size > (off_t)MAX_FILE ? "larger than 64 MiB"
		                                                              : "not a readable file");
		free(buf);
		fclose(f);
		return GNARL_EIO;
	}
	fclose(f);
	*out = buf;
	*size = (size_t)st.st_size;
	return 0;
}

int gnarl_gameboy_state_write_file(const char *path, const void *buf, size_t size,
                                   char err[GNARL_ERR_SIZE])
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	int fd, rc = 0;
	bool ok;

	if (!tmp) {
		snprintf(err, GNARL_ERR_SIZE, "out of memory");
		return GNARL_ENOMEM;
	}
	/* A temporary beside it, then rename: a reader never sees half. */
	snprintf(tmp, n, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, GNARL_ERR_SIZE, "cannot write '%s': %s", path, strerror(errno));
		free(tmp);
		return GNARL_EIO;
	}
	ok = write(fd, buf, size) == (ssize_t)size && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path)) {
		snprintf(err, GNARL_ERR_SIZE, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		rc = GNARL_EIO;
	}
	free(tmp);
	return rc;
}
