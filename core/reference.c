/*
 * reference.c - the table of reference-project and RLlib settings and
 * their gnarl keys (see reference.h).
 *
 * Entry points: gnarl_reference_keys, gnarl_reference_find.
 *
 * The first eight names are the reference's as its users know them; the
 * LLM and reward names after them follow its pattern; the "rllib" ones
 * are RLlib's PPO config keys (AlgorithmConfig and its old dict form),
 * which a user of the reference set through it.  README.md's table lists
 * the same rows (tests/integration/reference_test.py compares them).
 */
#include "reference.h"

#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#include "log.h"

#define REF "reference"
#define RLLIB "rllib"

static const struct gnarl_reference_key keys[] = {
	{"RAY_WORKERS", REF, "worker count (Ray rollout workers)",
	 "env.num_envs (envs per process) or mpirun -n (processes)", true},
	{"ENVS_PER_WORKER", REF, "envs per Ray worker", "env.num_envs", true},
	{"EPISODE_LENGTH", REF, "episode length (steps before an episode is cut short)",
	 "env.params.max_steps", true},
	{"BATCH_SIZE", REF, "batch size (steps per update)",
	 "ppo.rollout_steps (the batch is rollout_steps x env.num_envs x processes)", true},
	{"new_room_discovery", REF, "reward for a room new in the episode",
	 "rewards: room_discovery, params.new_room", false},
	{"dungeon_entered", REF, "reward for entering a dungeon",
	 "rewards: dungeon_entry, params.reward", false},
	{"enemy_defeat_reward", REF, "reward per enemy defeated",
	 "rewards: combat, params.per_kill", false},
	{"llm_text_probability", REF, "chance per step of asking the text LLM",
	 "llm: [{plugin: llm_text, probability: P}]", false},
	{"llm_vision_probability", REF, "chance per step of asking the vision LLM",
	 "llm: [{plugin: llm_vision, probability: P}]", false},
	{"llm_alignment_bonus", REF, "reward for following the LLM's suggestion",
	 "llm: [{plugin: ..., alignment_bonus: B}]", false},
	{"grid_exploration_reward", REF, "reward for a new spot of a room",
	 "rewards: grid_exploration, params.new_cell", false},
	{"movement_reward", REF, "reward for a step that moves Link",
	 "rewards: movement, params.reward", false},
	{"health_lost_penalty", REF, "penalty per quarter heart lost",
	 "rewards: health, params.lost_per_quarter", false},
	{"death_penalty", REF, "penalty for dying", "rewards: death, params.penalty", false},
	{"sword_obtained", REF, "reward for the sword", "rewards: milestones, params.sword",
	 false},
	{"maku_tree_reached", REF, "reward for reaching the Maku Tree",
	 "rewards: milestones, params.maku_reached", false},
	{"gnarled_key_obtained", REF, "reward for the Gnarled Key",
	 "rewards: milestones, params.gnarled_key", false},
	{"time_penalty_per_step", REF, "cost of every step",
	 "rewards: time_penalty, params.per_step", false},
	{"ROM_PATH", REF, "game's ROM file", "env.params.rom (env.plugin: gameboy)", true},
	{"SAVE_STATE_PATH", REF, "state episodes start from",
	 "env.params.save_state (env.plugin: gameboy)", true},
	{"FRAME_SKIP", REF, "emulator frames per action",
	 "env.params.frames_per_action (env.plugin: gameboy)", true},
	{"HEADLESS", REF, "switch for an emulator without a window",
	 "nothing: gnarl is always headless; watch with hud.port or video.every", true},
	{"TOTAL_TIMESTEPS", REF, "env steps to train for", "ppo.total_steps", true},
	{"CHECKPOINT_FREQUENCY", REF, "iterations between checkpoints", "checkpoint.every", true},
	{"S3_BUCKET", REF, "bucket runs and checkpoints go to",
	 "run.storage: s3://BUCKET/PREFIX (S3_ENDPOINT_URL and the keys are read as they are)",
	 true},
	{"RAY_ADDRESS", REF, "Ray cluster to join",
	 "mpirun -n N --hostfile (deploy/ has Slurm and Kubernetes recipes)", true},
	{"num_workers", RLLIB, "rollout worker count", "env.num_envs or mpirun -n", false},
	{"num_rollout_workers", RLLIB, "rollout worker count", "env.num_envs or mpirun -n", false},
	{"num_env_runners", RLLIB, "rollout worker count", "env.num_envs or mpirun -n", false},
	{"num_envs_per_worker", RLLIB, "envs per rollout worker", "env.num_envs", false},
	{"num_envs_per_env_runner", RLLIB, "envs per rollout worker", "env.num_envs", false},
	{"num_cpus_per_worker", RLLIB, "CPUs per rollout worker", "env.threads", false},
	{"num_gpus", RLLIB, "GPU count for the learner",
	 "nothing: gnarl learns on the CPU (OpenBLAS); ppo.blas_threads sets its threads", false},
	{"rollout_fragment_length", RLLIB, "steps per env per rollout", "ppo.rollout_steps",
	 false},
	{"train_batch_size", RLLIB, "steps per update",
	 "ppo.rollout_steps (the batch is rollout_steps x env.num_envs x processes)", false},
	{"sgd_minibatch_size", RLLIB, "samples per gradient step", "ppo.minibatch_size", false},
	{"num_sgd_iter", RLLIB, "passes over each batch", "ppo.epochs", false},
	{"num_epochs", RLLIB, "passes over each batch", "ppo.epochs", false},
	{"lr", RLLIB, "learning rate", "ppo.learning_rate", false},
	{"lr_schedule", RLLIB, "learning-rate schedule",
	 "ppo.lr_schedule: linear (to 0 at ppo.total_steps) or constant", false},
	{"lambda", RLLIB, "GAE lambda", "ppo.gae_lambda", false},
	{"clip_param", RLLIB, "policy ratio clip", "ppo.clip_coef", false},
	{"vf_clip_param", RLLIB, "value clip", "ppo.value_clip", false},
	{"vf_loss_coeff", RLLIB, "value loss weight", "ppo.vf_coef", false},
	{"entropy_coeff", RLLIB, "entropy bonus", "ppo.ent_coef", false},
	{"grad_clip", RLLIB, "gradient-norm clip", "ppo.max_grad_norm", false},
	{"kl_target", RLLIB, "KL the penalty aims at",
	 "ppo.target_kl (stops the epochs early instead of a penalty)", false},
	{"kl_coeff", RLLIB, "KL penalty's weight",
	 "nothing: no KL penalty; ppo.target_kl stops the epochs early", false},
	{"fcnet_hiddens", RLLIB, "hidden layer widths", "policy.hidden", false},
	{"fcnet_activation", RLLIB, "hidden activation", "policy.activation", false},
	{"vf_share_layers", RLLIB, "one trunk for policy and value", "policy.shared", false},
	{"observation_filter", RLLIB, "observation filter (MeanStdFilter normalises)",
	 "ppo.normalize_obs", false},
	{"timesteps_total", RLLIB, "env steps to train for", "ppo.total_steps", false},
	{"checkpoint_freq", RLLIB, "iterations between checkpoints", "checkpoint.every", false},
	{"keep_checkpoints_num", RLLIB, "checkpoints kept", "checkpoint.keep_last", false},
	{"checkpoint_at_end", RLLIB, "switch to save at the end",
	 "nothing: gnarl always saves at the end (and at Ctrl-C)", false},
	{"storage_path", RLLIB, "where results go", "run.storage (a path or s3://...)", false},
	{"local_dir", RLLIB, "where results go", "run.storage (a path or s3://...)", false},
	{"framework", RLLIB, "deep-learning framework (torch or tf)", "nothing: gnarl's network is its own (C, OpenBLAS)",
	 false},
	{NULL, NULL, NULL, NULL, false},
};

const struct gnarl_reference_key *gnarl_reference_keys(void)
{
	return keys;
}

const struct gnarl_reference_key *gnarl_reference_find(const char *name)
{
	for (const struct gnarl_reference_key *k = keys; name && k->name; k++)
		if (!strcasecmp(k->name, name))
			return k;
	return NULL;
}

int gnarl_reference_warn_environment(void)
{
	int n = 0;

	for (const struct gnarl_reference_key *k = keys; k->name; k++) {
		if (!k->environment || !getenv(k->name))
			continue;
		gnarl_log(GNARL_LOG_WARN, NULL, "%s is set in the environment, and gnarl does not "
		          "read it: it is the reference project's %s; in gnarl: %s", k->name,
		          k->what, k->use);
		n++;
	}
	return n;
}
