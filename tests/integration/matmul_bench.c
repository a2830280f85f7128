/*
 * matmul_bench.c - the learner's three products (core/base/matmul.h) at the
 * shapes of PPO networks on every kernel there is: gnarl's tiled kernel,
 * OpenBLAS on 1 thread, and libxsmm when the build found it (Debian's
 * libxsmm-dev; optional).  Prints GFLOP/s of one call, best of --rounds
 * rounds, and checks that all kernels agree (exit 1 if not).
 *
 *   build/tests/matmul_bench [--rounds N]
 *
 * libxsmm is column-major: x W is its plain kernel (C^T = W^T x^T) and
 * x^T dy its B-transposed one (dW^T column-major is dW row-major); dy W^T
 * needs a transposed A, which libxsmm
 * 1.17 does not generate, so it is timed on W^T transposed first
 * (gnarl_matmul_transpose, included in the time), as gnarl's kernel does.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GNARL_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

#include "matmul.h"

struct shape {
	const char *what;
	unsigned B, in, out;
};

static const struct shape shapes[] = {
    {"CartPole act", 4, 64, 64},      {"CartPole", 128, 7, 64},
    {"CartPole", 128, 64, 64},        {"CartPole head", 128, 64, 2},
    {"Zelda act", 16, 256, 256},      {"Zelda", 512, 212, 256},
    {"Zelda", 512, 256, 256},         {"Zelda head", 512, 256, 7},
};

enum { TILED, BLAS, XSMM, KERNELS };
static const char *const kernel_names[KERNELS] = {"tiled", "openblas", "libxsmm"};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct bufs {
	float *x, *w, *dy, *c, *scratch;
};

#ifdef GNARL_HAVE_LIBXSMM
/* The libxsmm kernel of op, or NULL (no JIT kernel for it). */
static libxsmm_smmfunction xsmm_kernel(enum gnarl_matmul_op op, const struct shape *s)
{
	float one = 1.0f, zero = 0.0f;
	int flags = LIBXSMM_GEMM_FLAG_BETA_0, pf = LIBXSMM_PREFETCH_NONE;
	libxsmm_blasint m, n, k, lda, ldb, ldc;

	switch (op) {
	case GNARL_MATMUL_FORWARD: /* y^T (out, B) = W^T (out, in) x^T (in, B) */
		m = s->out, n = s->B, k = s->in, lda = s->out, ldb = s->in, ldc = s->out;
		break;
	case GNARL_MATMUL_WEIGHT_GRAD: /* dW^T (out, in) = dy^T (out, B) x (B, in) */
		m = s->out, n = s->in, k = s->B, lda = s->out, ldb = s->in, ldc = s->out;
		flags |= LIBXSMM_GEMM_FLAG_TRANS_B;
		break;
	default: /* dx^T (in, B) = W (in, out) dy^T (out, B), W from W^T */
		m = s->in, n = s->B, k = s->out, lda = s->in, ldb = s->out, ldc = s->in;
		break;
	}
	return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &one, &zero, &flags, &pf);
}

/* Whether libxsmm generates dy W^T with a transposed A directly. */
static int xsmm_has_trans_a(const struct shape *s)
{
	float one = 1.0f, zero = 0.0f;
	int flags = LIBXSMM_GEMM_FLAG_BETA_0 | LIBXSMM_GEMM_FLAG_TRANS_A;
	int pf = LIBXSMM_PREFETCH_NONE;
	libxsmm_blasint m = s->in, n = s->B, k = s->out, lda = s->out, ldb = s->out, ldc = s->in;

	return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &one, &zero, &flags, &pf) != NULL;
}
#endif

/* One call of op on kernel k into b->c; 0, or -1 when the kernel has none. */
static int run(int k, enum gnarl_matmul_op op, const struct shape *s, struct bufs *b)
{
	if (k != XSMM) {
		enum gnarl_matmul_kernel mk = k == TILED ? GNARL_MATMUL_TILED : GNARL_MATMUL_BLAS;
		if (op == GNARL_MATMUL_FORWARD)
			gnarl_matmul_forward(mk, b->c, b->x, b->w, s->B, s->in, s->out, b->scratch, NULL,
			                     NULL, 0, 1);
		else if (op == GNARL_MATMUL_WEIGHT_GRAD)
			gnarl_matmul_weight_grad(mk, b->c, b->x, b->dy, s->B, s->in, s->out, b->scratch, 0,
			                         1);
		else
			gnarl_matmul_input_grad(mk, b->c, b->dy, b->w, s->B, s->in, s->out, false,
			                        b->scratch, 0, 1);
		return 0;
	}
#ifdef GNARL_HAVE_LIBXSMM
	libxsmm_smmfunction f = xsmm_kernel(op, s);
	if (!f)
		return -1;
	if (op == GNARL_MATMUL_FORWARD) {
		f(b->w, b->x, b->c);
	} else if (op == GNARL_MATMUL_WEIGHT_GRAD) {
		f(b->dy, b->x, b->c); /* dW^T column-major is dW row-major */
	} else {
		gnarl_matmul_transpose(b->scratch, b->w, s->in, s->out);
		f(b->scratch, b->dy, b->c);
	}
	return 0;
#else
	return -1;
#endif
}

