#!/bin/bash
# gateway.sh start|stop DIR [DELAY] - start or stop only the RADOS gateway
# of the fixture in DIR (start.sh starts it the first time; the monitor
# and OSD keep running).  The S3 tests use it to take the server away and
# bring it back.  start waits DELAY seconds first (default 0), then until
# the gateway answers; its PID goes to DIR/rgw.pid, which stop.sh and
# `gateway.sh stop` read.  stop signals only a PID whose command line names
# DIR's ceph.conf, and waits until it is gone.
set -u
CMD=${1:?usage: gateway.sh start|stop DIR [DELAY]}
DIR=$(cd "${2:?usage: gateway.sh start|stop DIR [DELAY]}" && pwd) || exit 1
CONF="$DIR/ceph.conf"
PORT=$(sed -n 's/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$CONF")

ours() {
  { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$CONF"
}

case "$CMD" in
start)
  sleep "${3:-0}"
  radosgw -c "$CONF" -n client.rgw.gnarl -f >>"$DIR/log/rgw.out" 2>&1 &
  echo "$!" >"$DIR/rgw.pid"
  for _ in $(seq 1 600); do
    if /usr/bin/python3 -c '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
' "$PORT" 2>/dev/null; then
      exit 0
    fi
    ours "$(cat "$DIR/rgw.pid")" || { echo "gateway.sh: radosgw exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "gateway.sh: radosgw did not answer on 127.0.0.1:$PORT within 60 s" >&2
  exit 1
  ;;
stop)
  [ -f "$DIR/rgw.pid" ] || exit 0
  pid=$(cat "$DIR/rgw.pid")
  if ours "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      ours "$pid" || break
      sleep 0.1
    done
    ours "$pid" && kill -KILL "$pid"
  fi
  rm -f "$DIR/rgw.pid"
  ;;
*)
  echo "usage: gateway.sh start|stop DIR [DELAY]" >&2
  exit 2
  ;;
esac
