#!/bin/bash
# eval_margin.sh [BUILD_DIR] - the numbers behind eval_trained's margin (a
# program that prints numbers, run by hand; minutes): rooms per episode of
# the random policy over 64 episodes on eval seeds 1-5, and of 100k-step
# runs on training seeds 1-3 (eval seeds 1 and 2), on eval_check.py's
# easy world (3 x 3 screens, 300 steps).
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
g=$build/gnarl
c=$src/configs/env.yaml
export GNARL_PLUGIN_PATH=$build/plugins
easy=(--set env.params.width=3 --set env.params.height=3 --set env.params.max_steps=300
      --set env.params.sword_distance=0 --set env.num_envs=8 --set ppo.rollout_steps=128
      --set ppo.minibatch_size=256 --set 'policy.hidden=[64,64]'
      --set metrics.tensorboard=false --set metrics.episodes=false)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rooms() { /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print("%.3f rooms, return %.1f" % (j["rooms_discovered_mean"], j["return_mean"]))'; }
for es in 1 2 3 4 5; do
  echo "random, eval seed $es: $("$g" eval -c "$c" --json --policy random --episodes 64 --seed $es "${easy[@]}" 2>/dev/null | rooms)"
done
for s in 1 2 3; do
  (cd "$work" && "$g" train -c "$c" "${easy[@]}" --set ppo.total_steps=100000 \
     --set run.storage=runs --set run.name=s$s --set run.seed=$s >/dev/null 2>&1)
  for es in 1 2; do
    echo "trained seed $s, eval seed $es: $("$g" eval -c "$c" --json --restore "$work/runs/s$s" --episodes 64 --seed $es "${easy[@]}" 2>/dev/null | rooms)"
  done
done
