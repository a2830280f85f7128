/*
 * cartpole.c - the classic cart-pole balancing task with Gymnasium
 * CartPole-v1's constants and rules, for checking the learner against
 * CleanRL and Stable-Baselines3 on the task everybody measures PPO on.
 *
 * Physics: explicit Euler with tau 0.02, gravity 9.8, cart 1.0 kg, pole
 * 0.1 kg, half-length 0.5, force 10 N.  The episode terminates when
 * |x| > 2.4 or |theta| > 12 degrees and is truncated after `max_steps`
 * (500) steps; the env-native reward is 1 per step, the terminating step
 * included.  Reset draws all four state variables uniformly from
 * [-0.05, 0.05] with the env's own generator seeded by the host.
 *
 * Observation (4 floats): x, x_dot, theta, theta_dot.  Actions: LEFT,
 * RIGHT.  No game state, no frames.  The state is kept in double, as
 * Gymnasium does, and written to the host as float.
 *
 * State ops (checkpoints): the running episodes are saved as a small
 * little-endian record: "CPS1", n_envs, max_steps, then per env x, x_dot,
 * theta, theta_dot (IEEE doubles) and the step count.  Nothing else
 * carries over between steps (resets get their seeds from the host), so
 * a restored env continues bit for bit.  One env's state (the archive of
 * start states) is "CPE1" and that env's record.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <gnarl/plugin.h>

#define GRAVITY 9.8
#define MASS_CART 1.0
#define MASS_POLE 0.1
#define TOTAL_MASS (MASS_CART + MASS_POLE)
#define LENGTH 0.5 /* half the pole's length */
#define POLE_MASS_LENGTH (MASS_POLE * LENGTH)
#define FORCE_MAG 10.0
#define TAU 0.02
#define X_THRESHOLD 2.4
#define THETA_THRESHOLD (12.0 * 2.0 * 3.14159265358979323846 / 360.0)

#define OBS_DIM 4

struct pole {
	double x, x_dot, theta, theta_dot;
	uint32_t steps;
};

struct cartpole {
	uint32_t n;
	uint32_t max_steps;
	struct pole *envs;
};

static const char *const action_names[] = {"LEFT", "RIGHT"};

static const struct gnarl_param params[] = {
    {.name = "max_steps",
     .type = GNARL_PARAM_INT,
     .flags = GNARL_PARAM_HAS_MIN,
     .default_yaml = "500",
     .min = 1,
     .help = "steps after which an episode is truncated (CartPole-v1: 500)"},
    GNARL_PARAMS_END,
};

static void *cp_create(const struct gnarl_host *host, uint32_t n_envs,
                       char err[GNARL_ERR_SIZE])
{
	struct cartpole *cp;
	int64_t max_steps = gnarl_param_int(host, "max_steps", 500);

	if (n_envs == 0) {
		snprintf(err, GNARL_ERR_SIZE, "cartpole: env.n_envs must be at least 1");
		return NULL;
	}
	if (max_steps < 1 || max_steps > UINT32_MAX) {
		snprintf(err, GNARL_ERR_SIZE,
		         "cartpole: params.max_steps %lld is out of range; use 1 or more",
		         (long long)max_steps);
		return NULL;
	}
	cp = calloc(1, sizeof(*cp));
	if (cp)
		cp->envs = calloc(n_envs, sizeof(*cp->envs));
	if (!cp || !cp->envs) {
		free(cp);
		snprintf(err, GNARL_ERR_SIZE, "cartpole: out of memory for %u envs", n_envs);
		return NULL;
	}
	cp->n = n_envs;
	cp->max_steps = (uint32_t)max_steps;
	return cp;
}

static void cp_destroy(void *env)
{
	struct cartpole *cp = env;

	if (!cp)
		return;
	free(cp->envs);
	free(cp);
}

