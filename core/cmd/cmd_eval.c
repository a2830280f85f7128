/*
 * cmd_eval.c - `gnarl eval`: play whole episodes of the config's env with a
 * trained policy (from a checkpoint) or the uniform random policy, and
 * print what they achieved: mean return, length, rooms discovered,
 * dungeons entered, enemies killed, deaths and milestone rates.
 *
 * Entry point: gnarl_cmd_eval (registered in cli.c).
 *
 * The env and the reward terms are created from the config as the trainer
 * creates them (registry, plugin hosts), with P = min(--episodes, 32) envs
 * played side by side; env n plays its share of the episodes, the k-th
 * from reset seed gnarl_rollout_reset_seed(--seed, n, k), so the numbers
 * depend only on the config, the policy, --episodes and --seed.  Episode
 * statistics come from core/episode.c (game states, not rewards); the
 * return is the configured reward (env-native + weighted terms).  The
 * rollout module is not used: eval needs frames of env 0 and envs that
 * stop after their share, which training never wants.
 *
 * The trained policy: a trainer built from the same config without a run
 * directory (gnarl_trainer_create, no_run_dir + quiet) supplies the
 * network and the observation normaliser; the checkpoint is opened,
 * verified (SHA-256 of every file), compared with the config (refused
 * changes fail) and its parameters and obs_rms statistics are loaded into
 * those views.  Nothing is written to the run's storage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "checkpoint.h"
#include "cli.h"
#include "config.h"
#include "console.h"
#include "episode.h"
#include "error.h"
#include "gauges.h"
#include "image.h"
#include "nn.h"
#include "plugin_host.h"
#include "ppo.h"
#include "registry.h"
#include "rng.h"
#include "rollout.h"
#include "safetensors.h"
#include "storage.h"
#include "term.h"
#include "trainer.h"
#include "value.h"
#include "video.h"

int gnarl_cmd_eval(int argc, char **argv);

const char gnarl_cmd_eval_usage[] =
    "usage: gnarl eval [-c FILE] [--restore URI] [--policy random|trained]\n"
    "                  [--episodes N] [--greedy] [--frames DIR] [--video FILE]\n"
    "                  [--seed S]\n"
    "                  [--set KEY=VALUE]... [--json]\n"
    "\n"
    "Play N whole episodes of the config's env and print the means of return,\n"
    "length, rooms discovered, dungeons entered and enemies killed, the share of\n"
    "episodes that died, and the milestone rates (sword, Maku Tree, Gnarled Key,\n"
    "dungeon: the share of episodes that reached each).  Rooms, dungeons, kills and\n"
    "milestones are read from the game state, whatever the reward terms; the return\n"
    "is the config's reward.  LLM guidance is off, and every episode starts from the\n"
    "env's normal start, never from the archive of start states (archive.enabled);\n"
    "the checkpoint's archive, where training's envs got from any start, is reported\n"
    "on its own.  Nothing is written to the run.\n"
    "Progress goes to stderr as gnarl train's does (log.every_seconds).\n"
    "\n"
    "  -c FILE            the config the policy was trained with (default\n"
    "                     configs/env.yaml, else the installed one)\n"
    "  --restore URI      the checkpoint: a checkpoint or run directory, s3://...,\n"
    "                     `latest` or `tag:NAME` (in run.storage)\n"
    "  --policy P         trained (the default; needs --restore) or random (uniform\n"
    "                     actions: the baseline, no checkpoint)\n"
    "  --episodes N       episodes to play (default 32)\n"
    "  --greedy           take the most likely action (default: sample, as in training)\n"
    "  --frames DIR       write each step of the first episode as DIR/frame_NNNNNN.png\n"
    "                     (160x144; frame 0 is the start)\n"
    "  --video FILE       write the first episode as a video: FILE.mp4 (H.264),\n"
    "                     .webm (VP9) or .gif, at video.fps frames per second,\n"
    "                     scaled video.scale times (needs FFmpeg's libraries)\n"
    "  --seed S           seed of the episodes' resets and of sampling (default run.seed)\n"
    "  --set KEY=VALUE    override any key; repeatable\n"
    "  --json             print one JSON object on stdout: return_mean, length_mean,\n"
    "                     rooms_discovered_mean, dungeons_entered_mean,\n"
    "                     enemies_killed_mean, deaths_rate, milestones {name: rate},\n"
    "                     terms {name: mean}, episodes, policy, checkpoint, start\n"
    "                     (\"normal\"), archive {cells, rooms, milestones} or null\n";

#define MAX_PARALLEL 32
#define MAX_EPISODES 1000000

struct term {
	struct gnarl_plugin_host *host;
	struct gnarl_term *term;  /* the instance and its memory */
	const char *name;
	float weight;
};

