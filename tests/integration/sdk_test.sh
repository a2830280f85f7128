#!/bin/sh
# sdk_test.sh BUILD_DIR SOURCE_DIR CMAKE
#
# The SDK as a third party sees it: install gnarl into a temporary prefix,
# copy sdk/examples/reward_template out of the tree, build it both ways
# (one cc line with pkg-config; CMake with find_package), and load each
# .so with the installed `gnarl plugins show`, which must list its
# parameters; then train a few iterations with it as a reward term: its
# column in progress.csv holds what it paid (the episodes' sums, multiples
# of its per_rupee).  Also checks the install finds its own plugins and
# configs with nothing on GNARL_PLUGIN_PATH.
set -eu
build=$1
src=$2
cmake=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset GNARL_PLUGIN_PATH
prefix=$tmp/prefix

step() { echo "== $*"; }

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
pc=$(find "$prefix" -name gnarl-plugin.pc | head -n 1)
[ -n "$pc" ] || { echo "no gnarl-plugin.pc installed" >&2; exit 1; }
cp -r "$src/sdk/examples/reward_template" "$tmp/src"

step "one line: cc ... \$(pkg-config --cflags gnarl-plugin)"
export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --cflags gnarl-plugin)
echo "cflags: $cflags"
case "$cflags" in
  *"$prefix"*) ;;
  *) echo "pkg-config points outside the install: $cflags" >&2; exit 1 ;;
esac
mkdir "$tmp/one"
(cd "$tmp/src" && cc -shared -fPIC -o "$tmp/one/reward_rupees.so" reward_rupees.c $cflags)

step "the same, strict: gnarl/reward.h compiles clean as C11 with every warning an error"
(cd "$tmp/src" && cc -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror -shared -fPIC \
  -o "$tmp/strict.so" reward_rupees.c $cflags)

step "CMake: find_package(gnarl-plugin) + gnarl_add_plugin"
"$cmake" -S "$tmp/src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
"$cmake" --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
so=$(find "$tmp/cmake-build" -name reward_rupees.so | head -n 1)
[ -n "$so" ] || { echo "CMake built no reward_rupees.so" >&2; cat "$tmp/cmake.log"; exit 1; }

for f in "$tmp/one/reward_rupees.so" "$so"; do
  step "gnarl plugins show $f"
  # Only the entry is exported (hidden visibility from the SDK's flags).
  exported=$(nm -D --defined-only "$f" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
  [ "$exported" = "gnarl_plugin_entry " ] ||
    { echo "exports '$exported', expected only gnarl_plugin_entry" >&2; exit 1; }
  "$prefix/bin/gnarl" plugins show "$f" | tee "$tmp/show.txt"
  for p in per_rupee spent_cost episode_cap; do
    grep -Eq "^  $p +float" "$tmp/show.txt" || { echo "parameter $p not listed" >&2; exit 1; }
  done
  grep -q "reward_rupees 1.1.0 (reward plugin, ABI 1.1)" "$tmp/show.txt"
done

step "train with it: its term pays, in its own column"
# A small world where a random policy picks up a few rupees (every bush and
# enemy drops one); one thread and a seed: the same run every time.
(cd "$tmp" && "$prefix/bin/gnarl" train -c "$prefix/share/gnarl/configs/env.yaml" \
  --set "rewards=[{plugin: $so, name: rupees, weight: 1.0, params: {per_rupee: 5.0}}]" \
  --set run.storage=runs --set run.name=sdk --set run.seed=1 --set ppo.total_steps=65536 \
  --set ppo.blas_threads=1 --set ppo.epochs=1 --set 'policy.hidden=[32]' \
  --set env.params.width=2 --set env.params.height=2 --set env.params.sword_distance=0 \
  --set env.params.max_steps=1024 --set env.params.drop_prob=1 \
  --set env.params.bush_drop_prob=1 --set env.params.heart_drop_share=0) >"$tmp/train.log" 2>&1 ||
  { cat "$tmp/train.log"; exit 1; }
/usr/bin/python3 - "$tmp/runs/sdk" <<'PY'
import csv, glob, json, sys
run = sys.argv[1]
rows = list(csv.DictReader(open(run + "/progress.csv")))
eps = [json.loads(l) for f in sorted(glob.glob(run + "/workers/worker_0/*.jsonl"))
       for l in open(f)]
paid = [e["terms"]["rupees"] for e in eps]
last = float(rows[-1]["reward/rupees"])
# Its column is the mean of its per-episode sums (the last 100 episodes), each a
# multiple of the config's per_rupee (5, not the default 1: its params reached
# it); the run paid something.
want = sum(paid[-100:]) / len(paid[-100:])
if not eps or abs(last - want) > 1e-9 * max(1, want) or last <= 0 or \
        any(p % 5 for p in paid):
    sys.exit("reward/rupees %r, episodes' terms %r" % (last, paid))
print("reward/rupees %.4f = mean of %d episodes' rupees terms (%d paid)"
      % (last, len(paid[-100:]), sum(1 for p in paid if p)))
PY

step "the install finds its own plugins and configs"
"$prefix/bin/gnarl" plugins list >"$tmp/list.txt"
grep -q "$prefix/bin/../lib/gnarl/plugins/" "$tmp/list.txt" ||
  { cat "$tmp/list.txt"; echo "installed plugins not found next to bin/" >&2; exit 1; }
(cd "$tmp" && "$prefix/bin/gnarl" config check) | tee "$tmp/check.txt"
grep -q "^OK: $prefix/bin/../share/gnarl/configs/env.yaml" "$tmp/check.txt"
echo "sdk test passed"
