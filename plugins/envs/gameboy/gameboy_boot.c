/*
 * gameboy_boot.c - boot files: how a game gets from power-on to the episode
 * start, as plain text the env replays on any emulator backend (the
 * emulator is deterministic, so the same file and ROM give the same state).
 *
 * Entry points: gnarl_gameboy_boot_parse (create time: every error names
 * the file and line), gnarl_gameboy_boot_rom_ok (is the ROM the one the
 * file was written for), gnarl_gameboy_boot_run (the replay: a condition
 * that does not hold in time stops it with the line, what was awaited and
 * what RAM held), gnarl_gameboy_boot_free.
 *
 * The format, one statement per line, '#' starts a comment:
 *
 *     gnarl-boot 1                        first statement: the format version
 *     rom "ZELDA DIN" md5 d109f9... f2dc6c...
 *                                         optional: the cartridges the file is
 *                                         for (title as in the header at $134,
 *                                         then any number of MD5s of the image)
 *     wait 6000                           run 6000 frames, no button held
 *     press START 8                       hold START for 8 frames (A+UP: both)
 *     until $CC4C == $97 within 3000      run frames, no button held, until the
 *                                         condition holds (checked after every
 *                                         frame); not within 3000 frames: error
 *     until $D00D >= 80 within 300 holding RIGHT
 *     until $CBA0 == 0 within 900 tapping A
 *                                         while waiting, hold RIGHT; or press A
 *                                         for 8 frames, release it for 8, again
 *
 * Conditions: `ADDRESS OP VALUE`, joined by `and`; ADDRESS a work-RAM byte
 * ($C000-$DFFF; $D000-$DFFF reads WRAM bank 1, as the RAM map does), OP one
 * of == != < <= > >=, `ADDRESS & MASK OP VALUE` tests bits.  Numbers are
 * decimal, $hex or 0xhex.  Buttons: A B SELECT START RIGHT LEFT UP DOWN
 * (any case), joined by '+'.
 *
 * Invariants: a parsed file is immutable; replaying it only calls the
 * emulator's ops (emu.h), so it works on every backend.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "gameboy.h"

#define BOOT_VERSION 1
#define MAX_CONDS 4
#define MAX_MD5 8
#define TAP_FRAMES 8            /* tapping: pressed 8 frames, released 8 */
#define MAX_FRAMES 10000000L    /* any one statement */
#define MAX_FILE (1 << 20)

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum kind { S_WAIT, S_PRESS, S_UNTIL };
enum during { D_NONE, D_HOLDING, D_TAPPING };

struct cond {
	uint16_t address, offset;   /* CPU address; offset into the WRAM image */
	uint8_t mask, value;
	enum op op;
};

struct stmt {
	enum kind kind;
	int line;
	long frames;                /* wait/press: length; until: the timeout */
	uint32_t keys;              /* press: held; until: held or tapped */
	enum during during;
	int n_conds;
	struct cond cond[MAX_CONDS];
	char text[96];              /* the statement as written, for messages */
};

struct gnarl_gameboy_boot {
	char *path;                 /* owned, for messages */
	char text_md5[33];          /* of the file's text */
	char title[17];             /* from `rom`; "" when absent */
	int n_md5;
	char md5[MAX_MD5][33];
	int n;
	struct stmt *stmts;         /* owned, n of them */
	long total_frames;          /* the longest replay (timeouts count whole) */
};

static const struct {
	const char *name;
	uint32_t key;
} buttons[] = {
	{"A", GB_KEY_A},         {"B", GB_KEY_B},       {"SELECT", GB_KEY_SELECT},
	{"START", GB_KEY_START}, {"RIGHT", GB_KEY_RIGHT}, {"LEFT", GB_KEY_LEFT},
	{"UP", GB_KEY_UP},       {"DOWN", GB_KEY_DOWN},
};

int gnarl_gameboy_buttons(const char *s, uint32_t *keys, char *bad, size_t size)
{
	char buf[96];
	char *save = NULL, *name;

	*keys = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (name = strtok_r(buf, "+", &save); name; name = strtok_r(NULL, "+", &save)) {
		size_t k;

		for (k = 0; k < sizeof(buttons) / sizeof(buttons[0]); k++)
			if (!strcasecmp(buttons[k].name, name))
				break;
		if (k == sizeof(buttons) / sizeof(buttons[0])) {
			snprintf(bad, size, "%s", name);
			return -1;
		}
		*keys |= buttons[k].key;
	}
	if (!*keys) {
		snprintf(bad, size, "%s", s);
		return -1;
	}
	return 0;
}