static void cp_spaces(void *env, struct gnarl_env_spaces *out)
{
	(void)env;
	out->size = sizeof(*out);
	out->obs_dim = OBS_DIM;
	out->n_actions = 2;
	out->action_names = action_names;
	out->has_frames = false;
	out->has_game_state = false;
}

static void write_obs(const struct pole *p, float *obs)
{
	obs[0] = (float)p->x;
	obs[1] = (float)p->x_dot;
	obs[2] = (float)p->theta;
	obs[3] = (float)p->theta_dot;
}

/* splitmix64: the plugin's own small generator (plugins link nothing of
 * gnarl). */
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0));
}

static void cp_reset(void *env, const struct gnarl_env_io *io, uint32_t index,
                     uint64_t seed)
{
	struct cartpole *cp = env;
	struct pole *p = &cp->envs[index];
	uint64_t s = seed;

	p->x = uniform(&s, -0.05, 0.05);
	p->x_dot = uniform(&s, -0.05, 0.05);
	p->theta = uniform(&s, -0.05, 0.05);
	p->theta_dot = uniform(&s, -0.05, 0.05);
	p->steps = 0;
	write_obs(p, io->obs + (size_t)index * io->obs_stride);
}

static void cp_step(void *env, const struct gnarl_env_io *io, uint32_t first,
                    uint32_t count)
{
	struct cartpole *cp = env;

	for (uint32_t i = first; i < first + count; i++) {
		struct pole *p = &cp->envs[i];
		double force = io->actions[i] == 1 ? FORCE_MAG : -FORCE_MAG;
		double c = cos(p->theta), s = sin(p->theta);
		double temp = (force + POLE_MASS_LENGTH * p->theta_dot * p->theta_dot * s) / TOTAL_MASS;
		double theta_acc = (GRAVITY * s - c * temp) /
		                   (LENGTH * (4.0 / 3.0 - MASS_POLE * c * c / TOTAL_MASS));
		double x_acc = temp - POLE_MASS_LENGTH * theta_acc * c / TOTAL_MASS;
		uint8_t done = 0;

		p->x += TAU * p->x_dot;
		p->x_dot += TAU * x_acc;
		p->theta += TAU * p->theta_dot;
		p->theta_dot += TAU * theta_acc;
		p->steps++;
		if (p->x < -X_THRESHOLD || p->x > X_THRESHOLD || p->theta < -THETA_THRESHOLD ||
		    p->theta > THETA_THRESHOLD)
			done |= GNARL_DONE_TERMINATED;
		if (p->steps >= cp->max_steps)
			done |= GNARL_DONE_TRUNCATED;
		write_obs(p, io->obs + (size_t)i * io->obs_stride);
		io->rewards[i] = 1.0f;
		io->dones[i] = done;
	}
}

/* ---- state ops ---------------------------------------------------------- */

#define STATE_MAGIC 0x31535043u /* "CPS1" little-endian */
#define STATE_HEAD 12u
#define STATE_ENV 36u

static size_t cp_state_size(void *env)
{
	struct cartpole *cp = env;

	return STATE_HEAD + (size_t)cp->n * STATE_ENV;
}

static void save_pole(const struct pole *pl, uint8_t *e)
{
	gnarl_put_f64(e, pl->x);
	gnarl_put_f64(e + 8, pl->x_dot);
	gnarl_put_f64(e + 16, pl->theta);
	gnarl_put_f64(e + 24, pl->theta_dot);
	gnarl_put_u32(e + 32, pl->steps);
}

static void load_pole(struct pole *pl, const uint8_t *e)
{
	pl->x = gnarl_get_f64(e);
	pl->x_dot = gnarl_get_f64(e + 8);
	pl->theta = gnarl_get_f64(e + 16);
	pl->theta_dot = gnarl_get_f64(e + 24);
	pl->steps = gnarl_get_u32(e + 32);
}

