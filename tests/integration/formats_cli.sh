#!/bin/sh
# formats_cli.sh GNARL GEN PYTHON WORKDIR - `gnarl checkpoints list|show|
# tag|diff` on a run written by formats_gen with a config: output, JSON,
# exit codes (3 for a refused resume and for a damaged or missing
# checkpoint) and the messages that name the field or the file.
set -u
gnarl=$1 gen=$2 python=$3 work=$4
rm -rf "$work"
mkdir -p "$work/runs"
cd "$work"
fails=0

cat > base.yaml <<YAML
run: {name: run, storage: runs, seed: 1}
env: {plugin: overworld, num_envs: 5, params: {}}
policy: {hidden: [64, 64], activation: relu, shared: true}
rewards:
  - {plugin: room_discovery, weight: 20}
  - {plugin: movement, weight: 0.1}
YAML
sed -e 's/weight: 20/weight: 30/' -e 's/num_envs: 5/num_envs: 25/' base.yaml > resume.yaml
echo "  - {plugin: dungeon_entry, weight: 200}" >> resume.yaml

# expect CODE PATTERN CMD... : run CMD, check its exit code and that its
# output (stdout and stderr) matches the grep pattern.
expect() {
  code=$1 pattern=$2
  shift 2
  "$@" > out.txt 2>&1
  got=$?
  if [ "$got" != "$code" ] || ! grep -q -e "$pattern" out.txt; then
    echo "FAIL: $* -> exit $got (want $code), output:"
    cat out.txt
    echo "(wanted /$pattern/)"
    fails=$((fails + 1))
  else
    echo "ok: $*"
  fi
}

"$gen" runs base.yaml > gen.log 2>&1 || { cat gen.log; exit 1; }
ck=runs/run/checkpoints/checkpoint_000150

expect 0 '^\*       150 .* 614400 .*123.2' "$gnarl" checkpoints list -c base.yaml
expect 0 'checkpoint_000150' "$gnarl" checkpoints list run -c base.yaml
expect 0 'integrity        verified' "$gnarl" checkpoints show latest -c base.yaml
expect 0 '"room_discovery"' "$gnarl" checkpoints show "$ck" --json
"$gnarl" checkpoints show "$ck" --json > show.json
"$python" -c 'import json,sys; m=json.load(open("show.json")); sys.exit(m["iteration"] != 150)' \
  || { echo "FAIL: show --json is not the manifest"; fails=$((fails + 1)); }
expect 0 'tagged .*checkpoint_000150 as exploration_done' \
  "$gnarl" checkpoints tag latest exploration_done -c base.yaml
expect 0 'exploration_done' "$gnarl" checkpoints list -c base.yaml
expect 0 '~ rewards\[room_discovery\].weight: 20.0 -> 30.0' \
  "$gnarl" checkpoints diff tag:exploration_done -c resume.yaml
expect 0 '+ rewards\[dungeon_entry\]' "$gnarl" checkpoints diff "$ck" -c resume.yaml
expect 0 '~ env.num_envs: 5 -> 25' "$gnarl" checkpoints diff "$ck" -c resume.yaml
expect 0 '(no changes)' "$gnarl" checkpoints diff "$ck" -c base.yaml
expect 3 'network.hidden changed from \[64,64\] to \[128,128\]' \
  "$gnarl" checkpoints diff "$ck" -c base.yaml --set 'policy.hidden=[128, 128]'
expect 3 '! env plugin: "overworld" -> "cartpole"' \
  "$gnarl" checkpoints diff "$ck" -c base.yaml --set env.plugin=cartpole
expect 3 'has no manifest.json' "$gnarl" checkpoints show runs/run/checkpoints/checkpoint_000999
expect 2 'unknown command' "$gnarl" checkpoints frobnicate
expect 0 'usage: gnarl checkpoints list' "$gnarl" checkpoints --help

# A flipped byte in the model: show prints the manifest, then fails naming the file.
"$python" - "$ck/model.safetensors" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-5] ^= 1
open(p, "wb").write(b)
PY
expect 3 'checksum mismatch in .*checkpoint_000150/model.safetensors' \
  "$gnarl" checkpoints show "$ck"

cd / && rm -rf "$work"
[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "formats_cli: all checks passed"
