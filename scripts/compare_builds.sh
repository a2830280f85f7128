#!/bin/sh
# scripts/compare_builds.sh GNARL_A GNARL_B WORKDIR [OVERWORLD_STEPS] - do two
# builds of gnarl train to the same model?
#
# Trains CartPole (configs/cartpole.yaml, seeds 1-5) and the overworld
# (configs/env.yaml, OVERWORLD_STEPS env steps, default 200000) with each
# binary, each with the plugins next to it (GNARL_PLUGIN_PATH is unset), and
# compares the final model.safetensors of each pair with
# scripts/compare_models.py (learner tensors byte for byte; reward-term
# memory by content across the ABI 1.1 framing).  Copy a binary and its
# plugins/ elsewhere first if the build may change while this runs.  Runs
# go under WORKDIR/a and WORKDIR/b.  Exits non-zero when a pair differs.
set -eu
[ $# -ge 3 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a=$1 b=$2 work=$3 steps=${4:-200000}
src=$(cd "$(dirname "$0")/.." && pwd)
unset GNARL_PLUGIN_PATH
status=0

train() { # BIN OUT NAME ARGS...
  bin=$1 out=$2 name=$3
  shift 3
  (cd "$src" && "$bin" train "$@" --set run.storage="$out" --set run.name="$name") \
    >"$out/$name.log" 2>&1 || { echo "$bin train $*: failed, see $out/$name.log"; exit 1; }
}

final() { # OUT NAME: the run's last checkpoint's model
  echo "$(ls -d "$1/$2"/checkpoints/checkpoint_* | tail -n 1)/model.safetensors"
}

for side in a b; do
  eval bin=\$$side
  out=$work/$side
  rm -rf "$out" && mkdir -p "$out"
  for s in 1 2 3 4 5; do
    train "$bin" "$out" "cartpole-$s" -c configs/cartpole.yaml --set run.seed=$s
  done
  train "$bin" "$out" overworld -c configs/env.yaml --set ppo.total_steps="$steps"
done
for name in cartpole-1 cartpole-2 cartpole-3 cartpole-4 cartpole-5 overworld; do
  fa=$(final "$work/a" $name) fb=$(final "$work/b" $name)
  verdict=$(python3 "$src/scripts/compare_models.py" "$fa" "$fb") || status=1
  echo "$name ($(basename "$(dirname "$fa")")): $(echo "$verdict" | tail -n 1);" \
    "sha256 $(sha256sum "$fa" | cut -c1-16) $(sha256sum "$fb" | cut -c1-16)"
done
exit $status
