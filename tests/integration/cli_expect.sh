#!/bin/sh
# cli_expect.sh RC REGEX COMMAND [ARGS...]
#
# Runs COMMAND, prints what it wrote (stdout then stderr), and passes when
# it exited with RC and its output matches the extended regex REGEX.  A
# crash (signal, sanitizer report) fails: its exit code differs.
set -u
want_rc=$1
regex=$2
shift 2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$@" >"$out" 2>"$err"
rc=$?
cat "$out"
cat "$err" >&2
if [ "$rc" -ne "$want_rc" ]; then
  echo "cli_expect: exit code $rc, expected $want_rc: $*" >&2
  exit 1
fi
if ! cat "$out" "$err" | grep -Eq -- "$regex"; then
  echo "cli_expect: output does not match /$regex/: $*" >&2
  exit 1
fi
if grep -Eq 'Sanitizer|runtime error:' "$err"; then
  echo "cli_expect: sanitizer report" >&2
  exit 1
fi
exit 0
