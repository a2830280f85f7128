/*
 * fuzz.c - the helpers of fuzz.h: a scratch directory per process,
 * whole-file writes, splitting an input into parts, the oracle's abort.
 */
#define _GNU_SOURCE /* mkdtemp, memmem */
#include "fuzz.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];

static void remove_tree(const char *dir, int keep_top)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(path, 0);
		else
			unlink(path);
	}
	closedir(d);
	if (!keep_top)
		rmdir(dir);
}

static void remove_scratch(void)
{
	if (scratch[0])
		remove_tree(scratch, 0);
}

const char *fuzz_dir(void)
{
	if (!scratch[0]) {
		/* /dev/shm when there is one: inputs are written there at
		 * every execution, so a disk would slow the fuzzer. */
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(scratch, sizeof(scratch), "%s/gnarl-fuzz-XXXXXX", base);
		if (!mkdtemp(scratch)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(remove_scratch);
	}
	return scratch;
}

void fuzz_clear(const char *dir)
{
	remove_tree(dir, 1);
}

void fuzz_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

size_t fuzz_split(const uint8_t *data, size_t size, const char *sep, const char **parts,
                  size_t *lens, size_t max)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0, sl = strlen(sep);

	while (n + 1 < max) {
		/* sep must stand on a line of its own. */
		const char *q = p;

		for (;;) {
			q = memmem(q, (size_t)(end - q), sep, sl);
			if (!q)
				break;
			if ((q == (const char *)data || q[-1] == '\n') &&
			    (q + sl == end || q[sl] == '\n'))
				break;
			q++;
		}
		if (!q)
			break;
		parts[n] = p;
		lens[n++] = (size_t)(q - p);
		p = q + sl < end ? q + sl + 1 : end;
	}
	parts[n] = p;
	lens[n++] = (size_t)(end - p);
	return n;
}

char *fuzz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: oracle failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
