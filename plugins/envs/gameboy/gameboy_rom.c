/*
 * gameboy_rom.c - what cartridge the user gave: its header (title, colour
 * flag, header checksum) and the MD5 of the whole image, which names a
 * cartridge gnarl knows (Oracle of Seasons, US) and keys the boot cache and
 * gnarl state files.
 *
 * Entry points: gnarl_gameboy_rom_read (create time), gnarl_gameboy_rom_model_ok.
 *
 * Known cartridges: Oracle of Seasons (US) as sold (md5 f2dc6c4e...) and as
 * built from the public disassembly (md5 d109f986...), which differ only in
 * the filler bytes of unused ROM space; both carry the title "ZELDA DIN"
 * and the colour-only flag $C0 at $143.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gameboy.h"

#define MAX_ROM_SIZE (8u << 20)

static const struct {
	const char *md5, *name;
} known[] = {
	{"f2dc6c4e093e4f8c6cbea80e8dbd62cb", "The Legend of Zelda: Oracle of Seasons (US)"},
	{"d109f98637a19c57af16c5e5396a8d51",
	 "The Legend of Zelda: Oracle of Seasons (US, built from the disassembly)"},
};

#define fail gnarl_gameboy_fail

/* Header fields of image (at least 0x150 bytes) into out; the header
 * checksum at $14D, which the console's boot ROM checks and an emulator
 * skipping it does not. */
static int read_header(const char *path, const uint8_t *h, struct gb_rom *out,
                       char err[GNARL_ERR_SIZE])
{
	uint8_t sum = 0;
	int n = 0;

	for (int i = 0x134; i <= 0x14C; i++)
		sum = (uint8_t)(sum - h[i] - 1);
	if (sum != h[0x14D])
		return fail(err, GNARL_ECONFIG, "params.rom: '%s' is not a Game Boy ROM image "
		            "(header checksum at 0x14D is 0x%02X, the header sums to 0x%02X)",
		            path, h[0x14D], sum);
	out->cgb = h[0x143];
	/* The title: 16 bytes on old cartridges, 11-15 when a colour flag or a
	 * maker code follows; printable characters up to the first NUL. */
	for (int i = 0; i < (out->cgb & 0x80 ? 15 : 16); i++) {
		uint8_t c = h[0x134 + i];

		if (c < 0x20 || c > 0x7E)
			break;
		out->title[n++] = (char)c;
	}
	out->title[n] = '\0';
	return 0;
}

int gnarl_gameboy_rom_read(const char *path, struct gb_rom *out, char err[GNARL_ERR_SIZE])
{
	struct stat st;
	uint8_t *image;
	FILE *f;
	int rc;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return fail(err, GNARL_ENOENT, "params.rom: cannot open '%s': %s (gnarl ships "
		            "no ROM: point params.rom, or GNARL_OOS_ROM for Oracle of Seasons, at "
		            "your own cartridge image; a relative path is relative to the "
		            "config's directory)", path, errno ? strerror(errno) : "not a regular file");
	if (st.st_size < 0x150 || (uint64_t)st.st_size > MAX_ROM_SIZE)
		return fail(err, GNARL_ECONFIG, "params.rom: '%s' is %lld bytes: not a Game Boy ROM "
		            "(0x150 bytes to 8 MiB)", path, (long long)st.st_size);
	image = malloc((size_t)st.st_size);
	f = fopen(path, "rb");
	if (!image || !f || fread(image, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		rc = fail(err, image ? GNARL_EIO : GNARL_ENOMEM, "params.rom: cannot read '%s'%s",
		          path, image ? "" : ": out of memory");
		goto done;
	}
	if ((rc = read_header(path, image, out, err)))
		goto done;
	out->size = (uint64_t)st.st_size;
	if (gnarl_gameboy_md5_hex(image, (size_t)st.st_size, out->md5)) {
		rc = fail(err, GNARL_EIO, "params.rom: libcrypto cannot compute an MD5");
		goto done;
	}
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (!strcmp(known[k].md5, out->md5))
			out->known = known[k].name;
done:
	if (f)
		fclose(f);
	free(image);
	return rc;
}

bool gnarl_gameboy_rom_colour_only(const struct gb_rom *rom)
{
	return rom->cgb == 0xC0;
}
