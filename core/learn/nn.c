/*
 * nn.c - MLP forward/backward, orthogonal init, Adam.
 *
 * Entry points: gnarl_nn_create/free, gnarl_nn_forward[_stack],
 * gnarl_nn_backward[_stack], gnarl_nn_adam_stack, gnarl_nn_tensors.
 *
 * Shapes (see nn.h): B rows, layer l maps in_l -> out_l, W_l (in, out).
 * Each layer runs in nn_linear.c (on core/matmul.h's kernels, split over
 * the pool's threads when the network has parts > 1).
 *
 * Invariants: layers of a stack are listed in topological order (a
 * layer's input has a smaller index), so a backward in reverse index order
 * has seen every consumer of a layer before the layer itself.  Each stack
 * has its own scratch for the products, so two threads may run two
 * stacks.
 */
#include "nn.h"

#ifdef __AVX__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "matmul.h"
#include "nn_internal.h"
#include "pool.h"
#include "rng.h"

#define MAX_LAYERS (2 * GNARL_NN_MAX_HIDDEN + 2)
#define ALIGN_FLOATS 16
#define NAME_SIZE 48
#define MAX_PARTS 2           /* threads one product may be split over */
#define SPLIT_ADAM 32768      /* parameters: Adam's range split beyond */

enum role { ROLE_HIDDEN = 0, ROLE_POLICY, ROLE_VALUE };

struct layer {
	uint32_t in, out;
	enum gnarl_nn_activation act;
	enum role role;
	int input;                /* layer feeding this one; -1: the network input */
	uint32_t stack;
	size_t w, b;              /* offsets of W (in, out) and b (out) in the slabs */
	float *y;                 /* (max_batch, out) output of the last forward */
	float *d;                 /* (max_batch, out) gradient during backward */
	bool d_set;               /* d written in the current backward */
	/* tensor names of W and b: the parameter, "adam.m.<name>", "adam.v.<name>" */
	char wname[3][NAME_SIZE + 16], bname[3][NAME_SIZE + 16];
};

struct stack {
	uint32_t first, count;    /* layers [first, first + count) */
	size_t begin, end;        /* slab range */
	int policy, value;        /* head layers, -1 if none */
	float *scratch;           /* the products' scratch: MAX_PARTS of scratch_stride */
	size_t scratch_stride;    /* floats of the stack's largest layer */
};

struct gnarl_nn {
	struct gnarl_nn_spec spec;
	uint32_t n_layers, n_stacks;
	struct layer layers[MAX_LAYERS];
	struct stack stacks[2];
	size_t n;                 /* floats per slab */
	float *params, *grads, *m, *v;
	float *work;              /* activations and their gradients */
	uint64_t adam_t;
	struct gnarl_pool *pool;  /* borrowed: splits large products when parts > 1 */
	uint32_t parts;
};

/* ---- construction ------------------------------------------------------- */

static double gaussian(struct gnarl_rng *rng)
{
	double u1 = 1.0 - gnarl_rng_double(rng), u2 = gnarl_rng_double(rng);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* W (in, out) orthogonal times gain: the transpose of what
 * torch.nn.init.orthogonal_ makes of an (out, in) weight, a QR of a
 * Gaussian (max, min) matrix with R's diagonal made positive (what
 * modified Gram-Schmidt gives), transposed when out < in. */
static int orthogonal(float *w, uint32_t out, uint32_t in, double gain,
                      struct gnarl_rng *rng)
{
	uint32_t r = out > in ? out : in, c = out > in ? in : out;
	double *q = malloc((size_t)r * c * sizeof(*q));

