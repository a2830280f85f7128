#!/bin/bash
# stop.sh DIR - stop the Ceph fixture that start.sh DIR started: the PIDs
# it recorded in DIR/rgw.pid and DIR/pids (gateway first, then OSD and
# monitor), TERM, then KILL after 10 s.
# A PID is signalled only while its command line still names DIR's
# ceph.conf, so a stale pid file never hits a recycled PID.
set -u
DIR=${1:?usage: stop.sh DIR}
DIR=$(cd "$DIR" 2>/dev/null && pwd) || exit 0
[ -f "$DIR/pids" ] || [ -f "$DIR/rgw.pid" ] || exit 0

ours() {
  { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/ceph.conf"
}

pids=
for p in $(cat "$DIR/rgw.pid" 2>/dev/null) $(tac "$DIR/pids" 2>/dev/null); do
  ours "$p" && pids="$pids $p"
done
for p in $pids; do
  kill -TERM "$p" 2>/dev/null
done
alive=$pids
for _ in $(seq 1 100); do
  still=
  for p in $alive; do
    ours "$p" && still="$still $p"
  done
  alive=$still
  [ -z "$alive" ] && break
  sleep 0.1
done
for p in $alive; do
  kill -KILL "$p" 2>/dev/null
done
rm -f "$DIR/pids" "$DIR/rgw.pid"
exit 0
