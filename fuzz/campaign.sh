#!/bin/bash
# campaign.sh BUILD_FUZZ_DIR OUT_DIR SECONDS TARGET... - a fuzz campaign:
# each TARGET (config, safetensors, ...) fuzzed for SECONDS, one after the
# other, under nice, from the committed corpus plus what earlier campaigns
# found (OUT_DIR/corpus/<target>, kept between runs).  libFuzzer's fork mode
# keeps going after a finding; every finding lands in
# OUT_DIR/artifacts/<target>/.  OUT_DIR/<target>.log is the fuzzer's log and
# OUT_DIR/summary.tsv gets one line per target:
#   target  seconds  execs  edges  features  corpus  findings
# Keep OUT_DIR outside the repository.  Run two at once at most on a small
# machine (two invocations with different targets).
set -u
build=${1:?usage: campaign.sh BUILD_FUZZ_DIR OUT_DIR SECONDS TARGET...}
out=${2:?} seconds=${3:?}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=$(cd "$build" && pwd)
# The plugins the config and manifest targets load: the campaign's build's.
export GNARL_PLUGIN_PATH="$build/plugins"
for t in "$@"; do
  bin="$build/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "campaign: no $bin (build with -DGNARL_FUZZ=ON)" >&2; exit 2; }
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  dirs=("$out/corpus/$t" "$here/corpus/$t")
  [ -d "$here/regressions/$t" ] && dirs+=("$here/regressions/$t")
  dict=()
  [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
  echo "campaign: $t for ${seconds}s ($(date -u +%FT%TZ))"
  nice -n 10 "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" ${dict[@]+"${dict[@]}"} \
    "${dirs[@]}" >"$out/$t.log" 2>&1
  # Fork mode's progress lines: "#N: cov: C ft: F corp: K exec/s: E oom/timeout/crash: ..."
  # ("#N" counts executions); the last one holds the totals.
  last=$(grep -E '^#[0-9]+: cov:' "$out/$t.log" | tail -n 1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
  ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
  corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
  found=$(find "$out/artifacts/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$found" >>"$out/summary.tsv"
  echo "campaign: $t: execs ${execs:-?} edges ${cov:-?} findings $found"
done
