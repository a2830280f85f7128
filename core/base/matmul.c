/*
 * matmul.c - the learner's matrix products (see matmul.h): the TILED
 * kernel of our own and the BLAS kernel on OpenBLAS, the one place gnarl
 * calls cblas_sgemm for the network.
 *
 * Entry points: gnarl_matmul_choose, gnarl_matmul_forward,
 * gnarl_matmul_weight_grad, gnarl_matmul_input_grad, gnarl_matmul_transpose.
 *
 * The tiled kernel computes C (M, N) = A (M, K) Bm (K, N), or adds it to
 * C, where Bm is row-major (a row of Bm is contiguous) and A may be read
 * along either axis (element (i, k) at a[i * rsa + k * csa]), so x W and
 * x^T dy are the same loop; dy W^T reads W^T, transposed into scratch
 * first (in * out floats, a few percent of the product's time).  A tile
 * of MR rows by NV vectors of C stays in registers while k runs over a
 * chunk of KC (B's rows of the chunk stay in L1/L2, A's in L1); the last
 * vector of a row is masked, so any N works.  Rows are done in blocks of
 * RB and handed to the epilogue while still in cache.  Thin outputs (out
 * <= THIN: policy and value heads) would waste most vector lanes along
 * out, so there the forward is one dot product per row and output along
 * `in` (W^T x_b), and the weight gradient is computed transposed (dW^T =
 * dy^T x, along `in`) and transposed back.
 *
 * Every product sums k in the same order every time (chunk by chunk,
 * ascending), so a run repeats bit for bit; different kernels (and the
 * AVX-512, AVX2 and C builds) differ in the last bits only.
 */
#include "matmul.h"

#include <cblas.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
#include <string.h>

#define MR 6          /* rows of C per register tile */
#define RB (8 * MR)   /* rows per epilogue block */
#define KC 256        /* k per chunk */
#define THIN 4        /* out <= THIN: the thin-output forms */

/* The rule.  The tiled kernel reads a chunk of KC rows of Bm (64 KB at
 * most) once per MR rows of C and never packs, so it runs near the FMA
 * peak while that chunk stays in L2 whatever the size; it is single-
 * threaded.  Products of more than 2^28 multiply-adds (a 2048-row
 * minibatch through 512 x 512, say) go to OpenBLAS, whose packing and
 * threads pay off there.  `gnarl bench` prints both kernels' speed at
 * every product a config uses, so the rule can be checked on any
 * machine. */
#define TILED_MAX_MACS (1ull << 28)

enum gnarl_matmul_kernel gnarl_matmul_choose(enum gnarl_matmul_op op, uint32_t B,
                                             uint32_t in, uint32_t out)
{
	(void)op;
	return (uint64_t)B * in * out > TILED_MAX_MACS ? GNARL_MATMUL_BLAS : GNARL_MATMUL_TILED;
}

const char *gnarl_matmul_kernel_name(enum gnarl_matmul_kernel k)
{
	if (k == GNARL_MATMUL_BLAS)
		return "openblas";
#if defined(__AVX512F__)
	return "tiled-avx512";
#elif defined(__AVX2__) && defined(__FMA__)
	return "tiled-avx2";
#else
	return "tiled-c";
#endif
}

const char *gnarl_matmul_op_name(enum gnarl_matmul_op op)
{
	static const char *const names[] = {"forward", "weight-grad", "input-grad"};
	return names[op];
}

size_t gnarl_matmul_scratch_floats(uint32_t in, uint32_t out)
{
	return (size_t)in * out;
}

/* dst (C, R) = src (R, C)^T.  Full square blocks of TB go through
 * registers (TB = 16 with AVX-512, 8 with AVX2), the edges one by one. */
