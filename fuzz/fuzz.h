/*
 * fuzz.h - what the fuzz targets (fuzz/fuzz_*.c) share.  Each target is
 * one libFuzzer entry, LLVMFuzzerTestOneInput, built two ways (see
 * fuzz/CMakeLists.txt): with clang's -fsanitize=fuzzer for campaigns, and
 * with fuzz/replay.c's main in every build so the suite replays the seed
 * corpus and every input that ever crashed (fuzz/regressions/<target>/).
 *
 * A target must be deterministic and leave nothing behind between inputs:
 * files go to fuzz_dir(), a directory of this process removed at exit.
 */
#ifndef GNARL_FUZZ_H
#define GNARL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A private scratch directory (created on first use, removed at exit). */
const char *fuzz_dir(void);

/* Write len bytes to path (replacing it); aborts on failure: a harness
 * that cannot write its own scratch file is broken, not the code under
 * test. */
void fuzz_write(const char *path, const void *data, size_t len);

/* Remove everything below dir (not dir itself). */
void fuzz_clear(const char *dir);

/* Split data at each occurrence of the line `sep` (e.g. "#--set"):
 * parts[i] / lens[i] for at most max parts; returns the count.  Parts are
 * borrowed views into data. */
size_t fuzz_split(const uint8_t *data, size_t size, const char *sep, const char **parts,
                  size_t *lens, size_t max);

/* A NUL-terminated copy of [p, p + n) (malloc'ed; aborts when out of memory). */
char *fuzz_strndup(const void *p, size_t n);

/* An oracle failed: print what and abort (libFuzzer keeps the input). */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond))                                                    \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);      \
	} while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#endif /* GNARL_FUZZ_H */