static const char *const op_names[] = {"==", "!=", "<", "<=", ">", ">="};

/* ------------------------------------------------------------------------ */
/* Parsing.                                                                 */

struct parser {
	const char *path;
	int line;
	char *tok[24];              /* the current line's words */
	int n_tok;
	char err[GNARL_ERR_SIZE];
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[GNARL_ERR_SIZE / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "boot file %s line %d: %s", p->path, p->line, msg);
	return GNARL_ECONFIG;
}

/* Split line (modified in place) into words; a "quoted string" is one. */
static int split(struct parser *p, char *line)
{
	char *s = line;

	p->n_tok = 0;
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			return 0;
		if (p->n_tok == (int)(sizeof(p->tok) / sizeof(p->tok[0])))
			return perr(p, "too many words on one line");
		if (*s == '"') {
			char *end = strchr(s + 1, '"');

			if (!end)
				return perr(p, "a quoted string is not closed");
			p->tok[p->n_tok++] = s + 1;
			*end = '\0';
			s = end + 1;
			continue;
		}
		p->tok[p->n_tok++] = s;
		while (*s && !isspace((unsigned char)*s) && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			return 0;
		}
		if (*s)
			*s++ = '\0';
	}
}

static int number(struct parser *p, const char *s, long lo, long hi, const char *what,
                  long *out)
{
	const char *digits = s;
	int base = 10;
	char *end;
	long v;

	if (s[0] == '$') {
		digits = s + 1;
		base = 16;
	} else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = s + 2;
		base = 16;
	}
	errno = 0;
	v = *digits && *digits != '-' && *digits != '+' ? strtol(digits, &end, base) : 0;
	if (!*digits || *digits == '-' || *digits == '+' || *end || errno)
		return perr(p, "%s: '%s' is not a number (decimal, $hex or 0xhex)", what, s);
	if (v < lo || v > hi)
		return perr(p, "%s: %ld is out of range (%ld..%ld)", what, v, lo, hi);
	*out = v;
	return 0;
}

static int parse_buttons(struct parser *p, const char *s, uint32_t *out)
{
	char bad[64];

	if (gnarl_gameboy_buttons(s, out, bad, sizeof(bad)))
		return perr(p, "unknown button '%s' (buttons: A B SELECT START RIGHT LEFT UP DOWN, "
		            "joined by '+')", bad);
	return 0;
}

/* A work-RAM address as an offset into the 32 KiB image (bank 1 for
 * $D000-$DFFF, as SVBK 0 and 1 show it). */
static int parse_address(struct parser *p, const char *s, struct cond *c)
{
	long a;
	int rc = number(p, s, 0xC000, 0xDFFF, "address (work RAM, $C000-$DFFF)", &a);

	if (rc)
		return rc;
	c->address = (uint16_t)a;
	c->offset = (uint16_t)(a < 0xD000 ? a - 0xC000 : 0x1000 + (a - 0xD000));
	return 0;
}

/* tok[*at..]: ADDRESS [& MASK] OP VALUE [and ...]; stops at `within`. */
static int parse_conds(struct parser *p, int *at, struct stmt *st)
{
	for (;;) {
		struct cond *c;
		long v;
		int rc, o;

		if (st->n_conds == MAX_CONDS)
			return perr(p, "at most %d conditions joined by 'and'", MAX_CONDS);
		c = &st->cond[st->n_conds++];
		c->mask = 0xFF;
		if (*at >= p->n_tok)
			return perr(p, "'until' wants a condition such as $CC4C == $97");
		if ((rc = parse_address(p, p->tok[(*at)++], c)))
			return rc;
		if (*at + 1 < p->n_tok && !strcmp(p->tok[*at], "&")) {
			if ((rc = number(p, p->tok[*at + 1], 0, 255, "mask", &v)))
				return rc;
			c->mask = (uint8_t)v;
			*at += 2;
		}
		if (*at + 1 >= p->n_tok)
			return perr(p, "a condition wants ADDRESS OP VALUE (such as $CC4C == $97)");
		for (o = 0; o < 6 && strcmp(op_names[o], p->tok[*at]); o++)
			;
		if (o == 6)
			return perr(p, "'%s' is not a comparison (== != < <= > >=)", p->tok[*at]);
		c->op = (enum op)o;
		if ((rc = number(p, p->tok[*at + 1], 0, 255, "value (one byte)", &v)))
			return rc;
		c->value = (uint8_t)v;
		*at += 2;
		if (*at < p->n_tok && !strcmp(p->tok[*at], "and")) {
			(*at)++;
			continue;
		}
		return 0;
	}
}

