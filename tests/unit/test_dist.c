/*
 * test_dist.c - core/dist.c as one process (no launcher in the
 * environment: rank 0 of 1, collectives that leave data as it is, no MPI
 * call), and the data-parallel paths of core/ppo.c and
 * core/trainer_sync.c on such a one-process dist: the update's averaging
 * path takes exactly the plain update's steps, and the normalisers'
 * merge gives the statistics of every row seen.  Several real processes
 * are tested under mpirun by tests/integration/mpi_test.py.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dist.h"
#include "episode.h"
#include "nn.h"
#include "pool.h"
#include "ppo.h"
#include "rng.h"
#include "trainer_sync.h"
#include "value.h"

static struct gnarl_dist *one_process(void)
{
	struct gnarl_dist *d = NULL;
	char err[GNARL_ERR_SIZE];

	/* A launcher's variables would make init join an MPI job. */
	unsetenv("OMPI_COMM_WORLD_SIZE");
	unsetenv("PMI_SIZE");
	unsetenv("PMIX_RANK");
	assert_int_equal(gnarl_dist_init(&d, err), 0);
	assert_non_null(d);
	return d;
}

static void test_one_process(void **state)
{
	struct gnarl_dist *d = one_process();
	float x[3] = {1.5f, -2.0f, 3.25f};
	double y[2] = {0.5, 7.0}, all[2];
	char *s = strdup("run-1");

	(void)state;
	assert_int_equal(gnarl_dist_rank(d), 0);
	assert_int_equal(gnarl_dist_size(d), 1);
	assert_false(gnarl_dist_on(d));
	assert_int_equal(gnarl_dist_rank(NULL), 0);
	assert_int_equal(gnarl_dist_size(NULL), 1);
	gnarl_dist_average_f32(d, x, 3);
	assert_true(x[0] == 1.5f && x[1] == -2.0f && x[2] == 3.25f);
	gnarl_dist_bcast_f32(d, x, 3);
	assert_true(x[2] == 3.25f);
	gnarl_dist_average_f64(d, y, 2);
	assert_true(y[0] == 0.5 && y[1] == 7.0);
	gnarl_dist_allgather_f64(d, y, 2, all);
	assert_true(all[0] == 0.5 && all[1] == 7.0);
	assert_true(gnarl_dist_any(d, true));
	assert_false(gnarl_dist_any(d, false));
	gnarl_dist_bcast_string(d, &s);
	assert_string_equal(s, "run-1");
	assert_true(gnarl_dist_reduce_seconds(d) == 0.0);
	free(s);
	gnarl_dist_finalize(d);
	gnarl_dist_finalize(NULL);
}

/* ---- ppo's data-parallel paths ------------------------------------------ */

static struct gnarl_ppo_config config(uint32_t threads, double target_kl)
{
	struct gnarl_ppo_config c = {.T = 64,
	                             .N = 4,
	                             .O = 6,
	                             .O_env = 5,
	                             .epochs = 3,
	                             .minibatch = 64,
	                             .learning_rate = 1e-3,
	                             .gamma = 0.99,
	                             .gae_lambda = 0.95,
	                             .clip_coef = 0.2,
	                             .value_clip = 0.2,
	                             .ent_coef = 0.01,
	                             .vf_coef = 0.5,
	                             .max_grad_norm = 0.5,
	                             .target_kl = target_kl,
	                             .norm_adv = true,
	                             .obs_clip = 10.0,
	                             .reward_clip = 10.0,
	                             .adam_eps = 1e-5,
	                             .threads = threads};
	return c;
}

static struct gnarl_nn *network(bool shared)
{
	struct gnarl_nn_spec spec = {.inputs = 6,
	                             .n_actions = 3,
	                             .n_hidden = 2,
	                             .hidden = {8, 8},
	                             .activation = GNARL_NN_TANH,
	                             .shared = shared,
	                             .max_batch = 64};
	struct gnarl_nn *nn = NULL;
	char err[GNARL_ERR_SIZE];