/* GFLOP/s of op on kernel k, best of `rounds`; 0 when it has no kernel.
 * The result is left in b->c. */
static double speed(int k, enum gnarl_matmul_op op, const struct shape *s, struct bufs *b,
                    int rounds)
{
	double flops = 2.0 * s->B * s->in * s->out, best = 1e30;
	long reps = (long)(2e6 / flops) + 1;

	if (run(k, op, s, b) < 0)
		return 0.0;
	for (int r = 0; r < rounds; r++) {
		double t = now();
		for (long i = 0; i < reps; i++)
			run(k, op, s, b);
		t = (now() - t) / (double)reps;
		best = t < best ? t : best;
	}
	return flops / best * 1e-9;
}

static float *filled(size_t n, unsigned seed)
{
	float *p = malloc(n * sizeof(float));

	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)((i * 2654435761u + seed) % 2001) * 1e-3f - 1.0f;
	return p;
}

int main(int argc, char **argv)
{
	static const enum gnarl_matmul_op ops[] = {GNARL_MATMUL_FORWARD, GNARL_MATMUL_WEIGHT_GRAD,
	                                           GNARL_MATMUL_INPUT_GRAD};
	const size_t most = 512 * 256 + 512 * 256;
	struct bufs b = {filled(most, 1), filled(most, 2), filled(most, 3), filled(most, 4),
	                 filled(most, 5)};
	float *ref = malloc(most * sizeof(float));
	int rounds = 15, status = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: matmul_bench [--rounds N]\n");
			return 2;
		}
	}
	if (!b.x || !b.w || !b.dy || !b.c || !b.scratch || !ref || rounds < 1) {
		fprintf(stderr, "matmul_bench: out of memory\n");
		return 1;
	}
	openblas_set_num_threads(1);
#ifdef GNARL_HAVE_LIBXSMM
	libxsmm_init();
	printf("libxsmm %s, target %s; ", LIBXSMM_VERSION, libxsmm_get_target_arch());
#else
	printf("libxsmm: not built in (install libxsmm-dev and reconfigure); ");
#endif
	printf("%s; GFLOP/s of one call, 1 thread, best of %d\n",
	       gnarl_matmul_kernel_name(GNARL_MATMUL_TILED), rounds);
	printf("%-14s %-12s %16s %9s %9s %9s\n", "network", "product", "B x in x out",
	       kernel_names[TILED], kernel_names[BLAS], kernel_names[XSMM]);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		for (size_t o = 0; o < 3; o++) {
			const struct shape *s = &shapes[i];
			size_t n = ops[o] == GNARL_MATMUL_FORWARD       ? (size_t)s->B * s->out
			           : ops[o] == GNARL_MATMUL_WEIGHT_GRAD ? (size_t)s->in * s->out
			                                                : (size_t)s->B * s->in;
			double g[KERNELS];
			char shape[40];

			snprintf(shape, sizeof(shape), "%u x %u x %u", s->B, s->in, s->out);
			g[BLAS] = speed(BLAS, ops[o], s, &b, rounds);
			memcpy(ref, b.c, n * sizeof(float));
			for (int k = 0; k < KERNELS; k++) {
				if (k == BLAS)
					continue;
				g[k] = speed(k, ops[o], s, &b, rounds);
				if (g[k] > 0.0)
					for (size_t e = 0; e < n; e++)
						if (fabsf(b.c[e] - ref[e]) > 1e-6f * (float)(s->B + s->in + s->out)) {
							fprintf(stderr, "%s %s %s: %s differs from openblas at %zu: %g, %g\n",
							        s->what, gnarl_matmul_op_name(ops[o]), shape,
							        kernel_names[k], e, b.c[e], ref[e]);
							status = 1;
							break;
						}
			}
			printf("%-14s %-12s %16s %9.1f %9.1f ", s->what, gnarl_matmul_op_name(ops[o]),
			       shape, g[TILED], g[BLAS]);
			if (g[XSMM] > 0.0)
				printf("%9.1f%s\n", g[XSMM],
				       ops[o] == GNARL_MATMUL_INPUT_GRAD ? " (on W^T)" : "");
			else
				printf("%9s\n", "-");
		}
#ifdef GNARL_HAVE_LIBXSMM
	printf("libxsmm dy W^T with a transposed A: %s\n",
	       xsmm_has_trans_a(&shapes[2]) ? "generated" : "no kernel");
	libxsmm_finalize();
#endif
	free(b.x);
	free(b.w);
	free(b.dy);
	free(b.c);
	free(b.scratch);
	free(ref);
	return status;
}