static int parse_rom(struct parser *p, struct gnarl_gameboy_boot *b)
{
	int at = 1;

	if (at < p->n_tok && strcmp(p->tok[at], "md5")) {
		if (strlen(p->tok[at]) > 16)
			return perr(p, "rom: the title '%s' is longer than a header's 16 bytes",
			            p->tok[at]);
		snprintf(b->title, sizeof(b->title), "%s", p->tok[at++]);
	}
	if (at < p->n_tok && !strcmp(p->tok[at], "md5"))
		for (at++; at < p->n_tok; at++) {
			const char *h = p->tok[at];

			if (strlen(h) != 32 || strspn(h, "0123456789abcdefABCDEF") != 32)
				return perr(p, "rom: '%s' is not an MD5 (32 hex digits)", h);
			if (b->n_md5 == MAX_MD5)
				return perr(p, "rom: at most %d MD5s", MAX_MD5);
			for (int k = 0; k < 32; k++)
				b->md5[b->n_md5][k] = (char)tolower((unsigned char)h[k]);
			b->md5[b->n_md5++][32] = '\0';
		}
	if (at != p->n_tok || (!b->title[0] && !b->n_md5))
		return perr(p, "rom wants \"TITLE\" and/or md5 HEX... (rom \"ZELDA DIN\" md5 "
		            "d109f98637a19c57af16c5e5396a8d51)");
	return 0;
}

/* One statement of p's current line into st. */
static int parse_stmt(struct parser *p, struct stmt *st)
{
	const char *verb = p->tok[0];
	int at = 1, rc;

	memset(st, 0, sizeof(*st));
	st->line = p->line;
	if (!strcmp(verb, "wait") || !strcmp(verb, "press")) {
		bool press = verb[0] == 'p';

		st->kind = press ? S_PRESS : S_WAIT;
		if (p->n_tok != (press ? 3 : 2))
			return perr(p, press ? "press wants BUTTONS FRAMES (press START 8)"
			                     : "wait wants FRAMES (wait 600)");
		if (press && (rc = parse_buttons(p, p->tok[at++], &st->keys)))
			return rc;
		return number(p, p->tok[at], 1, MAX_FRAMES, "frames", &st->frames);
	}
	if (strcmp(verb, "until"))
		return perr(p, "unknown statement '%s' (gnarl-boot, rom, wait, press, until)", verb);
	st->kind = S_UNTIL;
	if ((rc = parse_conds(p, &at, st)))
		return rc;
	if (at + 1 >= p->n_tok || strcmp(p->tok[at], "within"))
		return perr(p, "until wants 'within FRAMES' after its conditions (a timeout: "
		            "until $CC4C == $97 within 3000)");
	if ((rc = number(p, p->tok[at + 1], 1, MAX_FRAMES, "within", &st->frames)))
		return rc;
	at += 2;
	if (at < p->n_tok) {
		if (at + 2 != p->n_tok ||
		    (strcmp(p->tok[at], "holding") && strcmp(p->tok[at], "tapping")))
			return perr(p, "after 'within FRAMES' comes nothing, 'holding BUTTONS' or "
			            "'tapping BUTTONS'");
		st->during = p->tok[at][0] == 'h' ? D_HOLDING : D_TAPPING;
		return parse_buttons(p, p->tok[at + 1], &st->keys);
	}
	return 0;
}

/* Keep the statement's words for messages. */
static void keep_text(const struct parser *p, struct stmt *st)
{
	size_t n = 0;

	for (int k = 0; k < p->n_tok && n + 2 < sizeof(st->text); k++)
		n += (size_t)snprintf(st->text + n, sizeof(st->text) - n, "%s%s", k ? " " : "",
		                      p->tok[k]);
}