static int cp_save_state(void *env, void *buf, size_t size)
{
	struct cartpole *cp = env;
	uint8_t *p = buf;

	if (size != cp_state_size(env))
		return GNARL_EINVAL;
	gnarl_put_u32(p, STATE_MAGIC);
	gnarl_put_u32(p + 4, cp->n);
	gnarl_put_u32(p + 8, cp->max_steps);
	for (uint32_t i = 0; i < cp->n; i++)
		save_pole(&cp->envs[i], p + STATE_HEAD + (size_t)i * STATE_ENV);
	return 0;
}

static int cp_load_state(void *env, const struct gnarl_env_io *io, const void *buf,
                         size_t size, char err[GNARL_ERR_SIZE])
{
	struct cartpole *cp = env;
	const uint8_t *p = buf;

	if (size < STATE_HEAD || gnarl_get_u32(p) != STATE_MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "cartpole: the saved state is not a cartpole state "
		         "(%zu bytes, no CPS1 header)", size);
		return GNARL_ECORRUPT;
	}
	if (gnarl_get_u32(p + 4) != cp->n || size != cp_state_size(env)) {
		snprintf(err, GNARL_ERR_SIZE, "cartpole: the saved state holds %u envs in %zu bytes; "
		         "this instance has %u envs (%zu bytes)", gnarl_get_u32(p + 4), size, cp->n,
		         cp_state_size(env));
		return GNARL_EINCOMPAT;
	}
	for (uint32_t i = 0; i < cp->n; i++) {
		load_pole(&cp->envs[i], p + STATE_HEAD + (size_t)i * STATE_ENV);
		write_obs(&cp->envs[i], io->obs + (size_t)i * io->obs_stride);
	}
	return 0;
}

/* One env: "CPE1", then its record as above.  Any env's record loads into
 * any env (the pole has no world). */
#define ENV_MAGIC 0x31455043u /* "CPE1" little-endian */

static size_t cp_env_state_size(void *env)
{
	(void)env;
	return 4 + STATE_ENV;
}

static int cp_save_env_state(void *env, uint32_t index, void *buf, size_t size)
{
	struct cartpole *cp = env;

	if (index >= cp->n || size != cp_env_state_size(env))
		return GNARL_EINVAL;
	gnarl_put_u32(buf, ENV_MAGIC);
	save_pole(&cp->envs[index], (uint8_t *)buf + 4);
	return 0;
}

static int cp_load_env_state(void *env, const struct gnarl_env_io *io, uint32_t index,
                             const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct cartpole *cp = env;

	if (index >= cp->n || size != cp_env_state_size(env) || gnarl_get_u32(buf) != ENV_MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "cartpole: not one cartpole env's state (%zu bytes, "
		         "%zu expected with a CPE1 header) or env %u of %u", size,
		         cp_env_state_size(env), index, cp->n);
		return GNARL_ECORRUPT;
	}
	load_pole(&cp->envs[index], (const uint8_t *)buf + 4);
	write_obs(&cp->envs[index], io->obs + (size_t)index * io->obs_stride);
	return 0;
}

static const struct gnarl_env_ops ops = {
    .size = sizeof(struct gnarl_env_ops),
    .create = cp_create,
    .destroy = cp_destroy,
    .spaces = cp_spaces,
    .reset = cp_reset,
    .step = cp_step,
    .state_size = cp_state_size,
    .save_state = cp_save_state,
    .load_state = cp_load_state,
    .env_state_size = cp_env_state_size,
    .save_env_state = cp_save_env_state,
    .load_env_state = cp_load_env_state,
};

static const struct gnarl_plugin descriptor = {
    .abi_version = GNARL_ABI_VERSION,
    .size = sizeof(struct gnarl_plugin),
    .kind = GNARL_KIND_ENV,
    .name = "cartpole",
    .version = "1.2.0",
    .summary = "Gymnasium CartPole-v1: balance a pole on a cart (4 floats, 2 actions)",
    .params = params,
    .ops.env = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