#if defined(__AVX512F__)
#define TB 16
static void transpose_block(float *dst, size_t ldd, const float *src, size_t lds)
{
	__m512 r[16], t[16];

	for (int i = 0; i < 16; i++)
		r[i] = _mm512_loadu_ps(src + i * lds);
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
	}
	/* r[4a + b] holds, in each 128-bit lane L, column 4L + b of rows 4a..4a+3 */
	for (int b = 0; b < 4; b++) {
		__m512 u0 = _mm512_shuffle_f32x4(r[b], r[4 + b], 0x88);      /* lanes 0,2 | 0,2 */
		__m512 u1 = _mm512_shuffle_f32x4(r[b], r[4 + b], 0xdd);      /* lanes 1,3 | 1,3 */
		__m512 u2 = _mm512_shuffle_f32x4(r[8 + b], r[12 + b], 0x88);
		__m512 u3 = _mm512_shuffle_f32x4(r[8 + b], r[12 + b], 0xdd);
		t[b] = _mm512_shuffle_f32x4(u0, u2, 0x88);      /* column b */
		t[8 + b] = _mm512_shuffle_f32x4(u0, u2, 0xdd);  /* column 8 + b */
		t[4 + b] = _mm512_shuffle_f32x4(u1, u3, 0x88);  /* column 4 + b */
		t[12 + b] = _mm512_shuffle_f32x4(u1, u3, 0xdd); /* column 12 + b */
	}
	for (int j = 0; j < 16; j++)
		_mm512_storeu_ps(dst + j * ldd, t[j]);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define TB 8
static void transpose_block(float *dst, size_t ldd, const float *src, size_t lds)
{
	__m256 r[8], t[8];

	for (int i = 0; i < 8; i++)
		r[i] = _mm256_loadu_ps(src + i * lds);
	for (int i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 8; i += 4) {
		r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
		r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
		r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
	}
	for (int b = 0; b < 4; b++) {
		t[b] = _mm256_permute2f128_ps(r[b], r[4 + b], 0x20);
		t[4 + b] = _mm256_permute2f128_ps(r[b], r[4 + b], 0x31);
	}
	for (int j = 0; j < 8; j++)
		_mm256_storeu_ps(dst + j * ldd, t[j]);
}
#endif

/* dst (C, R) = src (R, C)^T for C <= THIN, a constant after inlining
 * (strided reads the compiler vectorises). */
static inline __attribute__((always_inline)) void transpose_thin(float *restrict dst,
                                                                 const float *restrict src,
                                                                 uint32_t R, uint32_t C)
{
	for (uint32_t j = 0; j < C; j++)
		for (uint32_t i = 0; i < R; i++)
			dst[(size_t)j * R + i] = src[(size_t)i * C + j];
}

static void transpose(float *restrict dst, const float *restrict src, uint32_t R, uint32_t C)
{
	uint32_t R0 = 0, C0 = 0;

	switch (C) {
	case 1:
		memcpy(dst, src, R * sizeof(float));
		return;
	case 2:
		transpose_thin(dst, src, R, 2);
		return;
	case 3:
		transpose_thin(dst, src, R, 3);
		return;
	case 4:
		transpose_thin(dst, src, R, 4);
		return;
	}

#ifdef TB
	R0 = R / TB * TB;
	C0 = C / TB * TB;
	for (uint32_t i = 0; i < R0; i += TB)
		for (uint32_t j = 0; j < C0; j += TB)
			transpose_block(dst + (size_t)j * R + i, R, src + (size_t)i * C + j, C);
#endif
	/* the edges: rows past R0 (all columns), columns past C0 (rows < R0) */
	for (uint32_t i = 0; i < R; i++)
		for (uint32_t j = i < R0 ? C0 : 0; j < C; j++)
			dst[(size_t)j * R + i] = src[(size_t)i * C + j];
}

/* ---- the vector tile ----------------------------------------------------- */

