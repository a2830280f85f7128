#!/usr/bin/env bash
# scripts/test.sh [--quick] [CTEST ARGS...] - the whole test suite.
#
# Configures and builds a Release build in build/ and runs ctest there,
# then the same in a Sanitize build (ASan + UBSan, LeakSanitizer on) in
# build-san/, then a clang build with libFuzzer in build-fuzz/ that fuzzes
# every parser for GNARL_FUZZ_SECONDS (default 10) from its corpus, unless
# --quick (Release only).  Extra arguments go to ctest (e.g. -R config,
# -L cli; not to the fuzz runs).  Tests that need a service (S3 gateway,
# LLM server) start it themselves as CTest fixtures.  GNARL_TEST_JOBS sets
# ctest's parallelism (default: the number of CPUs); GNARL_BUILD,
# GNARL_BUILD_SAN and GNARL_BUILD_FUZZ name other build directories.
# Exits non-zero when any test fails, and under CI=true when any skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
ctest_args=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ctest_args+=("$a") ;;
  esac
done
jobs=${GNARL_TEST_JOBS:-$(nproc)}
summary=()
status=0

# suite DIR TYPE CTEST_ARGS... (CMAKE_ARGS in the environment variable of
# that name)
suite() {
  local dir=$1 type=$2 log
  shift 2
  log=$(mktemp)
  echo "=== $type build in $dir"
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE="$type" ${CMAKE_ARGS:-} >/dev/null
  cmake --build "$root/$dir" -j "$jobs"
  echo "=== $type tests"
  if (cd "$root/$dir" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$log"; then :
  else status=1; fi
  # A test that did not run proves nothing: on CI that is a failure.  The
  # real game's tests (realrom_*) are the exception: CI has no ROM.
  if [ "${CI:-}" = true ] && grep '(Skipped)\|Not Run' "$log" | grep -qv 'realrom_'; then
    echo "CI=true: tests were skipped or not run (see above): failing"
    status=1
  fi
  summary+=("$type: $(grep -E 'tests passed|No tests were found' "$log" | tail -n 1)")
  rm -f "$log"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
suite "${GNARL_BUILD:-build}" Release ${ctest_args[@]+"${ctest_args[@]}"}
if [ "$quick" -eq 0 ]; then
  suite "${GNARL_BUILD_SAN:-build-san}" Sanitize ${ctest_args[@]+"${ctest_args[@]}"}
  if command -v clang >/dev/null; then
    CC=clang CMAKE_ARGS="-DGNARL_FUZZ=ON -DGNARL_FUZZ_SECONDS=${GNARL_FUZZ_SECONDS:-10}" \
      suite "${GNARL_BUILD_FUZZ:-build-fuzz}" Sanitize -L fuzz
  elif [ "${CI:-}" = true ]; then
    echo "CI=true: clang is missing, so nothing was fuzzed: failing"
    status=1
  else
    summary+=("Fuzz: not run (no clang)")
  fi
fi
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