	assert_int_equal(gnarl_nn_create(&spec, 3, &nn, err), 0);
	return nn;
}

/* Two updates of a fixed buffer; the parameters into out (n floats). */
static void updates(struct gnarl_dist *d, bool shared, uint32_t threads, double target_kl,
                    float *out, size_t n, struct gnarl_ppo_stats *st)
{
	struct gnarl_nn *nn = network(shared);
	struct gnarl_ppo_config c = config(threads, target_kl);
	struct gnarl_pool *pool;
	struct gnarl_ppo *p;
	struct gnarl_ppo_buffer *b;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];

	c.dist = d;
	assert_int_equal(gnarl_pool_create(threads, &pool, err), 0);
	assert_int_equal(gnarl_ppo_create(&c, nn, pool, &p, err), 0);
	b = gnarl_ppo_buffer(p);
	gnarl_rng_seed(&rng, 11);
	for (uint32_t i = 0; i < c.T * c.N; i++) {
		for (uint32_t j = 0; j < c.O; j++)
			b->obs[i * c.O + j] = gnarl_rng_float(&rng) - 0.5f;
		b->actions[i] = (int32_t)gnarl_rng_below(&rng, 3);
		b->logp[i] = -1.1f;
		b->adv[i] = gnarl_rng_float(&rng) - 0.5f;
		b->values[i] = gnarl_rng_float(&rng);
		b->ret[i] = b->values[i] + b->adv[i];
	}
	gnarl_rng_seed(&rng, 5);
	for (int k = 0; k < 2; k++)
		gnarl_ppo_update(p, 1e-3, &rng, st);
	assert_int_equal(gnarl_nn_size(nn), n);
	memcpy(out, gnarl_nn_params(nn), n * sizeof(float));
	gnarl_ppo_free(p);
	gnarl_pool_free(pool);
	gnarl_nn_free(nn);
}

/* With one process the averaging path (an extra barrier, norms after
 * the average, the KL test on the averaged KL) is the plain update. */
static void same_update(bool shared, uint32_t threads, double target_kl)
{
	struct gnarl_dist *d = one_process();
	struct gnarl_nn *probe = network(shared);
	size_t n = gnarl_nn_size(probe);
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	struct gnarl_ppo_stats sa, sb;

	gnarl_nn_free(probe);
	updates(NULL, shared, threads, target_kl, a, n, &sa);
	updates(d, shared, threads, target_kl, b, n, &sb);
	assert_memory_equal(a, b, n * sizeof(float));
	assert_true(sa.policy_loss == sb.policy_loss && sa.grad_norm == sb.grad_norm);
	assert_int_equal(sa.epochs, sb.epochs);
	assert_int_equal(sa.minibatches, sb.minibatches);
	if (target_kl > 0.0)
		assert_int_equal(sb.epochs, 1); /* logp -1.1 vs ~log(1/3): KL at once */
	else
		assert_int_equal(sb.epochs, 3);
	free(a);
	free(b);
	gnarl_dist_finalize(d);
}

static void test_update_averaging_path(void **state)
{
	(void)state;
	same_update(false, 1, 0.0);
	same_update(false, 2, 0.0); /* actor and critic on two threads */
	same_update(true, 1, 0.0);
	same_update(false, 2, 1e-9);
}

/* The merge rebuilds the statistics from the base and the rows since:
 * the exact mean and variance of the prior (mean 0, var 1, weight 1e-4)
 * and every row, whichever merges happened between. */