static int parse_lines(struct parser *p, char *text, struct gnarl_gameboy_boot *b)
{
	bool versioned = false;
	size_t cap = 0;
	char *save = NULL, *line;
	int rc;

	/* strtok_r would merge empty lines and lose the count: split by hand. */
	for (line = text; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		p->line++;
		if ((rc = split(p, line)))
			return rc;
		if (!p->n_tok)
			continue;
		if (!versioned) {
			long v;

			if (strcmp(p->tok[0], "gnarl-boot") || p->n_tok != 2)
				return perr(p, "a boot file starts with 'gnarl-boot %d' (its format "
				            "version)", BOOT_VERSION);
			if ((rc = number(p, p->tok[1], 0, 1000000, "version", &v)))
				return rc;
			if (v != BOOT_VERSION)
				return perr(p, "format version %ld; this gnarl reads version %d",
				            v, BOOT_VERSION);
			versioned = true;
			continue;
		}
		if (!strcmp(p->tok[0], "rom")) {
			if ((rc = parse_rom(p, b)))
				return rc;
			continue;
		}
		if ((size_t)b->n == cap) {
			struct stmt *grown;

			cap = cap ? 2 * cap : 64;
			grown = realloc(b->stmts, cap * sizeof(*grown));
			if (!grown)
				return perr(p, "out of memory");
			b->stmts = grown;
		}
		if ((rc = parse_stmt(p, &b->stmts[b->n])))
			return rc;
		keep_text(p, &b->stmts[b->n]);
		b->total_frames += b->stmts[b->n].frames;
		b->n++;
	}
	if (!versioned)
		return perr(p, "the file is empty: a boot file starts with 'gnarl-boot %d'",
		            BOOT_VERSION);
	return 0;
}

int gnarl_gameboy_boot_parse(const char *path, const char *text, size_t len,
                             struct gnarl_gameboy_boot **out, char err[GNARL_ERR_SIZE])
{
	struct parser p = {.path = path};
	struct gnarl_gameboy_boot *b = calloc(1, sizeof(*b));
	char *copy = malloc(len + 1);
	int rc = 0;

	*out = NULL;
	if (!b || !copy || !(b->path = strdup(path))) {
		snprintf(err, GNARL_ERR_SIZE, "out of memory for boot file %s", path);
		rc = GNARL_ENOMEM;
		goto done;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (gnarl_gameboy_md5_hex(text, len, b->text_md5)) {
		snprintf(p.err, sizeof(p.err), "boot file %s: libcrypto cannot compute an MD5", path);
		rc = GNARL_EIO;
	} else if (strlen(copy) != len) {
		p.line = 1;
		rc = perr(&p, "holds a NUL byte: not a text file");
	} else {
		rc = parse_lines(&p, copy, b);
	}
	if (rc)
		snprintf(err, GNARL_ERR_SIZE, "%s", p.err);
done:
	free(copy);
	if (rc)
		gnarl_gameboy_boot_free(b);
	else
		*out = b;
	return rc;
}

int gnarl_gameboy_boot_load(const char *path, const char *param,
                            struct gnarl_gameboy_boot **out, char err[GNARL_ERR_SIZE])
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n = 0;
	int rc;

	*out = NULL;
	if (!f) {
		snprintf(err, GNARL_ERR_SIZE, "%s: cannot open boot file '%s': %s (a relative "
		         "path is relative to the config's directory)", param, path,
		         strerror(errno));
		return GNARL_ENOENT;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > MAX_FILE || fseek(f, 0, SEEK_SET) ||
	    !(text = malloc((size_t)n + 1)) || fread(text, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, GNARL_ERR_SIZE, "%s: cannot read boot file '%s' (%s)", param, path,
		         n > MAX_FILE ? "larger than 1 MiB" : "read error");
		free(text);
		fclose(f);
		return GNARL_EIO;
	}
	fclose(f);
	rc = gnarl_gameboy_boot_parse(path, text, (size_t)n, out, err);
	free(text);
	return rc;
}