	if (!q)
		return GNARL_ENOMEM;
	for (size_t i = 0; i < (size_t)r * c; i++)
		q[i] = gaussian(rng);
	/* q is (r, c) row-major; orthonormalise its columns. */
	for (uint32_t j = 0; j < c; j++) {
		for (uint32_t k = 0; k < j; k++) {
			double dot = 0.0;
			for (uint32_t i = 0; i < r; i++)
				dot += q[(size_t)i * c + j] * q[(size_t)i * c + k];
			for (uint32_t i = 0; i < r; i++)
				q[(size_t)i * c + j] -= dot * q[(size_t)i * c + k];
		}
		double norm = 0.0;
		for (uint32_t i = 0; i < r; i++)
			norm += q[(size_t)i * c + j] * q[(size_t)i * c + j];
		norm = sqrt(norm);
		for (uint32_t i = 0; i < r; i++)
			q[(size_t)i * c + j] /= norm;
	}
	/* element (i, j) of the (out, in) matrix goes to w[j][i] */
	for (uint32_t i = 0; i < out; i++)
		for (uint32_t j = 0; j < in; j++)
			w[(size_t)j * out + i] = (float)(gain * (out >= in ? q[(size_t)i * c + j]
			                                                  : q[(size_t)j * c + i]));
	free(q);
	return 0;
}

