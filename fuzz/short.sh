#!/bin/sh
# short.sh FUZZER SECONDS CORPUS_DIR... - the suite's short fuzz run: replay
# every seed and regression input, then fuzz for SECONDS from them.  New
# inputs go to a temporary directory (the committed corpus is not
# touched); a finding is printed, kept as BUILD/fuzz/findings/<target>-*
# and fails the test.
set -u
fuzzer=$1 seconds=$2
shift 2
name=$(basename "$fuzzer")
found=$(dirname "$fuzzer")/findings
work=$(mktemp -d "${TMPDIR:-/tmp}/gnarl-fuzz-short.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$found"
"$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$@" >"$work/log" 2>&1
rc=$?
tail -n 12 "$work/log"
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*; do
  [ -e "$f" ] || continue
  cp "$f" "$found/$name-$(basename "$f")"
  echo "finding kept as $found/$name-$(basename "$f") (add it to fuzz/regressions/)"
  rc=1
done
[ $rc -eq 0 ] || { echo "--- fuzzer log (head)"; head -n 60 "$work/log"; }
exit $rc
