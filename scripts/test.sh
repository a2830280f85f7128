#!/usr/bin/env bash
# scripts/test.sh [--quick] [CTEST ARGS...] - the whole test suite.
#
# Configures and builds a Release build in build/ and runs ctest there,
# then the same in a Sanitize build (ASan + UBSan, LeakSanitizer on) in
# build-san/, unless --quick.  Extra arguments go to ctest (e.g. -R config,
# -L cli).  Tests that need a service (S3 gateway, LLM server) start it
# themselves as CTest fixtures.  GNARL_TEST_JOBS sets ctest's parallelism
# (default: the number of CPUs); GNARL_BUILD and GNARL_BUILD_SAN name other
# build directories.  Exits non-zero when any test fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
ctest_args=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ctest_args+=("$a") ;;
  esac
done
jobs=${GNARL_TEST_JOBS:-$(nproc)}
summary=()
status=0

suite() {
  local dir=$1 type=$2 log
  log=$(mktemp)
  echo "=== $type build in $dir"
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$root/$dir" -j "$jobs"
  echo "=== $type tests"
  if (cd "$root/$dir" && ctest --output-on-failure -j "$jobs" ${ctest_args[@]+"${ctest_args[@]}"}) \
      2>&1 | tee "$log"; then :; else status=1; fi
  summary+=("$type: $(grep -E 'tests passed|No tests were found' "$log" | tail -n 1)")
  rm -f "$log"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
suite "${GNARL_BUILD:-build}" Release
[ "$quick" -eq 1 ] || suite "${GNARL_BUILD_SAN:-build-san}" Sanitize
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