static size_t align_up(size_t n)
{
	return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

static void add_layer(struct gnarl_nn *nn, const char *name, uint32_t in,
                      uint32_t out, enum gnarl_nn_activation act, enum role role,
                      int input, uint32_t stack)
{
	static const char *const prefix[3] = {"", "adam.m.", "adam.v."};
	struct layer *L = &nn->layers[nn->n_layers++];

	L->in = in;
	L->out = out;
	L->act = act;
	L->role = role;
	L->input = input;
	L->stack = stack;
	L->w = nn->n;
	nn->n += align_up((size_t)in * out);
	L->b = nn->n;
	nn->n += align_up(out);
	for (int k = 0; k < 3; k++) {
		snprintf(L->wname[k], sizeof(L->wname[k]), "%s%s.weight", prefix[k], name);
		snprintf(L->bname[k], sizeof(L->bname[k]), "%s%s.bias", prefix[k], name);
	}
	if (role == ROLE_POLICY)
		nn->stacks[stack].policy = (int)(nn->n_layers - 1);
	if (role == ROLE_VALUE)
		nn->stacks[stack].value = (int)(nn->n_layers - 1);
}

/* A chain of hidden layers then `role` head(s), all in stack s. */
static void build_stack(struct gnarl_nn *nn, uint32_t s, const char *prefix,
                        bool policy, bool value)
{
	const struct gnarl_nn_spec *sp = &nn->spec;
	char name[NAME_SIZE];
	uint32_t in = sp->inputs, h;
	int input = -1;

	nn->stacks[s].first = nn->n_layers;
	nn->stacks[s].begin = nn->n;
	nn->stacks[s].policy = nn->stacks[s].value = -1;
	for (h = 0; h < sp->n_hidden; h++) {
		snprintf(name, sizeof(name), "%s.%u", prefix, h);
		add_layer(nn, name, in, sp->hidden[h], sp->activation, ROLE_HIDDEN, input, s);
		in = sp->hidden[h];
		input = (int)nn->n_layers - 1;
	}
	if (policy) {
		if (sp->shared)
			snprintf(name, sizeof(name), "policy");
		else
			snprintf(name, sizeof(name), "%s.%u", prefix, h);
		add_layer(nn, name, in, sp->n_actions, GNARL_NN_IDENTITY, ROLE_POLICY, input, s);
	}
	if (value) {
		if (sp->shared)
			snprintf(name, sizeof(name), "value");
		else
			snprintf(name, sizeof(name), "%s.%u", prefix, h);
		add_layer(nn, name, in, 1, GNARL_NN_IDENTITY, ROLE_VALUE, input, s);
	}
	nn->stacks[s].count = nn->n_layers - nn->stacks[s].first;
	nn->stacks[s].end = nn->n;
}

static int check_spec(const struct gnarl_nn_spec *sp, char err[GNARL_ERR_SIZE])
{
	if (sp->inputs == 0 || sp->n_actions == 0 || sp->max_batch == 0)
		return gnarl_err(err, GNARL_EINVAL,
		                 "network: inputs (%u), actions (%u) and max batch (%u) must "
		                 "be positive",
		                 sp->inputs, sp->n_actions, sp->max_batch);
	if (sp->n_hidden > GNARL_NN_MAX_HIDDEN)
		return gnarl_err(err, GNARL_EINVAL,
		                 "policy.hidden: %u layers, at most %d are supported",
		                 sp->n_hidden, GNARL_NN_MAX_HIDDEN);
	for (uint32_t h = 0; h < sp->n_hidden; h++)
		if (sp->hidden[h] == 0 || sp->hidden[h] > 65536)
			return gnarl_err(err, GNARL_EINVAL,
			                 "policy.hidden[%u]: %u units; use 1 to 65536", h,
			                 sp->hidden[h]);
	if (sp->activation != GNARL_NN_TANH && sp->activation != GNARL_NN_RELU)
		return gnarl_err(err, GNARL_EINVAL, "policy.activation: use relu or tanh");
	return 0;
}

static float *slab(size_t n)
{
	float *p = aligned_alloc(64, align_up(n) * sizeof(float));

	if (p)
		memset(p, 0, align_up(n) * sizeof(float));
	return p;
}

static int init_params(struct gnarl_nn *nn, uint64_t seed)
{
	struct gnarl_rng rng;
	int rc;

	gnarl_rng_seed(&rng, seed);
	for (uint32_t l = 0; l < nn->n_layers; l++) {
		const struct layer *L = &nn->layers[l];
		double gain = L->role == ROLE_POLICY ? 0.01 : L->role == ROLE_VALUE ? 1.0 : sqrt(2.0);
		rc = orthogonal(nn->params + L->w, L->out, L->in, gain, &rng);
		if (rc)
			return rc;
	}
	return 0;
}

/* Floats of product scratch stack s needs: its largest layer's. */
static size_t stack_scratch(const struct gnarl_nn *nn, uint32_t s)
{
	const struct stack *st = &nn->stacks[s];
	size_t most = 0;

	for (uint32_t l = st->first; l < st->first + st->count; l++) {
		size_t n = gnarl_matmul_scratch_floats(nn->layers[l].in, nn->layers[l].out);
		most = n > most ? n : most;
	}
	return most;
}

int gnarl_nn_create(const struct gnarl_nn_spec *spec, uint64_t seed,
                    struct gnarl_nn **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_nn *nn;
	size_t work = 0;
	float *p;
	int rc;

	*out = NULL;
	rc = check_spec(spec, err);
	if (rc)
		return rc;
	nn = calloc(1, sizeof(*nn));
	if (!nn)
		return gnarl_err(err, GNARL_ENOMEM, "network: out of memory");
	nn->spec = *spec;
	nn->parts = 1;
	if (spec->shared) {
		nn->n_stacks = 1;
		build_stack(nn, 0, "trunk", true, true);
	} else {
		nn->n_stacks = 2;
		build_stack(nn, 0, "actor", true, false);
		build_stack(nn, 1, "critic", false, true);
	}
	for (uint32_t l = 0; l < nn->n_layers; l++)
		work += 2 * align_up((size_t)spec->max_batch * nn->layers[l].out);
	for (uint32_t s = 0; s < nn->n_stacks; s++) {
		nn->stacks[s].scratch_stride = align_up(stack_scratch(nn, s));
		work += MAX_PARTS * nn->stacks[s].scratch_stride;
	}
	nn->params = slab(nn->n);
	nn->grads = slab(nn->n);
	nn->m = slab(nn->n);
	nn->v = slab(nn->n);
	nn->work = slab(work);
	if (!nn->params || !nn->grads || !nn->m || !nn->v || !nn->work) {
		rc = gnarl_err(err, GNARL_ENOMEM, "network: out of memory for %zu parameters",
		               nn->n);
		goto fail;
	}
	p = nn->work;
	for (uint32_t l = 0; l < nn->n_layers; l++) {
		struct layer *L = &nn->layers[l];
		L->y = p;
		p += align_up((size_t)spec->max_batch * L->out);
		L->d = p;
		p += align_up((size_t)spec->max_batch * L->out);
	}
	for (uint32_t s = 0; s < nn->n_stacks; s++) {
		nn->stacks[s].scratch = p;
		p += MAX_PARTS * nn->stacks[s].scratch_stride;
	}
	rc = init_params(nn, seed);
	if (rc) {
		gnarl_err(err, rc, "network: out of memory during initialisation");
		goto fail;
	}
	*out = nn;
	return 0;
fail:
	gnarl_nn_free(nn);
	return rc;
}

void gnarl_nn_free(struct gnarl_nn *nn)
{
	if (!nn)
		return;
	free(nn->params);
	free(nn->grads);
	free(nn->m);
	free(nn->v);
	free(nn->work);
	free(nn);
}

const struct gnarl_nn_spec *gnarl_nn_spec(const struct gnarl_nn *nn)
{
	return &nn->spec;
}

uint32_t gnarl_nn_stacks(const struct gnarl_nn *nn)
{
	return nn->n_stacks;
}

unsigned gnarl_nn_stack_outputs(const struct gnarl_nn *nn, uint32_t s)
{
	return (nn->stacks[s].policy >= 0 ? GNARL_NN_POLICY : 0u) |
	       (nn->stacks[s].value >= 0 ? GNARL_NN_VALUE : 0u);
}

/* ---- forward and backward ----------------------------------------------- */

static bool layer_wanted(const struct layer *L, unsigned outputs)
{
	return L->role == ROLE_HIDDEN || (L->role == ROLE_POLICY && (outputs & GNARL_NN_POLICY)) ||
	       (L->role == ROLE_VALUE && (outputs & GNARL_NN_VALUE));
}

void gnarl_nn_forward_stack(struct gnarl_nn *nn, uint32_t s, const float *x,
                            uint32_t B, unsigned outputs)
{
	const struct stack *st = &nn->stacks[s];

	for (uint32_t l = st->first; l < st->first + st->count; l++) {
		struct layer *L = &nn->layers[l];
		if (!layer_wanted(L, outputs))
			continue;
		gnarl_nn_linear_forward_parts(nn->pool, nn->parts, L->y,
		                              L->input < 0 ? x : nn->layers[L->input].y,
		                              nn->params + L->w, nn->params + L->b, B, L->in, L->out,
		                              L->act, st->scratch, st->scratch_stride);
	}
}

void gnarl_nn_forward(struct gnarl_nn *nn, const float *x, uint32_t B,
                      unsigned outputs)
{
	for (uint32_t s = 0; s < nn->n_stacks; s++)
		if (gnarl_nn_stack_outputs(nn, s) & outputs)
			gnarl_nn_forward_stack(nn, s, x, B, outputs);
}

const float *gnarl_nn_logits(const struct gnarl_nn *nn)
{
	return nn->layers[nn->stacks[0].policy].y;
}

const float *gnarl_nn_values(const struct gnarl_nn *nn)
{
	const struct stack *st = &nn->stacks[nn->n_stacks - 1];
	return nn->layers[st->value].y;
}

void gnarl_nn_backward_stack(struct gnarl_nn *nn, uint32_t s, const float *x,
                             uint32_t B, const float *dlogits,
                             const float *dvalues)
{
	const struct stack *st = &nn->stacks[s];
	uint32_t A = nn->spec.n_actions;

	for (uint32_t l = st->first; l < st->first + st->count; l++)
		nn->layers[l].d_set = false;
	if (st->policy >= 0) {
		memcpy(nn->layers[st->policy].d, dlogits, (size_t)B * A * sizeof(float));
		nn->layers[st->policy].d_set = true;
	}
	if (st->value >= 0) {
		memcpy(nn->layers[st->value].d, dvalues, (size_t)B * sizeof(float));
		nn->layers[st->value].d_set = true;
	}
	for (uint32_t l = st->first + st->count; l-- > st->first;) {
		struct layer *L = &nn->layers[l];
		struct layer *P = L->input >= 0 ? &nn->layers[L->input] : NULL;
		gnarl_nn_linear_backward_parts(nn->pool, nn->parts, P ? P->d : NULL, nn->grads + L->w,
		                               nn->grads + L->b, L->d, L->y, P ? P->y : x,
		                               nn->params + L->w, B, L->in, L->out, L->act,
		                               P && P->d_set, st->scratch, st->scratch_stride);
		if (P)
			P->d_set = true;
	}
}

void gnarl_nn_backward(struct gnarl_nn *nn, const float *x, uint32_t B,
                       const float *dlogits, const float *dvalues)
{
	for (uint32_t s = 0; s < nn->n_stacks; s++)
		gnarl_nn_backward_stack(nn, s, x, B, dlogits, dvalues);
}

/* ---- slabs and Adam ----------------------------------------------------- */

size_t gnarl_nn_size(const struct gnarl_nn *nn)
{
	return nn->n;
}

float *gnarl_nn_params(struct gnarl_nn *nn)
{
	return nn->params;
}

float *gnarl_nn_grads(struct gnarl_nn *nn)
{
	return nn->grads;
}

void gnarl_nn_stack_range(const struct gnarl_nn *nn, uint32_t s, size_t *begin,
                          size_t *end)
{
	*begin = nn->stacks[s].begin;
	*end = nn->stacks[s].end;
}

double gnarl_nn_grad_sqnorm(const struct gnarl_nn *nn, uint32_t s)
{
	const float *g = nn->grads;
	double sum = 0.0;
	/* Float partial sums in fixed lanes vectorise; fold them in double. */
	float lane[ALIGN_FLOATS] = {0};

	for (size_t i = nn->stacks[s].begin; i < nn->stacks[s].end; i += ALIGN_FLOATS)
		for (int k = 0; k < ALIGN_FLOATS; k++)
			lane[k] += g[i + k] * g[i + k];
	for (int k = 0; k < ALIGN_FLOATS; k++)
		sum += lane[k];
	return sum;
}

float gnarl_nn_clip_scale(double sqnorm, double max_norm)
{
	double coef;

	if (max_norm <= 0.0)
		return 1.0f;
	coef = max_norm / (sqrt(sqnorm) + 1e-6);
	return coef < 1.0 ? (float)coef : 1.0f;
}

/* out[i] = sqrt(in[i]).  sqrtf may set errno, which keeps GCC from
 * vectorising a loop around it in ISO C mode, so use the instruction
 * directly where there is one (same correctly rounded result). */
static void sqrt_array(float *restrict out, const float *restrict in, size_t n)
{
	size_t i = 0;
#ifdef __AVX__
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_sqrt_ps(_mm256_loadu_ps(in + i)));
#endif
	for (; i < n; i++)
		out[i] = sqrtf(in[i]);
}