static void test_merge_stats(void **state)
{
	enum { N = 4, O = 6, E = 5 };
	struct gnarl_dist *d = one_process();
	struct gnarl_nn *nn = network(false);
	struct gnarl_ppo_config c = config(1, 0.0);
	struct gnarl_ppo *p;
	struct gnarl_tensor t[8];
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];
	float rows[7][N * O], out[N * O];
	double sum[E] = {0}, count = 1e-4;

	(void)state;
	c.dist = d;
	c.normalize_obs = true;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	gnarl_rng_seed(&rng, 2);
	for (int b = 0; b < 7; b++) {
		for (int i = 0; i < N * O; i++)
			rows[b][i] = 3.0f * gnarl_rng_float(&rng) + (float)(i % O);
		gnarl_ppo_normalize_obs(p, rows[b], out, N, true);
		if (b == 2 || b == 6)
			gnarl_ppo_merge_stats(p);
	}
	assert_int_equal(gnarl_ppo_tensors(p, t, 8), 7);
	for (int b = 0; b < 7; b++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < E; j++)
				sum[j] += rows[b][i * O + j];
	count += 7 * N;
	assert_float_equal(*(double *)t[2].data, count, 1e-9);
	for (int j = 0; j < E; j++) {
		double m = sum[j] / count, m2 = 1e-4 * (1.0 + m * m);
		for (int b = 0; b < 7; b++)
			for (int i = 0; i < N; i++)
				m2 += pow(rows[b][i * O + j] - m, 2);
		assert_float_equal(((double *)t[0].data)[j], m, 1e-9);
		assert_float_equal(((double *)t[1].data)[j], m2 / count, 1e-9);
	}
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
	gnarl_dist_finalize(d);
}

/* ---- trainer_sync as one process ----------------------------------------- */

static void test_trainer_sync_one(void **state)
{
	struct gnarl_dist *d = one_process();
	struct gnarl_nn *nn = network(true);
	struct gnarl_ppo_config c = config(1, 0.0);
	struct gnarl_trainer_sync *s;
	struct gnarl_episode *ep;
	struct gnarl_episode_record rec;
	struct gnarl_episode_means local, merged;
	struct gnarl_ppo *p;
	char err[GNARL_ERR_SIZE];
	uint64_t episodes = 7;
	float terms[2] = {0.5f, -1.0f};

	(void)state;
	c.dist = d;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	assert_int_equal(gnarl_episode_create(2, 2, 10, &ep, err), 0);
	for (uint32_t k = 0; k < 3; k++) {
		gnarl_episode_begin(ep, k % 2, NULL);
		for (uint32_t step = 0; step <= k; step++)
			gnarl_episode_step(ep, k % 2, 1.0f + (float)k, 1.0f, terms, 1, NULL);
		gnarl_episode_end(ep, k % 2, GNARL_DONE_TERMINATED, &rec);
		gnarl_episode_add(ep, &rec);
	}
	assert_int_equal(gnarl_trainer_sync_create(d, 2, &s, err), 0);
	assert_false(gnarl_trainer_sync_episodes(s, &episodes, &merged));
	assert_int_equal(episodes, 7);
	gnarl_trainer_sync_join(s, nn);
	gnarl_trainer_sync_iteration(s, p, nn, ep, 1);
	assert_true(gnarl_trainer_sync_episodes(s, &episodes, &merged));
	gnarl_episode_means(ep, &local);
	assert_int_equal(episodes, 3);
	assert_int_equal(merged.count, local.count);
	assert_float_equal(merged.ret, local.ret, 1e-12);
	assert_float_equal(merged.length, local.length, 1e-12);
	assert_float_equal(merged.terms[0], local.terms[0], 1e-12);
	assert_float_equal(merged.terms[1], local.terms[1], 1e-12);
	volatile sig_atomic_t stop = 0;
	assert_false(gnarl_trainer_sync_stop(s, &stop));
	stop = 1;
	assert_true(gnarl_trainer_sync_stop(s, &stop));
	gnarl_trainer_sync_free(s);
	gnarl_episode_free(ep);
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
	gnarl_dist_finalize(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_process),
	    cmocka_unit_test(test_update_averaging_path),
	    cmocka_unit_test(test_merge_stats),
	    cmocka_unit_test(test_trainer_sync_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