/* What the checkpoint's archive of start states holds: where training's
 * envs got, from any start (not what this policy reaches from the normal
 * start). */
struct reach {
	bool present;
	uint32_t cells, rooms, milestones; /* milestones: enum gnarl_milestone bits */
};

/* Sums over finished episodes. */
struct tally {
	uint64_t episodes;
	double ret, length, rooms, dungeons, kills, deaths;
	double milestones[GNARL_MILESTONE_COUNT];
	double *terms;                 /* (K) */
};

struct eval {
	struct gnarl_cli_opts o;
	const char *restore, *frames_dir, *video_path;
	bool trained, greedy, has_seed;
	uint64_t seed;
	uint32_t episodes;

	struct gnarl_config *cfg;
	struct gnarl_registry *reg;
	struct gnarl_gauges *gauges;
	struct gnarl_plugin_host *env_host;
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_env_spaces sp;
	struct term *terms;
	uint32_t K;

	struct gnarl_trainer *trainer; /* trained policy: its network and normaliser */
	char *ck_uri;
	uint64_t ck_iteration;
	struct reach reach;            /* the checkpoint's archive of start states */

	uint32_t P, O;                 /* envs side by side, floats per obs row */
	float *obs, *x, *term_out;     /* (P, O), (P, O), (K, P) */
	float *env_rewards, *logp;     /* (P), (P) */
	int32_t *actions;              /* (P) */
	uint8_t *dones, *want, *frame; /* (P), (P), one frame: only env 0 asks */
	struct gnarl_game_state *states, *prev;
	uint32_t *left, *played;       /* (P) episodes still to start, started */
	struct gnarl_env_io io;
	struct gnarl_episode *ep;
	struct gnarl_rng rng;
	uint64_t frames_written;
	struct gnarl_video *video;     /* --video, while the first episode plays */
	struct gnarl_console con;
	struct tally tally;
};

/* ------------------------------------------------------------------------ */
/* Command line.                                                            */

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return gnarl_cli_usage_error("eval", "%s wants an integer in %llu..%llu, not '%s'",
		                             opt, (unsigned long long)lo, (unsigned long long)hi, s);
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct eval *ev)
{
	const char *policy = NULL;
	uint64_t v = 32;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = gnarl_cli_option(&ev->o, argc, argv, &i);

		if (rc < 0)
			return GNARL_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (!strcmp(a, "--greedy")) {
			ev->greedy = true;
			continue;
		}
		if (strcmp(a, "--restore") && strcmp(a, "--policy") && strcmp(a, "--episodes") &&
		    strcmp(a, "--frames") && strcmp(a, "--video") && strcmp(a, "--seed"))
			return gnarl_cli_usage_error("eval", a[0] == '-' ? "unknown option %s"
			                                                 : "unexpected argument '%s'", a);
		if (i + 1 >= argc)
			return gnarl_cli_usage_error("eval", "%s needs a value", a);
		const char *val = argv[++i];
		if (!strcmp(a, "--restore"))
			ev->restore = val;
		else if (!strcmp(a, "--policy"))
			policy = val;
		else if (!strcmp(a, "--frames"))
			ev->frames_dir = val;
		else if (!strcmp(a, "--video"))
			ev->video_path = val;
		else if (!strcmp(a, "--episodes") && parse_u64(a, val, 1, MAX_EPISODES, &v))
			return GNARL_EXIT_USAGE;
		else if (!strcmp(a, "--seed")) {
			if (parse_u64(a, val, 0, UINT64_MAX, &ev->seed))
				return GNARL_EXIT_USAGE;
			ev->has_seed = true;
		}
	}
	ev->episodes = (uint32_t)v;
	if (policy && strcmp(policy, "random") && strcmp(policy, "trained"))
		return gnarl_cli_usage_error("eval", "--policy is random or trained, not '%s'",
		                             policy);
	ev->trained = !policy || !strcmp(policy, "trained");
	if (ev->trained && !ev->restore)
		return gnarl_cli_usage_error("eval", "the trained policy needs --restore URI (a "
		                             "checkpoint); for the random baseline pass --policy "
		                             "random");
	if (!ev->trained && ev->restore)
		return gnarl_cli_usage_error("eval", "--restore loads a trained policy; it cannot go "
		                             "with --policy random");
	if (!ev->trained && ev->greedy)
		return gnarl_cli_usage_error("eval", "--greedy applies to the trained policy only");
	if (ev->video_path && !gnarl_video_format_known(ev->video_path))
		return gnarl_cli_usage_error("eval", "--video %s: name the file .mp4 (H.264), .webm "
		                             "(VP9) or .gif", ev->video_path);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The env and the reward terms, as the trainer makes them.                 */