void gnarl_nn_adam_apply(float *restrict p, const float *restrict g,
                         float *restrict m, float *restrict v, size_t n,
                         const struct gnarl_nn_adam *hp, float grad_scale,
                         uint64_t t)
{
	enum { BLOCK = 256 };
	const float b1 = (float)hp->beta1, b2 = (float)hp->beta2, eps = (float)hp->eps;
	const float c1 = (float)(1.0 - hp->beta1), c2 = (float)(1.0 - hp->beta2);
	const double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
	const float step = (float)(hp->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
	float root[BLOCK];

	for (size_t k = 0; k < n; k += BLOCK) {
		size_t len = n - k < BLOCK ? n - k : BLOCK;
		for (size_t i = k; i < k + len; i++) {
			float gi = g[i] * grad_scale;
			m[i] = b1 * m[i] + c1 * gi;
			v[i] = b2 * v[i] + c2 * gi * gi;
		}
		sqrt_array(root, v + k, len);
		for (size_t i = 0; i < len; i++)
			p[k + i] -= step * m[k + i] / (root[i] * inv_sqrt_bc2 + eps);
	}
}

struct adam_job {
	struct gnarl_nn *nn;
	size_t begin, end;
	const struct gnarl_nn_adam *hp;
	float grad_scale;
	uint64_t t;
	uint32_t parts;
};

/* Part `task` of the job's range (whole blocks of ALIGN_FLOATS). */
static void adam_task(void *ctx, uint32_t task, uint32_t thread)
{
	const struct adam_job *j = ctx;
	size_t n = j->end - j->begin, per = align_up((n + j->parts - 1) / j->parts);
	size_t b = j->begin + (task * per < n ? task * per : n);
	size_t e = b + per < j->end ? b + per : j->end;

	(void)thread;
	gnarl_nn_adam_apply(j->nn->params + b, j->nn->grads + b, j->nn->m + b, j->nn->v + b,
	                    e - b, j->hp, j->grad_scale, j->t);
}

void gnarl_nn_adam_stack(struct gnarl_nn *nn, uint32_t s,
                         const struct gnarl_nn_adam *hp, float grad_scale,
                         uint64_t t)
{
	struct adam_job j = {nn, nn->stacks[s].begin, nn->stacks[s].end, hp, grad_scale, t, 1};

	/* Element by element, so any split gives the same bits. */
	if (nn->parts > 1 && j.end - j.begin >= SPLIT_ADAM) {
		j.parts = nn->parts;
		gnarl_pool_run(nn->pool, adam_task, &j, j.parts);
		return;
	}
	adam_task(&j, 0, 0);
}

void gnarl_nn_set_parts(struct gnarl_nn *nn, struct gnarl_pool *pool, uint32_t parts)
{
	uint32_t most = pool ? gnarl_pool_threads(pool) : 1;

	most = most < MAX_PARTS ? most : MAX_PARTS;
	nn->pool = pool;
	nn->parts = parts < 1 ? 1 : parts > most ? most : parts;
}

uint32_t gnarl_nn_parts(const struct gnarl_nn *nn)
{
	return nn->parts;
}

uint64_t gnarl_nn_adam_steps(const struct gnarl_nn *nn)
{
	return nn->adam_t;
}

void gnarl_nn_set_adam_steps(struct gnarl_nn *nn, uint64_t t)
{
	nn->adam_t = t;
}

/* ---- state and cost ----------------------------------------------------- */

static void tensor(struct gnarl_tensor *t, const char *name, float *data,
                   uint32_t ndim, uint64_t d0, uint64_t d1)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->dtype = GNARL_DTYPE_F32;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->data = data;
}