void gnarl_gameboy_boot_free(struct gnarl_gameboy_boot *b)
{
	if (!b)
		return;
	free(b->stmts);
	free(b->path);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* The cartridge the file is for.                                           */

bool gnarl_gameboy_boot_rom_ok(const struct gnarl_gameboy_boot *b, const struct gb_rom *rom,
                               char *what, size_t size)
{
	bool ok = !b->title[0] || !strcmp(b->title, rom->title);

	if (ok && b->n_md5) {
		ok = false;
		for (int k = 0; k < b->n_md5 && !ok; k++)
			ok = !strcmp(b->md5[k], rom->md5);
	}
	if (!ok) {
		size_t n = (size_t)snprintf(what, size, "%s%s%s", b->title[0] ? "\"" : "",
		                            b->title, b->title[0] ? "\"" : "");
		for (int k = 0; k < b->n_md5 && n < size; k++)
			n += (size_t)snprintf(what + n, size - n, "%smd5 %s", n ? (k ? " or " : ", ")
			                                                         : "", b->md5[k]);
	}
	return ok;
}

/* ------------------------------------------------------------------------ */
/* Replaying.                                                               */

static bool holds(const struct cond *c, const uint8_t *wram)
{
	uint8_t v = wram[c->offset] & c->mask;

	switch (c->op) {
	case OP_EQ: return v == c->value;
	case OP_NE: return v != c->value;
	case OP_LT: return v < c->value;
	case OP_LE: return v <= c->value;
	case OP_GT: return v > c->value;
	case OP_GE: return v >= c->value;
	}
	return false;
}

static bool all_hold(const struct stmt *st, const uint8_t *wram)
{
	for (int k = 0; k < st->n_conds; k++)
		if (!holds(&st->cond[k], wram))
			return false;
	return true;
}

static int timed_out(const struct gnarl_gameboy_boot *b, const struct stmt *st,
                     const uint8_t *wram, long done, char err[GNARL_ERR_SIZE])
{
	char seen[160] = "";
	size_t n = 0;

	for (int k = 0; k < st->n_conds && n < sizeof(seen); k++)
		n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s$%04X held $%02X",
		                      k ? ", " : "", st->cond[k].address, wram[st->cond[k].offset]);
	snprintf(err, GNARL_ERR_SIZE, "boot file %s line %d: '%s' did not hold within %ld "
	         "frames (%s, %ld frames after power-on): the game is not where this boot "
	         "file expects it (another ROM, or an earlier line that went wrong: gnarl gb "
	         "peek --set env.params.boot_stop=%d --png FILE shows the screen before "
	         "this line)", b->path, st->line, st->text, st->frames, seen, done, st->line);
	return GNARL_ECONFIG;
}

/* Keys of frame f of an until statement. */
static uint32_t until_keys(const struct stmt *st, long f)
{
	if (st->during == D_HOLDING)
		return st->keys;
	if (st->during == D_TAPPING)
		return (f / TAP_FRAMES) % 2 == 0 ? st->keys : 0;
	return 0;
}

int gnarl_gameboy_boot_run(const struct gnarl_gameboy_boot *b, struct gb_emu *e, int stop_line,
                           gnarl_gameboy_boot_frame_fn on_frame, void *ctx, long *frames,
                           char err[GNARL_ERR_SIZE])
{
	const struct gb_emu_ops *op = e->ops;
	long done = 0;

	for (int s = 0; s < b->n; s++) {
		const struct stmt *st = &b->stmts[s];
		bool met = false;

		if (stop_line > 0 && st->line >= stop_line)
			break;
		for (long f = 0; f < st->frames && !met; f++) {
			op->set_keys(e, st->kind == S_PRESS ? st->keys
			                : st->kind == S_UNTIL ? until_keys(st, f) : 0);
			op->run_frame(e, false);
			done++;
			if (on_frame)
				on_frame(ctx, done, st->line);
			met = st->kind == S_UNTIL && all_hold(st, op->wram(e));
		}
		if (st->kind == S_UNTIL && !met) {
			op->set_keys(e, 0);
			*frames = done;
			return timed_out(b, st, op->wram(e), done, err);
		}
	}
	op->set_keys(e, 0);
	*frames = done;
	return 0;
}

const char *gnarl_gameboy_boot_md5(const struct gnarl_gameboy_boot *b)
{
	return b->text_md5;
}
