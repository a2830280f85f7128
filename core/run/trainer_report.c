/*
 * trainer_report.c - an iteration seen from outside (see trainer.h,
 * gnarl_trainer_report): its scalars, the reward terms' and guidance's
 * episode means and the gauges go to progress.csv, TensorBoard and the HUD
 * (one snapshot for both), with the episode video the recorder finished and
 * env 0's observation for the HUD's frame.
 */
#include "trainer_internal.h"

#include <math.h>
#include <stdio.h>

#include "clock.h"
#include "episode.h"
#include "gauges.h"
#include "guidance.h"
#include "hud.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "rollout.h"
#include "train_console.h"

/* A scalar of the iteration: metrics and the HUD. */
static void put(struct gnarl_trainer *t, const char *name, double value)
{
	gnarl_metrics_set(t->metrics, name, value);
	gnarl_hud_set(t->hud, name, value);
}

static void put_gauge(void *ctx, const char *name, double value)
{
	put(ctx, name, value);
}

void gnarl_trainer_take_video(struct gnarl_trainer *t, const struct gnarl_trainer_iteration *it)
{
	struct gnarl_recorder_video v;

	if (!gnarl_recorder_poll(t->rec, &v))
		return;
	if (v.error) {
		gnarl_log(GNARL_LOG_WARN, "video", "the episode video of iteration %llu is lost: %s",
		          (unsigned long long)v.iteration, v.error);
		return;
	}
	if (v.gif && gnarl_metrics_add_image(t->metrics, "video/episode", it->env_steps,
	                                     GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT, v.gif,
	                                     v.gif_len))
		gnarl_log(GNARL_LOG_WARN, "video", "out of memory: the GIF is not in TensorBoard");
	gnarl_hud_video(t->hud, v.iteration, v.mime, v.data, v.len);
	if (isnan(v.ret))
		gnarl_log(GNARL_LOG_INFO, "video", "%s: %llu frames of an episode (cut at "
		          "video.max_frames)", v.uri, (unsigned long long)v.frames);
	else
		gnarl_log(GNARL_LOG_INFO, "video", "%s: an episode of %llu steps, return %.1f",
		          v.uri, (unsigned long long)v.frames - 1, v.ret);
}

static void hud_commit(struct gnarl_trainer *t, const struct gnarl_trainer_iteration *it)
{
	const struct gnarl_ppo_config *pc = gnarl_ppo_config(t->ppo);
	struct gnarl_hud_iteration hi = {it->iteration, it->env_steps, gnarl_rollout_obs(t->ro),
	                                 pc->O, pc->O_env};

	gnarl_hud_commit(t->hud, &hi);
}

int gnarl_trainer_report(struct gnarl_trainer *t, const struct gnarl_trainer_iteration *it,
                         char err[GNARL_ERR_SIZE])
{
	struct gnarl_metrics *m = t->metrics;
	struct gnarl_episode_means e;
	const struct gnarl_ppo_stats *p = &it->ppo;
	int rc;

	if (!m)
		return 0;
	gnarl_trainer_episode_means(t, &e);
	/* As CleanRL's SPS: steps over wall time since the start, reporting
	 * included. */
	put(t, "sps", (double)(it->env_steps - t->start_steps) /
	              (gnarl_clock_monotonic() - t->start_time));
	put(t, "ep_return_mean", e.count ? e.ret : NAN);
	put(t, "ep_len_mean", e.count ? e.length : NAN);
	put(t, "episodes", (double)gnarl_trainer_episodes(t));
	put(t, "policy_loss", p->policy_loss);
	put(t, "value_loss", p->value_loss);
	put(t, "entropy", p->entropy);
	put(t, "approx_kl", p->approx_kl);
	put(t, "clipfrac", p->clipfrac);
	put(t, "explained_variance", p->explained_variance);
	put(t, "lr", p->lr);
	if (t->world > 1)
		put(t, "allreduce_ms", 1e3 * it->allreduce_seconds);
	for (uint32_t i = 0; i < t->n_terms; i++)
		put(t, t->terms[i].metric, e.count ? e.terms[i] : NAN);
	for (uint32_t i = 0; i < gnarl_guidance_count(t->guid); i++) {
		char name[96];

		snprintf(name, sizeof(name), "reward/%s", gnarl_guidance_name(t->guid, i));
		put(t, name, e.count ? e.terms[t->n_terms + i] : NAN);
	}
	gnarl_guidance_publish(t->guid);
	if (t->has_state) {
		put(t, "rooms_discovered", e.count ? e.rooms : NAN);
		put(t, "dungeons_entered", e.count ? e.dungeons : NAN);
		put(t, "enemies_killed", e.count ? e.enemies_killed : NAN);
		put(t, "milestones", e.count ? e.milestones : NAN);
	}
	/* One snapshot of the gauges (plugins' threads move them) for both:
	 * the HUD shows what progress.csv holds. */
	gnarl_gauges_each(t->gauges, put_gauge, t);
	gnarl_trainer_take_video(t, it);
	gnarl_hud_show_archive(t->hud, t->archive, it->iteration);
	hud_commit(t, it);
	rc = gnarl_metrics_flush(m, it->iteration, it->env_steps, err);
	gnarl_train_console_iteration(t->console, m, it->iteration, it->env_steps);
	return rc;
}
