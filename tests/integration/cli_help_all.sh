#!/bin/sh
# cli_help_all.sh GNARL
#
# Every command `gnarl help` lists must answer `gnarl <command> --help` and
# `gnarl help <command>` with its usage on stdout and exit code 0, so a
# command added to the table is covered without editing this test.
set -u
gnarl=$1
commands=$("$gnarl" help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 && $1 != "commands:" {print $1}')
[ -n "$commands" ] || { echo "cli_help_all: gnarl help lists no commands" >&2; exit 1; }
status=0
for c in $commands; do
  for form in "$c --help" "help $c"; do
    out=$("$gnarl" $form 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -qi "usage"; then
      echo "cli_help_all: 'gnarl $form' exited $rc without a usage text:" >&2
      printf '%s\n' "$out" >&2
      status=1
    else
      echo "ok: gnarl $form"
    fi
  done
done
exit $status