uint32_t gnarl_nn_tensors(struct gnarl_nn *nn, struct gnarl_tensor *out,
                          uint32_t max)
{
	float *base[3] = {nn->params, nn->m, nn->v};
	uint32_t n = 0;

	for (int k = 0; k < 3; k++)
		for (uint32_t l = 0; l < nn->n_layers; l++) {
			struct layer *L = &nn->layers[l];
			if (n < max)
				tensor(&out[n], L->wname[k], base[k] + L->w, 2, L->in, L->out);
			n++;
			if (n < max)
				tensor(&out[n], L->bname[k], base[k] + L->b, 1, L->out, 0);
			n++;
		}
	if (n < max) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].name = "adam.step";
		out[n].dtype = GNARL_DTYPE_U64;
		out[n].data = &nn->adam_t;
	}
	return n + 1;
}

uint32_t gnarl_nn_layers(const struct gnarl_nn *nn)
{
	return nn->n_layers;
}

void gnarl_nn_layer(const struct gnarl_nn *nn, uint32_t l, struct gnarl_nn_layer *out)
{
	const struct layer *L = &nn->layers[l];

	out->name = L->wname[0];
	out->in = L->in;
	out->out = L->out;
	out->stack = L->stack;
	out->head = L->role == ROLE_POLICY ? GNARL_NN_POLICY : L->role == ROLE_VALUE ? GNARL_NN_VALUE : 0;
	out->first = L->input < 0;
}

uint64_t gnarl_nn_flops_forward(const struct gnarl_nn *nn, unsigned outputs)
{
	uint64_t f = 0;

	for (uint32_t s = 0; s < nn->n_stacks; s++) {
		if (!(gnarl_nn_stack_outputs(nn, s) & outputs))
			continue;
		for (uint32_t l = nn->stacks[s].first; l < nn->stacks[s].first + nn->stacks[s].count;
		     l++)
			if (layer_wanted(&nn->layers[l], outputs))
				f += 2ull * nn->layers[l].in * nn->layers[l].out;
	}
	return f;
}

uint64_t gnarl_nn_flops_backward(const struct gnarl_nn *nn)
{
	uint64_t f = 0;

	for (uint32_t l = 0; l < nn->n_layers; l++) {
		const struct layer *L = &nn->layers[l];
		f += 2ull * L->in * L->out * (L->input >= 0 ? 2 : 1);
	}
	return f;
}