#if defined(__AVX512F__)
#define VW 16         /* floats per vector */
#define NV 4          /* vectors per tile row: 6 x 4 accumulators of 32 registers */
typedef __m512 vec;
typedef __mmask16 vmask;
static inline vmask mask_first(uint32_t n)
{
	return (vmask)((1u << n) - 1u);
}
#define V_ZERO() _mm512_setzero_ps()
#define V_LOADM(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_BCAST(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_STOREM(m, p, v) _mm512_mask_storeu_ps(p, m, v)
#define V_SUM(v) _mm512_reduce_add_ps(v)
#define HAVE_VEC 1
#elif defined(__AVX2__) && defined(__FMA__)
#define VW 8
#define NV 2          /* 6 x 2 accumulators of 16 registers */
typedef __m256 vec;
typedef __m256i vmask;
static inline vmask mask_first(uint32_t n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define V_ZERO() _mm256_setzero_ps()
#define V_LOADM(m, p) _mm256_maskload_ps(p, m)
#define V_BCAST(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_STOREM(m, p, v) _mm256_maskstore_ps(p, m, v)
static inline float V_SUM(vec v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
#define HAVE_VEC 1
#endif

#ifdef HAVE_VEC
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NB (VW * NV)  /* columns per tile */

/* Row i of the tile (i < mr), vector v (v < nv): the last is masked. */
#define ACC_DECL(i) vec c##i##0 = V_ZERO(), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0
#define ACC_FMA(i)                                                 \
	if (mr > i) {                                              \
		vec a_ = V_BCAST(ap[(size_t)i * rsa]);             \
		c##i##0 = V_FMA(a_, b0, c##i##0);                  \
		if (nv > 1)                                        \
			c##i##1 = V_FMA(a_, b1, c##i##1);          \
		if (nv > 2)                                        \
			c##i##2 = V_FMA(a_, b2, c##i##2);          \
		if (nv > 3)                                        \
			c##i##3 = V_FMA(a_, b3, c##i##3);          \
	}
#define ACC_STORE1(i, v)                                                   \
	{                                                                  \
		float *cp = c + (size_t)i * ldc + VW * v;                  \
		vmask m = v == nv - 1 ? last : full;                       \
		vec r = c##i##v;                                           \
		if (add)                                                   \
			r = V_ADD(r, V_LOADM(m, cp));                      \
		V_STOREM(m, cp, r);                                        \
	}
#define ACC_STORE(i)                          \
	if (mr > i) {                         \
		ACC_STORE1(i, 0)              \
		if (nv > 1)                   \
			ACC_STORE1(i, 1)      \
		if (nv > 2)                   \
			ACC_STORE1(i, 2)      \
		if (nv > 3)                   \
			ACC_STORE1(i, 3)      \
	}

/* C (mr, cols) (+)= A (mr, K) Bm (K, cols), cols = VW * (nv - 1) + the
 * lanes of `last`.  mr and nv are constants after inlining, so the
 * accumulators live in registers. */
static ALWAYS_INLINE void tile(int mr, int nv, vmask last, uint32_t K, const float *a,
                               size_t rsa, size_t csa, const float *b, size_t ldb,
                               float *c, size_t ldc, bool add)
{
	const vmask full = mask_first(VW);
	ACC_DECL(0);
	ACC_DECL(1);
	ACC_DECL(2);
	ACC_DECL(3);
	ACC_DECL(4);
	ACC_DECL(5);

#pragma GCC unroll 4
	for (uint32_t k = 0; k < K; k++) {
		const float *bp = b + (size_t)k * ldb, *ap = a + (size_t)k * csa;
		vec b0 = V_LOADM(nv == 1 ? last : full, bp), b1 = b0, b2 = b0, b3 = b0;

		if (nv > 1)
			b1 = V_LOADM(nv == 2 ? last : full, bp + VW);
		if (nv > 2)
			b2 = V_LOADM(nv == 3 ? last : full, bp + 2 * VW);
		if (nv > 3)
			b3 = V_LOADM(last, bp + 3 * VW);
		ACC_FMA(0)
		ACC_FMA(1)
		ACC_FMA(2)
		ACC_FMA(3)
		ACC_FMA(4)
		ACC_FMA(5)
	}
	ACC_STORE(0)
	ACC_STORE(1)
	ACC_STORE(2)
	ACC_STORE(3)
	ACC_STORE(4)
	ACC_STORE(5)
}

#define TILE_NV(mr)                                                                  \
	switch (nv) {                                                                \
	case 1:                                                                      \
		tile(mr, 1, last, K, a, rsa, csa, b, ldb, c, ldc, add);              \
		break;                                                               \
	case 2:                                                                      \
		tile(mr, 2, last, K, a, rsa, csa, b, ldb, c, ldc, add);              \
		break;                                                               \
	case 3:                                                                      \
		tile(mr, NV > 2 ? 3 : 2, last, K, a, rsa, csa, b, ldb, c, ldc, add); \
		break;                                                               \
	default:                                                                     \
		tile(mr, NV > 3 ? 4 : 2, last, K, a, rsa, csa, b, ldb, c, ldc, add); \
	}

/* One tile of any mr <= MR and nv <= NV, one instance per shape. */
static void tile_any(uint32_t mr, uint32_t nv, vmask last, uint32_t K, const float *a,
                     size_t rsa, size_t csa, const float *b, size_t ldb, float *c,
                     size_t ldc, bool add)
{
	switch (mr) {
	case 1:
		TILE_NV(1)
		break;
	case 2:
		TILE_NV(2)
		break;
	case 3:
		TILE_NV(3)
		break;
	case 4:
		TILE_NV(4)
		break;
	case 5:
		TILE_NV(5)
		break;
	default:
		TILE_NV(6)
	}
}

/* Rows [0, M) of C, all of N and K. */
static void rows_block(uint32_t M, uint32_t N, uint32_t K, const float *a, size_t rsa,
                       size_t csa, const float *b, size_t ldb, float *c, size_t ldc,
                       bool add)
{
	for (uint32_t k0 = 0; k0 < K; k0 += KC) {
		uint32_t kc = K - k0 < KC ? K - k0 : KC;
		for (uint32_t j0 = 0; j0 < N; j0 += NB) {
			uint32_t n = N - j0 < NB ? N - j0 : NB, nv = (n + VW - 1) / VW;
			vmask last = mask_first(n - VW * (nv - 1));
			for (uint32_t i = 0; i < M; i += MR)
				tile_any(M - i < MR ? M - i : MR, nv, last, kc,
				         a + i * rsa + k0 * csa, rsa, csa, b + (size_t)k0 * ldb + j0,
				         ldb, c + (size_t)i * ldc + j0, ldc, add || k0 > 0);
		}
	}
}

/* y[i * out + o] = x_i . wt_o over `in`, for rows [0, M); out <= THIN. */
static ALWAYS_INLINE void dots(uint32_t out, uint32_t M, uint32_t in, const float *x,
                               const float *wt, float *y)
{
	const vmask full = mask_first(VW), last = mask_first(in - VW * ((in - 1) / VW));

	for (uint32_t i = 0; i < M; i++) {
		const float *xi = x + (size_t)i * in;
		vec acc0 = V_ZERO(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
		for (uint32_t k = 0; k < in; k += VW) {
			vmask m = k + VW <= in ? full : last;
			vec xv = V_LOADM(m, xi + k);
			acc0 = V_FMA(xv, V_LOADM(m, wt + k), acc0);
			if (out > 1)
				acc1 = V_FMA(xv, V_LOADM(m, wt + in + k), acc1);
			if (out > 2)
				acc2 = V_FMA(xv, V_LOADM(m, wt + 2 * (size_t)in + k), acc2);
			if (out > 3)
				acc3 = V_FMA(xv, V_LOADM(m, wt + 3 * (size_t)in + k), acc3);
		}
		y[(size_t)i * out] = V_SUM(acc0);
		if (out > 1)
			y[(size_t)i * out + 1] = V_SUM(acc1);
		if (out > 2)
			y[(size_t)i * out + 2] = V_SUM(acc2);
		if (out > 3)
			y[(size_t)i * out + 3] = V_SUM(acc3);
	}
}

static void thin_forward(uint32_t out, uint32_t M, uint32_t in, const float *x,
                         const float *wt, float *y)
{
	switch (out) {
	case 1:
		dots(1, M, in, x, wt, y);
		break;
	case 2:
		dots(2, M, in, x, wt, y);
		break;
	case 3:
		dots(3, M, in, x, wt, y);
		break;
	default:
		dots(4, M, in, x, wt, y);
	}
}

#else /* plain C: the same order of summation, loops the compiler vectorises */

static void rows_block(uint32_t M, uint32_t N, uint32_t K, const float *a, size_t rsa,
                       size_t csa, const float *b, size_t ldb, float *c, size_t ldc,
                       bool add)
{
	for (uint32_t i = 0; i < M; i++) {
		float *restrict ci = c + (size_t)i * ldc;
		if (!add)
			memset(ci, 0, N * sizeof(float));
		for (uint32_t k = 0; k < K; k++) {
			const float aik = a[i * rsa + k * csa];
			const float *restrict bk = b + (size_t)k * ldb;
			for (uint32_t j = 0; j < N; j++)
				ci[j] += aik * bk[j];
		}
	}
}

static void thin_forward(uint32_t out, uint32_t M, uint32_t in, const float *x,
                         const float *wt, float *y)
{
	for (uint32_t i = 0; i < M; i++)
		for (uint32_t o = 0; o < out; o++) {
			float s = 0.0f;
			for (uint32_t k = 0; k < in; k++)
				s += x[(size_t)i * in + k] * wt[(size_t)o * in + k];
			y[(size_t)i * out + o] = s;
		}
}

#endif

/* Rows [m0, m1) of C (M, N) (+)= A Bm by row blocks, the epilogue after
 * each. */
static void tiled(uint32_t m0, uint32_t m1, uint32_t N, uint32_t K, const float *a, size_t rsa,
                  size_t csa, const float *b, size_t ldb, float *c, size_t ldc, bool add,
                  gnarl_matmul_epilogue_fn epilogue, void *ctx)
{
	for (uint32_t i0 = m0; i0 < m1; i0 += RB) {
		uint32_t rows = m1 - i0 < RB ? m1 - i0 : RB;
		rows_block(rows, N, K, a + i0 * rsa, rsa, csa, b, ldb, c + (size_t)i0 * ldc, ldc, add);
		if (epilogue)
			epilogue(ctx, c + (size_t)i0 * ldc, i0, rows);
	}
}

/* Part `part` of `parts` of M rows: whole tiles, the last part shorter. */
static void part_rows(uint32_t M, uint32_t part, uint32_t parts, uint32_t *m0, uint32_t *m1)
{
	uint32_t tiles = (M + MR - 1) / MR, per = (tiles + parts - 1) / parts;

	*m0 = part * per * MR < M ? part * per * MR : M;
	*m1 = *m0 + per * MR < M ? *m0 + per * MR : M;
}

/* ---- the three products --------------------------------------------------- */

void gnarl_matmul_forward(enum gnarl_matmul_kernel k, float *y, const float *x,
                          const float *w, uint32_t B, uint32_t in, uint32_t out,
                          float *scratch, gnarl_matmul_epilogue_fn epilogue,
                          void *ctx, uint32_t part, uint32_t parts)
{
	uint32_t m0, m1;

	if (k == GNARL_MATMUL_BLAS) {
		if (part)
			return;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)out, (int)in,
		            1.0f, x, (int)in, w, (int)out, 0.0f, y, (int)out);
		if (epilogue)
			epilogue(ctx, y, 0, B);
		return;
	}
	part_rows(B, part, parts, &m0, &m1);
	if (m0 == m1)
		return;
	if (out <= THIN) {
		transpose(scratch, w, in, out);
		for (uint32_t i0 = m0; i0 < m1; i0 += RB) {
			uint32_t rows = m1 - i0 < RB ? m1 - i0 : RB;
			thin_forward(out, rows, in, x + (size_t)i0 * in, scratch, y + (size_t)i0 * out);
			if (epilogue)
				epilogue(ctx, y + (size_t)i0 * out, i0, rows);
		}
		return;
	}
	tiled(m0, m1, out, in, x, in, 1, w, out, y, out, false, epilogue, ctx);
}

void gnarl_matmul_weight_grad(enum gnarl_matmul_kernel k, float *dw, const float *x,
                              const float *dy, uint32_t B, uint32_t in, uint32_t out,
                              float *scratch, uint32_t part, uint32_t parts)
{
	uint32_t m0, m1;

	if (k == GNARL_MATMUL_BLAS) {
		if (part)
			return;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, (int)B,
		            1.0f, x, (int)in, dy, (int)out, 0.0f, dw, (int)out);
		return;
	}
	if (out <= THIN) {
		/* dW^T (out, in) = dy^T x, vectors along in; one part */
		if (part)
			return;
		tiled(0, out, in, B, dy, 1, out, x, in, scratch, in, false, NULL, NULL);
		transpose(dw, scratch, out, in);
		return;
	}
	part_rows(in, part, parts, &m0, &m1);
	tiled(m0, m1, out, B, x, 1, in, dy, out, dw, out, false, NULL, NULL);
}

void gnarl_matmul_input_grad(enum gnarl_matmul_kernel k, float *dx, const float *dy,
                             const float *w, uint32_t B, uint32_t in, uint32_t out,
                             bool accumulate, float *scratch, uint32_t part, uint32_t parts)
{
	uint32_t m0, m1;

	if (k == GNARL_MATMUL_BLAS) {
		if (part)
			return;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)in, (int)out,
		            1.0f, dy, (int)out, w, (int)out, accumulate ? 1.0f : 0.0f, dx,
		            (int)in);
		return;
	}
	part_rows(B, part, parts, &m0, &m1);
	if (m0 == m1)
		return;
	transpose(scratch, w, in, out);
	tiled(m0, m1, in, out, dy, out, 1, scratch, in, dx, in, accumulate, NULL, NULL);
}

void gnarl_matmul_transpose(float *dst, const float *src, uint32_t rows, uint32_t cols)
{
	transpose(dst, src, rows, cols);
}