static int create_plugins(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	struct gnarl_host_context ctx = {.config = ev->cfg, .gauges = ev->gauges, .world_size = 1};
	const struct gnarl_registry_entry *e = gnarl_registry_env(ev->reg);
	int rc = gnarl_registry_host(e, &ctx, &ev->env_host, err);

	if (rc)
		return rc;
	ev->ops = e->desc->ops.env;
	err[0] = '\0';
	ev->env = ev->ops->create(gnarl_plugin_host_table(ev->env_host), ev->P, err);
	if (!ev->env)
		return gnarl_plugin_create_failed(e->lib, e->slot, err);
	ev->sp.size = sizeof(ev->sp);
	ev->ops->spaces(ev->env, &ev->sp);
	ev->K = (uint32_t)gnarl_registry_count(ev->reg, GNARL_KIND_REWARD);
	ev->terms = calloc(ev->K + 1, sizeof(*ev->terms));
	if (!ev->terms)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	for (uint32_t k = 0; k < ev->K; k++) {
		struct term *tm = &ev->terms[k];
		e = gnarl_registry_get(ev->reg, GNARL_KIND_REWARD, k);
		tm->name = e->name;
		tm->weight = (float)gnarl_value_float(gnarl_value_get(e->section, "weight"), 1.0);
		rc = gnarl_registry_host(e, &ctx, &tm->host, err);
		if (rc)
			return rc;
		rc = gnarl_term_create(e->desc->ops.reward, gnarl_plugin_host_table(tm->host), ev->P,
		                       &tm->term, err);
		if (rc == GNARL_ECONFIG)
			return gnarl_plugin_create_failed(e->lib, e->slot, err);
		if (rc)
			return gnarl_err_prefix(err, rc, "%s: ", e->slot);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The trained policy.                                                      */

/* The views eval needs: the network's parameters (not its Adam moments)
 * and the observation normaliser. */
static uint32_t policy_views(struct gnarl_trainer *t, struct gnarl_tensor *out, uint32_t max)
{
	struct gnarl_tensor all[256];
	uint32_t n = 0, k;

	k = gnarl_nn_tensors(gnarl_trainer_nn(t), all, 256);
	k = k < 256 ? k : 256;
	for (uint32_t i = 0; i < k && n < max; i++)
		if (strncmp(all[i].name, "adam.", 5))
			out[n++] = all[i];
	k = gnarl_ppo_tensors(gnarl_trainer_ppo(t), all, 256);
	k = k < 256 ? k : 256;
	for (uint32_t i = 0; i < k && n < max; i++)
		if (!strncmp(all[i].name, "obs_rms.", 8))
			out[n++] = all[i];
	return n;
}

static int open_checkpoint(struct eval *ev, struct gnarl_checkpoint **ck,
                           char err[GNARL_ERR_SIZE])
{
	struct gnarl_storage *st = NULL;
	const char *root = gnarl_value_string(gnarl_value_at(ev->cfg->root, "run.storage"), "runs");
	int rc = 0;

	if (!strcmp(ev->restore, "latest") || !strncmp(ev->restore, "tag:", 4))
		rc = gnarl_storage_open(ev->cfg, root, &st, err);
	if (!rc)
		rc = gnarl_checkpoint_open(ev->cfg, st, "", ev->restore, 0, ck, err);
	gnarl_storage_close(st);
	return rc == GNARL_ENOENT ? GNARL_ECORRUPT : rc;
}

/* The checkpoint's archive of start states, summed up (none: !present;
 * one that cannot be read counts as none). */
static void read_reach(const struct gnarl_checkpoint *ck, struct reach *out)
{
	const struct gnarl_safetensors_entry *e =
	    gnarl_safetensors_find(gnarl_checkpoint_tensors(ck), GNARL_ARCHIVE_TENSOR);
	uint64_t seen[2048 / 64] = {0};
	struct gnarl_archive_info info;
	char err[GNARL_ERR_SIZE];

	memset(out, 0, sizeof(*out));
	if (!e || e->dtype != GNARL_DTYPE_U8 ||
	    gnarl_archive_info(e->data, (size_t)(e->end - e->begin), &info, err))
		return;
	out->present = true;
	out->cells = info.cells;
	for (uint32_t i = 0; i < info.cells; i++) {
		struct gnarl_archive_cell c;
		uint32_t k;
		gnarl_archive_info_cell(&info, i, &c);
		k = (uint32_t)(c.group & 7) << 8 | (uint32_t)(c.room & 255);
		out->rooms += !(seen[k / 64] >> (k % 64) & 1);
		seen[k / 64] |= 1ull << (k % 64);
		out->milestones |= c.milestones;
	}
}

static int load_policy(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer_options opt = {.no_run_dir = true, .quiet = true, .no_guidance = true,
	                                    .no_archive = true, .total_steps = UINT64_C(1) << 62};
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_checkpoint_diff *diff = NULL;
	struct gnarl_tensor views[256];
	const struct gnarl_manifest *m;
	uint32_t n;
	int rc = open_checkpoint(ev, &ck, err);

	if (!rc)
		rc = gnarl_checkpoint_diff(ck, ev->cfg->root, NULL, &diff, err);
	if (!rc && (rc = gnarl_checkpoint_diff_check(diff, err)))
		gnarl_err_prefix(err, rc, "--restore %s: the config does not fit the checkpoint: ",
		                 ev->restore);
	if (rc)
		goto out;
	m = gnarl_checkpoint_manifest(ck);
	rc = gnarl_trainer_create(ev->cfg, &opt, &ev->trainer, err);
	if (rc)
		goto out;
	n = policy_views(ev->trainer, views, 256);
	rc = gnarl_checkpoint_load(ck, views, n, 0, err);
	if (rc) {
		gnarl_err_prefix(err, rc, "%s: ", m->uri);
		goto out;
	}
	ev->ck_uri = strdup(m->uri);
	ev->ck_iteration = m->iteration;
	read_reach(ck, &ev->reach);
	if (!ev->ck_uri)
		rc = gnarl_err(err, GNARL_ENOMEM, "out of memory");
out:
	gnarl_checkpoint_diff_free(diff);
	gnarl_checkpoint_close(ck);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Playing.                                                                 */

static int alloc_arrays(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	const size_t P = ev->P, O = ev->O;

	ev->obs = calloc(2 * P * O + (ev->K + 2) * P, sizeof(float));
	ev->actions = calloc(P, sizeof(*ev->actions));
	ev->dones = calloc(2 * P, 1);
	ev->frame = calloc(1, GNARL_FRAME_BYTES);
	ev->states = calloc(2 * P, sizeof(*ev->states));
	ev->left = calloc(2 * P, sizeof(*ev->left));
	ev->tally.terms = calloc(ev->K + 1, sizeof(double));
	if (!ev->obs || !ev->actions || !ev->dones || !ev->frame || !ev->states || !ev->left ||
	    !ev->tally.terms)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory for %u envs", ev->P);
	ev->x = ev->obs + P * O;
	ev->term_out = ev->x + P * O;
	ev->env_rewards = ev->term_out + ev->K * P;
	ev->logp = ev->env_rewards + P;
	ev->want = ev->dones + P;
	ev->prev = ev->states + P;
	ev->played = ev->left + P;
	for (uint32_t n = 0; n < ev->P; n++)
		ev->left[n] = ev->episodes / ev->P + (n < ev->episodes % ev->P);
	ev->io = (struct gnarl_env_io){.size = sizeof(ev->io), .obs_stride = ev->O, .obs = ev->obs,
	                               .states = ev->sp.has_game_state ? ev->states : NULL,
	                               .actions = ev->actions, .rewards = ev->env_rewards,
	                               .dones = ev->dones, .want_frame = ev->want,
	                               .frames = ev->frame};
	return gnarl_episode_create(ev->P, ev->K, 1, &ev->ep, err);
}

static const struct gnarl_game_state *state_of(const struct eval *ev, uint32_t n)
{
	return ev->sp.has_game_state ? &ev->states[n] : NULL;
}

/* Env 0's frame of this step: a PNG (--frames), a video frame (--video). */
static int write_frame(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	char path[4096];
	int rc = 0;

	if (ev->video)
		rc = gnarl_video_add(ev->video, ev->frame, err);
	if (ev->frames_dir && !rc) {
		snprintf(path, sizeof(path), "%s/frame_%06llu.png", ev->frames_dir,
		         (unsigned long long)ev->frames_written);
		rc = gnarl_image_write_png(path, ev->frame, GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT,
		                           err);
	}
	ev->frames_written++;
	return rc;
}

/* The first episode is over: the video is finished. */
static int end_video(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	struct gnarl_video *v = ev->video;

	ev->video = NULL;
	return v ? gnarl_video_close(v, err) : 0;
}

static void start_episode(struct eval *ev, uint32_t n)
{
	ev->left[n]--;
	ev->want[n] = n == 0 && ev->played[n] == 0 && (ev->frames_dir || ev->video);
	ev->ops->reset(ev->env, &ev->io, n, gnarl_rollout_reset_seed(ev->seed, n, ev->played[n]));
	ev->played[n]++;
	for (uint32_t k = 0; k < ev->K; k++)
		gnarl_term_episode_start(ev->terms[k].term, n, state_of(ev, n));
	gnarl_episode_begin(ev->ep, n, state_of(ev, n));
}

static void count(struct eval *ev, const struct gnarl_episode_record *rec)
{
	struct tally *t = &ev->tally;

	t->episodes++;
	t->ret += rec->ret;
	t->length += (double)rec->length;
	t->rooms += rec->rooms;
	t->dungeons += rec->dungeons;
	t->kills += rec->enemies_killed;
	t->deaths += rec->terminated;
	for (unsigned i = 0; i < GNARL_MILESTONE_COUNT; i++)
		t->milestones[i] += (rec->milestones & (1u << i)) != 0;
	for (uint32_t k = 0; k < ev->K; k++)
		t->terms[k] += rec->terms[k];
}

/* One step of env n with actions[n]; true while its episodes go on. */
static bool step_env(struct eval *ev, uint32_t n)
{
	struct gnarl_episode_record rec;
	float total;

	if (ev->sp.has_game_state)
		ev->prev[n] = ev->states[n];
	ev->ops->step(ev->env, &ev->io, n, 1);
	total = ev->env_rewards[n];
	for (uint32_t k = 0; k < ev->K; k++) {
		float *out = ev->term_out + (size_t)k * ev->P;
		gnarl_term_compute(ev->terms[k].term, n, 1, ev->prev, ev->states, ev->actions, out);
		out[n] *= ev->terms[k].weight;
		total += out[n];
	}
	gnarl_episode_step(ev->ep, n, total, ev->env_rewards[n], ev->term_out + n, ev->P,
	                   state_of(ev, n));
	if (!ev->dones[n])
		return true;
	gnarl_episode_end(ev->ep, n, ev->dones[n], &rec);
	count(ev, &rec);
	if (ev->left[n] == 0)
		return false;
	start_episode(ev, n);
	return true;
}

static void choose_actions(struct eval *ev)
{
	const uint32_t P = ev->P, A = ev->sp.n_actions;
	struct gnarl_ppo *ppo;
	const float *logits;

	if (!ev->trained) {
		for (uint32_t n = 0; n < P; n++)
			ev->actions[n] = (int32_t)gnarl_rng_below(&ev->rng, A);
		return;
	}
	ppo = gnarl_trainer_ppo(ev->trainer);
	gnarl_ppo_normalize_obs(ppo, ev->obs, ev->x, P, false);
	if (!ev->greedy) {
		gnarl_ppo_sample(ppo, ev->x, P, &ev->rng, ev->actions, ev->logp);
		return;
	}
	gnarl_nn_forward(gnarl_trainer_nn(ev->trainer), ev->x, P, GNARL_NN_POLICY);
	logits = gnarl_nn_logits(gnarl_trainer_nn(ev->trainer));
	for (uint32_t n = 0; n < P; n++) {
		const float *l = logits + (size_t)n * A;
		uint32_t best = 0;
		for (uint32_t a = 1; a < A; a++)
			best = l[a] > l[best] ? a : best;
		ev->actions[n] = (int32_t)best;
	}
}

/* "[====>   ]  40% 40/100 episodes | 3.21 episodes/s | 19s left | return
 * 4533.0 | rooms 51.0": the running means of the finished episodes. */
static void show_progress(struct eval *ev, bool last)
{
	const struct tally *t = &ev->tally;
	char text[512];
	size_t at;

	if ((!t->episodes && !ev->con.tty) || !gnarl_console_due(&ev->con, t->episodes, last))
		return; /* a log's first line comes with the first episode */
	at = gnarl_console_progress(&ev->con, ev->con.tty, text, sizeof(text));
	if (t->episodes && at < sizeof(text))
		at += (size_t)snprintf(text + at, sizeof(text) - at, " | return %.1f",
		                       t->ret / (double)t->episodes);
	if (t->episodes && ev->sp.has_game_state && at < sizeof(text))
		snprintf(text + at, sizeof(text) - at, " | rooms %.1f",
		         t->rooms / (double)t->episodes);
	if (ev->con.tty) {
		gnarl_console_show(&ev->con, text, NULL);
	} else {
		char line[600];

		snprintf(line, sizeof(line), "eval: %s", text);
		gnarl_console_show(&ev->con, NULL, line);
	}
}

static int play(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	uint32_t active = ev->P;
	bool *on = calloc(ev->P, sizeof(*on));
	int rc = 0;

	if (!on)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	gnarl_rng_seed(&ev->rng, gnarl_rng_derive(ev->seed, 0x6576616c));
	for (uint32_t n = 0; n < ev->P; n++) {
		on[n] = true;
		start_episode(ev, n);
	}
	if (ev->want[0])
		rc = write_frame(ev, err);
	while (active > 0 && !rc) {
		choose_actions(ev);
		for (uint32_t n = 0; n < ev->P; n++) {
			bool recording = ev->want[n];
			if (!on[n])
				continue;
			on[n] = step_env(ev, n);
			active -= !on[n];
			/* The frame of the step, never the next episode's first. */
			if (recording && !rc)
				rc = write_frame(ev, err);
			if (recording && ev->dones[n]) {
				ev->want[n] = 0;
				if (!rc)
					rc = end_video(ev, err);
			}
		}
		show_progress(ev, active == 0);
	}
	free(on);
	gnarl_console_end(&ev->con);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Output.                                                                  */

static double mean(const struct eval *ev, double sum)
{
	return ev->tally.episodes ? sum / (double)ev->tally.episodes : 0.0;
}

static void print_text(const struct eval *ev)
{
	const struct tally *t = &ev->tally;

	printf("%llu episodes of %s, %s policy", (unsigned long long)t->episodes,
	       gnarl_registry_env(ev->reg)->name, ev->trained ? "trained" : "random");
	if (ev->trained)
		printf(" (%s, iteration %llu, %s)", ev->ck_uri, (unsigned long long)ev->ck_iteration,
		       ev->greedy ? "greedy" : "sampled");
	printf("\n  start             the env's normal start (never the archive of start "
	       "states)\n");
	printf("  return            %.2f\n  length            %.1f\n", mean(ev, t->ret),
	       mean(ev, t->length));
	if (ev->sp.has_game_state) {
		printf("  rooms discovered  %.2f\n  dungeons entered  %.2f\n"
		       "  enemies killed    %.2f\n  deaths            %.2f\n  milestones       ",
		       mean(ev, t->rooms), mean(ev, t->dungeons), mean(ev, t->kills),
		       mean(ev, t->deaths));
		for (unsigned i = 0; i < GNARL_MILESTONE_COUNT; i++)
			printf(" %s %.2f", gnarl_episode_milestone_name(i), mean(ev, t->milestones[i]));
		printf("\n");
	}
	if (ev->K)
		printf("  reward terms     ");
	for (uint32_t k = 0; k < ev->K; k++)
		printf(" %s %.4g", ev->terms[k].name, mean(ev, t->terms[k]));
	if (ev->K)
		printf("\n");
	if (ev->frames_dir)
		printf("  frames            %llu written to %s\n",
		       (unsigned long long)ev->frames_written, ev->frames_dir);
	if (ev->video_path)
		printf("  video             %s (%llu frames)\n", ev->video_path,
		       (unsigned long long)ev->frames_written);
	if (ev->reach.present) {
		printf("the checkpoint's archive of start states (where training's envs got from any "
		       "start, not this policy from the normal start):\n  cells %u, rooms %u, "
		       "milestones",
		       ev->reach.cells, ev->reach.rooms);
		for (unsigned i = 0; i < GNARL_MILESTONE_COUNT; i++)
			if (ev->reach.milestones >> i & 1)
				printf(" %s", gnarl_episode_milestone_name(i));
		printf("%s\n", ev->reach.milestones ? "" : " none");
	}
}

/* The archive's reach, or null without one. */
static json_t *reach_json(const struct reach *r)
{
	json_t *ms;

	if (!r->present)
		return json_null();
	ms = json_array();
	for (unsigned i = 0; i < GNARL_MILESTONE_COUNT; i++)
		if (r->milestones >> i & 1)
			json_array_append_new(ms, json_string(gnarl_episode_milestone_name(i)));
	return json_pack("{s:i, s:i, s:o}", "cells", (int)r->cells, "rooms", (int)r->rooms,
	                 "milestones", ms);
}

static int print_json(const struct eval *ev)
{
	const struct tally *t = &ev->tally;
	json_t *j = json_object(), *ms = json_object(), *terms = json_object();

	if (!j || !ms || !terms) {
		json_decref(j);
		json_decref(ms);
		json_decref(terms);
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	}
	json_object_set_new(j, "episodes", json_integer((json_int_t)t->episodes));
	json_object_set_new(j, "env", json_string(gnarl_registry_env(ev->reg)->name));
	json_object_set_new(j, "policy", json_string(ev->trained ? "trained" : "random"));
	json_object_set_new(j, "checkpoint", ev->ck_uri ? json_string(ev->ck_uri) : json_null());
	json_object_set_new(j, "greedy", json_boolean(ev->greedy));
	json_object_set_new(j, "seed", json_integer((json_int_t)ev->seed));
	json_object_set_new(j, "return_mean", json_real(mean(ev, t->ret)));
	json_object_set_new(j, "length_mean", json_real(mean(ev, t->length)));
	json_object_set_new(j, "rooms_discovered_mean", json_real(mean(ev, t->rooms)));
	json_object_set_new(j, "dungeons_entered_mean", json_real(mean(ev, t->dungeons)));
	json_object_set_new(j, "enemies_killed_mean", json_real(mean(ev, t->kills)));
	json_object_set_new(j, "deaths_rate", json_real(mean(ev, t->deaths)));
	for (unsigned i = 0; i < GNARL_MILESTONE_COUNT; i++)
		json_object_set_new(ms, gnarl_episode_milestone_name(i),
		                    json_real(mean(ev, t->milestones[i])));
	json_object_set_new(j, "milestones", ms);
	for (uint32_t k = 0; k < ev->K; k++)
		json_object_set_new(terms, ev->terms[k].name, json_real(mean(ev, t->terms[k])));
	json_object_set_new(j, "terms", terms);
	json_object_set_new(j, "frames", json_integer((json_int_t)ev->frames_written));
	json_object_set_new(j, "video", ev->video_path ? json_string(ev->video_path) : json_null());
	json_object_set_new(j, "start", json_string("normal"));
	json_object_set_new(j, "archive", reach_json(&ev->reach));
	return gnarl_cli_print_json(j);
}

/* ------------------------------------------------------------------------ */

static int open_video(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *root = ev->cfg->root;
	struct gnarl_video_config vc = {
	    GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT,
	    (uint32_t)gnarl_value_int(gnarl_value_at(root, "video.fps"), GNARL_VIDEO_FPS),
	    (uint32_t)gnarl_value_int(gnarl_value_at(root, "video.scale"), 0),
	};
	int rc = gnarl_video_open(ev->video_path, &vc, &ev->video, err);

	return rc ? gnarl_err_prefix(err, rc, "--video: ") : 0;
}

static int setup(struct eval *ev, char err[GNARL_ERR_SIZE])
{
	int rc;

	if (!ev->has_seed)
		ev->seed = (uint64_t)gnarl_value_int(gnarl_value_at(ev->cfg->root, "run.seed"), 0);
	ev->P = ev->episodes < MAX_PARALLEL ? ev->episodes : MAX_PARALLEL;
	if ((rc = gnarl_registry_open(ev->cfg, &ev->reg, err)) ||
	    (rc = gnarl_gauges_create(&ev->gauges)))
		return rc == GNARL_ENOENT ? GNARL_ECONFIG : rc;
	if (ev->trained) {
		rc = load_policy(ev, err);
		if (rc)
			return rc;
		ev->P = ev->P < gnarl_nn_spec(gnarl_trainer_nn(ev->trainer))->max_batch
		            ? ev->P
		            : gnarl_nn_spec(gnarl_trainer_nn(ev->trainer))->max_batch;
	}
	rc = create_plugins(ev, err);
	if (rc)
		return rc;
	ev->O = ev->trained ? gnarl_ppo_config(gnarl_trainer_ppo(ev->trainer))->O
	                    : ev->sp.obs_dim + ev->sp.n_actions + 1;
	if (ev->O < ev->sp.obs_dim)
		return gnarl_err(err, GNARL_EINCOMPAT, "the policy reads %u observation floats; env "
		                 "'%s' writes %u", ev->O, gnarl_registry_env(ev->reg)->name,
		                 ev->sp.obs_dim);
	if ((ev->frames_dir || ev->video_path) && !ev->sp.has_frames)
		return gnarl_err(err, GNARL_EUNSUPPORTED, "--%s: env '%s' renders no frames",
		                 ev->frames_dir ? "frames" : "video", gnarl_registry_env(ev->reg)->name);
	if (ev->frames_dir && mkdir(ev->frames_dir, 0755) && errno != EEXIST)
		return gnarl_err(err, GNARL_EIO, "--frames: cannot create directory '%s': %s",
		                 ev->frames_dir, strerror(errno));
	rc = alloc_arrays(ev, err);
	if (!rc && ev->video_path)
		rc = open_video(ev, err);
	return rc;
}

static void cleanup(struct eval *ev)
{
	gnarl_episode_free(ev->ep);
	for (uint32_t k = 0; ev->terms && k < ev->K; k++) {
		gnarl_term_free(ev->terms[k].term);
		gnarl_plugin_host_free(ev->terms[k].host);
	}
	free(ev->terms);
	if (ev->env)
		ev->ops->destroy(ev->env);
	gnarl_plugin_host_free(ev->env_host);
	gnarl_trainer_free(ev->trainer);
	gnarl_gauges_free(ev->gauges);
	gnarl_registry_free(ev->reg);
	gnarl_config_free(ev->cfg);
	gnarl_video_free(ev->video); /* an episode cut short: no file */
	free(ev->ck_uri);
	free(ev->obs);
	free(ev->actions);
	free(ev->dones);
	free(ev->frame);
	free(ev->states);
	free(ev->left);
	free(ev->tally.terms);
}

int gnarl_cmd_eval(int argc, char **argv)
{
	struct eval ev = {0};
	char err[GNARL_ERR_SIZE] = "";
	int rc = parse_args(argc, argv, &ev);

	if (rc)
		return rc;
	rc = gnarl_cli_load_config(&ev.o, &ev.cfg);
	if (rc)
		return rc;
	rc = setup(&ev, err);
	if (!rc) {
		struct gnarl_console_config cc;

		gnarl_console_config_read(ev.cfg, &cc);
		gnarl_console_start(&ev.con, &cc, 0, ev.episodes, "episodes");
		rc = play(&ev, err);
	}
	if (rc)
		rc = gnarl_cli_fail(rc, "%s", err);
	else
		rc = ev.o.json ? print_json(&ev) : (print_text(&ev), GNARL_EXIT_OK);
	cleanup(&ev);
	return rc;
}
