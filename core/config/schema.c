/*
 * schema.c - the declaration of every core config key (defaults, ranges,
 * help), as struct gnarl_param tables per section, and the check that
 * applies them to a loaded config (gnarl_schema_check).
 *
 * A key is declared here or in a plugin's table, nowhere else: a key no
 * table declares is an error.  The engine (types, ranges, did-you-mean,
 * defaults) is config.c's, shared with plugin params.
 */
#include "schema.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "error.h"

#define MIN_ (GNARL_PARAM_HAS_MIN)
#define RANGE_ (GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX)

/* Field order: name, type, item, flags, default, min, max, help, choices. */

static const struct gnarl_param run_params[] = {
	{"name", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "run directory name under storage; null: <env plugin>-<UTC YYYYmmdd-HHMMSS>", NULL},
	{"storage", GNARL_PARAM_STRING, 0, 0, "runs", 0, 0,
	 "root URI of runs: a path, file:///path or s3://bucket/prefix", NULL},
	{"seed", GNARL_PARAM_INT, 0, MIN_, "1", 0, 0, "seed of every random stream", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param env_params[] = {
	{"plugin", GNARL_PARAM_STRING, 0, 0, "overworld", 0, 0,
	 "env plugin: a name (overworld, gameboy, cartpole) or a path to a .so", NULL},
	{"params", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the env plugin's params", NULL},
	{"num_envs", GNARL_PARAM_INT, 0, MIN_, "16", 1, 0, "envs stepped by each process",
	 NULL},
	{"threads", GNARL_PARAM_INT, 0, MIN_, "1", 1, 0,
	 "threads stepping envs (each takes a contiguous range)", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param reward_params[] = {
	{"plugin", GNARL_PARAM_STRING, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "reward plugin: a name or a path to a .so", NULL},
	{"name", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "the term's name in logs (reward/<name>); null: the plugin's name", NULL},
	{"weight", GNARL_PARAM_FLOAT, 0, 0, "1.0", 0, 0, "the term is multiplied by this",
	 NULL},
	{"params", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the reward plugin's params", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param llm_params[] = {
	{"plugin", GNARL_PARAM_STRING, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "LLM plugin: a name (llm_text, llm_vision) or a path to a .so", NULL},
	{"probability", GNARL_PARAM_FLOAT, 0, RANGE_, "null", 0, 1,
	 "chance per env per step of asking; null: the plugin's default", NULL},
	{"alignment_bonus", GNARL_PARAM_FLOAT, 0, 0, "null", 0, 0,
	 "reward when the action equals the suggestion; null: the plugin's default", NULL},
	{"bonus_decay", GNARL_PARAM_FLOAT, 0, RANGE_, "0.0", 0, 1,
	 "the bonus is multiplied by (1 - bonus_decay) each iteration", NULL},
	{"ttl", GNARL_PARAM_INT, 0, MIN_, "32", 1, 0,
	 "steps a suggestion stays valid (or until the room changes)", NULL},
	{"cache_ttl_steps", GNARL_PARAM_INT, 0, MIN_, "2048", 0, 0,
	 "steps a cached answer per (group, room, position) is reused; 0: no cache", NULL},
	{"params", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the LLM plugin's params", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param policy_params[] = {
	{"hidden", GNARL_PARAM_LIST, GNARL_PARAM_INT, MIN_, "[256, 256, 256]", 1, 0,
	 "widths of the hidden layers", NULL},
	{"activation", GNARL_PARAM_STRING, 0, 0, "relu", 0, 0, "hidden-layer activation",
	 "relu|tanh"},
	{"shared", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "true: one trunk with policy and value heads; false: separate actor and critic",
	 NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param ppo_params[] = {
	{"total_steps", GNARL_PARAM_INT, 0, MIN_, "10000000", 1, 0,
	 "env steps to train for (all processes together)", NULL},
	{"rollout_steps", GNARL_PARAM_INT, 0, MIN_, "256", 1, 0,
	 "steps per env per rollout (batch = rollout_steps * num_envs)", NULL},
	{"epochs", GNARL_PARAM_INT, 0, MIN_, "10", 1, 0, "passes over each batch", NULL},
	{"minibatch_size", GNARL_PARAM_INT, 0, MIN_, "512", 1, 0, "samples per gradient step",
	 NULL},
	{"learning_rate", GNARL_PARAM_FLOAT, 0, MIN_, "3e-4", 0, 0, "Adam step size", NULL},
	{"lr_schedule", GNARL_PARAM_STRING, 0, 0, "constant", 0, 0,
	 "linear: anneal the learning rate to 0 at total_steps", "constant|linear"},
	{"gamma", GNARL_PARAM_FLOAT, 0, RANGE_, "0.99", 0, 1, "discount factor", NULL},
	{"gae_lambda", GNARL_PARAM_FLOAT, 0, RANGE_, "0.95", 0, 1, "GAE lambda", NULL},
	{"clip_coef", GNARL_PARAM_FLOAT, 0, MIN_, "0.2", 0, 0, "policy ratio clip", NULL},
	{"value_clip", GNARL_PARAM_FLOAT, 0, MIN_, "10.0", 0, 0,
	 "value-function clip around the old value; 0: no value clipping", NULL},
	{"ent_coef", GNARL_PARAM_FLOAT, 0, MIN_, "0.01", 0, 0, "entropy bonus coefficient",
	 NULL},
	{"vf_coef", GNARL_PARAM_FLOAT, 0, MIN_, "0.5", 0, 0, "value loss coefficient", NULL},
	{"max_grad_norm", GNARL_PARAM_FLOAT, 0, MIN_, "0.5", 0, 0,
	 "global gradient-norm clip; 0: no clipping", NULL},
	{"target_kl", GNARL_PARAM_FLOAT, 0, MIN_, "null", 0, 0,
	 "stop the epochs early when approx KL exceeds this; null: never", NULL},
	{"norm_adv", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0, "normalise advantages per minibatch",
	 NULL},
	{"normalize_obs", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "running mean/std normalisation of observations", NULL},
	{"normalize_reward", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "scale rewards by the running std of the discounted return", NULL},
	{"obs_clip", GNARL_PARAM_FLOAT, 0, MIN_, "10.0", 0, 0,
	 "clip normalised observations to [-obs_clip, obs_clip]", NULL},
	{"reward_clip", GNARL_PARAM_FLOAT, 0, MIN_, "10.0", 0, 0,
	 "clip normalised rewards to [-reward_clip, reward_clip]", NULL},
	{"adam_eps", GNARL_PARAM_FLOAT, 0, MIN_, "1e-5", 0, 0, "Adam epsilon", NULL},
	{"blas_threads", GNARL_PARAM_INT, 0, MIN_, "0", 0, 0,
	 "learner threads (2: the update on two threads; also OpenBLAS's); 0: the cores",
	 NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param checkpoint_params[] = {
	{"every", GNARL_PARAM_INT, 0, MIN_, "50", 0, 0,
	 "save every N iterations; 0: only at the end", NULL},
	{"keep_last", GNARL_PARAM_INT, 0, MIN_, "5", 1, 0, "checkpoints kept besides the best "
	 "and tagged ones", NULL},
	{"keep_best", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "also keep the checkpoint with the best mean return", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param metrics_params[] = {
	{"upload_every", GNARL_PARAM_INT, 0, MIN_, "null", 1, 0,
	 "upload progress.csv and events every N iterations; null: every iteration for a "
	 "local run, at checkpoints for a remote one", NULL},
	{"tensorboard", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0, "write TensorBoard event files",
	 NULL},
	{"episodes", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "write a JSON summary of every episode", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param hud_params[] = {
	{"port", GNARL_PARAM_INT, 0, RANGE_, "0", 0, 65535,
	 "serve the web HUD on bind:port (read-only: curves, frame, LLM suggestions); 0: off",
	 NULL},
	{"bind", GNARL_PARAM_STRING, 0, 0, "127.0.0.1", 0, 0,
	 "address the HUD listens on: 127.0.0.1 (this machine only), or 0.0.0.0 / :: for "
	 "every interface (then hud.token or hud.public is required)", NULL},
	{"token", GNARL_PARAM_STRING, 0, GNARL_PARAM_SECRET, "null", 0, 0,
	 "a secret of at least 16 characters every request must carry (open "
	 "http://HOST:PORT/?token=...); write ${GNARL_HUD_TOKEN} to keep it out of the file",
	 NULL},
	{"public", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "serve a non-loopback hud.bind without a token: anyone who can reach the port sees "
	 "the run", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param log_params[] = {
	{"every_seconds", GNARL_PARAM_FLOAT, 0, MIN_, "10", 0, 0,
	 "piped or redirected stderr: a progress line at most this often (the first and last "
	 "always); 0: every iteration", NULL},
	{"status_line", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "on a terminal, one status line updated in place; false: plain lines there too", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param video_params[] = {
	{"every", GNARL_PARAM_INT, 0, MIN_, "0", 0, 0,
	 "record env 0's next whole episode every N iterations: <run>/videos/, TensorBoard, the "
	 "HUD; 0: off", NULL},
	{"format", GNARL_PARAM_STRING, 0, 0, "mp4", 0, 0,
	 "the run's video files: mp4 (H.264) or webm (VP9)", "mp4|webm"},
	{"fps", GNARL_PARAM_INT, 0, RANGE_, "30", 1, 240, "frames (env steps) per second of video",
	 NULL},
	{"scale", GNARL_PARAM_INT, 0, RANGE_, "2", 1, 8,
	 "pixels per frame pixel in video files (nearest neighbour)", NULL},
	{"max_frames", GNARL_PARAM_INT, 0, MIN_, "4096", 1, 0,
	 "a recorded episode ends its video after this many frames", NULL},
	{"tensorboard", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "also an animated GIF of the episode in TensorBoard (IMAGES, tag video/episode)", NULL},
	GNARL_PARAMS_END,
};

/* Checked further by core/learn/archive.c (the cell's fields, the score). */
static const struct gnarl_param archive_params[] = {
	{"enabled", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "start episodes from archived game states (Go-Explore); the env needs one-env state "
	 "ops and a game state", NULL},
	{"start_prob", GNARL_PARAM_FLOAT, 0, RANGE_, "0.5", 0, 1,
	 "chance that a reset starts from an archived cell instead of the env's normal start",
	 NULL},
	{"cell", GNARL_PARAM_MAP, 0, 0, "{group: 1, room: 1, x: 48, y: 48, milestones: 1}", 0, 0,
	 "game-state field -> bucket size: a cell is the tuple of each field / its bucket "
	 "(x, y in pixels; milestones: the sword/Maku/key/dungeon mask)", NULL},
	{"keep", GNARL_PARAM_STRING, 0, 0, "best", 0, 0,
	 "which state a cell keeps: the first that reached it, or the best by `score`",
	 "first|best"},
	{"score", GNARL_PARAM_STRING, 0, 0, "-frame", 0, 0,
	 "a game-state field, higher is better; '-' in front: lower is better (-frame: the "
	 "quickest way there)", NULL},
	{"weighting", GNARL_PARAM_STRING, 0, 0, "rare_recent", 0, 0,
	 "how a start cell is chosen: 1/sqrt(1 + visits) (rare) times recent_steps / "
	 "(recent_steps + steps since found) (recent), both, or uniform",
	 "rare_recent|rare|recent|uniform"},
	{"recent_steps", GNARL_PARAM_INT, 0, MIN_, "1000000", 1, 0,
	 "env steps after which a cell's recency weight has halved", NULL},
	{"max_cells", GNARL_PARAM_INT, 0, RANGE_, "4096", 16, 1048576,
	 "cells kept (their states are allocated up front); past it the least useful "
	 "(lowest weight, then oldest) are evicted", NULL},
	{"explore_steps", GNARL_PARAM_INT, 0, MIN_, "0", 0, 0,
	 "steps an episode started from a cell lasts at most (ended as truncated, so the value "
	 "bootstraps; then another start is drawn); 0: until the episode's own end", NULL},
	{"merge_every", GNARL_PARAM_INT, 0, MIN_, "10", 1, 0,
	 "data-parallel: iterations between merges of every rank's archive", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_param root_params[] = {
	{"run", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the run: name, storage root, seed", NULL},
	{"env", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the environment plugin and its params",
	 NULL},
	{"rewards", GNARL_PARAM_LIST, GNARL_PARAM_MAP, 0, "[]", 0, 0,
	 "reward terms: [{plugin, name, weight, params}]", NULL},
	{"llm", GNARL_PARAM_LIST, GNARL_PARAM_MAP, 0, "[]", 0, 0,
	 "LLM guidance: [{plugin, probability, alignment_bonus, ..., params}]", NULL},
	{"storage", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0,
	 "storage plugin name -> its params (e.g. s3: {endpoint: ...})", NULL},
	{"restore", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "checkpoint to resume from: PATH, s3://..., latest or tag:NAME", NULL},
	{"policy", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the network", NULL},
	{"ppo", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "PPO hyperparameters", NULL},
	{"checkpoint", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "when to save and what to keep",
	 NULL},
	{"metrics", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "what the run reports", NULL},
	{"hud", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "the web HUD", NULL},
	{"log", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "what long commands print on stderr", NULL},
	{"video", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "videos of episodes", NULL},
	{"archive", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0,
	 "the archive of start states (Go-Explore)", NULL},
	GNARL_PARAMS_END,
};

static const struct gnarl_schema_section sections[] = {
	{"run", GNARL_SCHEMA_MAP, run_params, "the run: name, storage root, seed"},
	{"env", GNARL_SCHEMA_MAP, env_params, "the environment plugin"},
	{"rewards", GNARL_SCHEMA_LIST, reward_params, "reward terms, summed with weights"},
	{"llm", GNARL_SCHEMA_LIST, llm_params, "LLM guidance plugins"},
	{"storage", GNARL_SCHEMA_PLUGIN_MAP, NULL, "storage plugin name -> its params"},
	{"restore", GNARL_SCHEMA_VALUE, NULL, "checkpoint to resume from"},
	{"policy", GNARL_SCHEMA_MAP, policy_params, "the network"},
	{"ppo", GNARL_SCHEMA_MAP, ppo_params, "PPO hyperparameters"},
	{"checkpoint", GNARL_SCHEMA_MAP, checkpoint_params, "checkpoint schedule and retention"},
	{"metrics", GNARL_SCHEMA_MAP, metrics_params, "metrics output"},
	{"hud", GNARL_SCHEMA_MAP, hud_params, "web HUD"},
	{"log", GNARL_SCHEMA_MAP, log_params, "progress on stderr"},
	{"video", GNARL_SCHEMA_MAP, video_params, "videos of episodes"},
	{"archive", GNARL_SCHEMA_MAP, archive_params, "archive of start states"},
	{NULL, 0, NULL, NULL},
};

const struct gnarl_schema_section *gnarl_schema_sections(void)
{
	return sections;
}

const struct gnarl_param *gnarl_schema_root(void)
{
	return root_params;
}

const struct gnarl_param *gnarl_schema_table(const char *name)
{
	for (const struct gnarl_schema_section *s = sections; s->name; s++)
		if (!strcmp(s->name, name))
			return s->table;
	return NULL;
}

/* ------------------------------------------------------------------------ */

/* node = the plugin's name: "x/my_term.so" -> "my_term", "movement" as is. */
static int set_stem(struct gnarl_config *cfg, struct gnarl_value *node, const char *plugin)
{
	const char *base = strrchr(plugin, '/');
	char buf[256];
	size_t n;

	base = base ? base + 1 : plugin;
	n = strlen(base);
	if (n > 3 && !strcmp(base + n - 3, ".so"))
		n -= 3;
	snprintf(buf, sizeof(buf), "%.*s", (int)n, base);
	return gnarl_tree_set_string(cfg->tree, node, buf);
}

static int check_list(struct gnarl_config *cfg, const struct gnarl_schema_section *s,
                      struct gnarl_value *list, char err[GNARL_ERR_SIZE])
{
	char path[64];

	for (size_t i = 0; i < list->count; i++) {
		struct gnarl_value *item = (struct gnarl_value *)&list->items[i];
		struct gnarl_value *name;
		int rc;

		snprintf(path, sizeof(path), "%s.%zu", s->name, i);
		if (item->type != GNARL_VALUE_MAP)
			return gnarl_config_error(cfg, item, path, err, "expected a map "
			                          "{plugin: NAME, ...}, got %s",
			                          gnarl_value_type_noun(item->type));
		rc = gnarl_config_check_params(cfg, item, s->table, path, err);
		if (rc)
			return rc;
		name = gnarl_tree_at(item, "name");
		if (name && name->type == GNARL_VALUE_NULL &&
		    set_stem(cfg, name, gnarl_value_string(gnarl_value_get(item, "plugin"), "")))
			return GNARL_ENOMEM;
	}
	return 0;
}

static int check_storage(struct gnarl_config *cfg, struct gnarl_value *map,
                         char err[GNARL_ERR_SIZE])
{
	char path[300];

	for (size_t k = 0; k < map->count; k++) {
		struct gnarl_value *v = (struct gnarl_value *)&map->items[k];
		const char *name = map->keys[k];

		snprintf(path, sizeof(path), "storage.%s", name);
		if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
			return gnarl_config_error(cfg, v, path, err, "'%s' is not a plugin name "
			                          "(storage: maps plugin names like local or s3 "
			                          "to their params)", name);
		if (v->type == GNARL_VALUE_NULL)
			v->type = GNARL_VALUE_MAP;
		if (v->type != GNARL_VALUE_MAP)
			return gnarl_config_error(cfg, v, path, err, "expected a map of the %s "
			                          "plugin's params, got %s", name,
			                          gnarl_value_type_noun(v->type));
	}
	return 0;
}

static int default_run_name(struct gnarl_config *cfg, char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *name = gnarl_tree_at((struct gnarl_value *)cfg->root, "run.name");
	const char *env = gnarl_value_string(gnarl_value_at(cfg->root, "env.plugin"), "env");
	const char *base = strrchr(env, '/');
	char buf[300], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!name || name->type != GNARL_VALUE_NULL)
		return 0;
	/* A path names the plugin by its file: "x/my_env.so" -> "my_env". */
	base = base ? base + 1 : env;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, sizeof(buf), "%.*s-%s", (int)strcspn(base, "."), base, stamp);
	if (gnarl_tree_set_string(cfg->tree, name, buf))
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	return 0;
}

int gnarl_schema_check(struct gnarl_config *cfg, char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *root = (struct gnarl_value *)cfg->root;
	int rc = gnarl_config_check_params(cfg, root, root_params, "", err);

	for (const struct gnarl_schema_section *s = sections; !rc && s->name; s++) {
		struct gnarl_value *node = gnarl_tree_at(root, s->name);

		if (!node)
			continue;
		if (s->shape == GNARL_SCHEMA_MAP)
			rc = gnarl_config_check_params(cfg, node, s->table, s->name, err);
		else if (s->shape == GNARL_SCHEMA_LIST)
			rc = check_list(cfg, s, node, err);
		else if (s->shape == GNARL_SCHEMA_PLUGIN_MAP)
			rc = check_storage(cfg, node, err);
	}
	if (!rc)
		rc = default_run_name(cfg, err);
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "out of memory checking the config");
	return rc;
}
