#!/bin/bash
# start.sh DIR - start a single-node Ceph cluster (one monitor, one
# memory-backed OSD) and a RADOS gateway on 127.0.0.1, for the S3 tests.
#
# Everything lives under DIR (config, monitor store, logs, pid files);
# nothing is written to /etc or /var/lib/ceph.  Ports are picked free at
# start, so several build directories can run fixtures side by side.
# On success DIR/s3.env holds, as shell assignments:
#   S3_ENDPOINT_URL, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION_NAME
#   GNARL_S3_DIR (DIR), GNARL_S3_CEPH_CONF (for radosgw-admin)
# and DIR/pids (monitor, OSD) and DIR/rgw.pid (gateway, see gateway.sh) the
# PIDs that stop.sh kills.  Without the Ceph binaries it
# writes GNARL_S3_SKIP="<reason>" instead and exits 77 (tests skip), or,
# under CI=true, where they must be installed, fails (exit 1).
set -u

DIR=${1:?usage: start.sh DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ACCESS_KEY=GNARLTESTACCESSKEY01
SECRET_KEY=gnarl-test-secret-key-0123456789abcdefghij
REGION=us-east-1

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ENVF="$DIR/s3.env"

# A previous fixture in the same directory is stopped first.
if [ -f "$DIR/pids" ] || [ -f "$DIR/rgw.pid" ]; then
  "$HERE/stop.sh" "$DIR" >/dev/null 2>&1
fi
rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash" "$DIR/monmap" \
  "$DIR/ceph.conf" "$DIR/pids" "$DIR/rgw.pid" "$ENVF"

for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
  if ! command -v "$b" >/dev/null 2>&1; then
    echo "GNARL_S3_SKIP=\"Ceph binary '$b' not found: install radosgw ceph-mon ceph-osd to run the S3 tests\"" >"$ENVF"
    if [ "${CI:-}" = true ]; then
      echo "start.sh: $b not found (CI=true: the S3 tests must run; install radosgw ceph-mon ceph-osd)" >&2
      exit 1
    fi
    echo "start.sh: $b not found: S3 tests will be skipped" >&2
    exit 77
  fi
done

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fail() {
  echo "start.sh: $*" >&2
  for f in "$DIR"/log/*.log; do
    [ -f "$f" ] && { echo "--- $f (tail)" >&2; tail -n 20 "$f" >&2; }
  done
  "$HERE/stop.sh" "$DIR" >/dev/null 2>&1
  exit 1
}

MON_PORT=$(free_port)
RGW_PORT=$(free_port)
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF="$DIR/ceph.conf"
mkdir -p "$DIR/mon/mon.a" "$DIR/osd/osd.0" "$DIR/run" "$DIR/log" "$DIR/rgw"

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind msgr2 = true
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
keyring = $DIR/keyring
crash dir = $DIR/crash
mon data = $DIR/mon/\$name
osd data = $DIR/osd/\$name
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 460
osd max object namespace len = 64
mon data avail crit = 1
mon cluster log file = default=$DIR/log/\$cluster.\$channel.log cluster=$DIR/log/\$cluster.log
mgr initial modules =

[client.rgw.gnarl]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
ms mon client mode = crc
auth client required = none
rgw dns name = localhost
rgw thread pool size = 64
CONF

log() { echo "start.sh: $*" >&2; }

T0=$(date +%s)
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >"$DIR/log/monmaptool.out" 2>&1 ||
  fail "monmaptool failed"
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >"$DIR/log/mon-mkfs.out" 2>&1 ||
  fail "ceph-mon --mkfs failed: $(cat "$DIR/log/mon-mkfs.out")"
ceph-mon -c "$CONF" -i a -f >"$DIR/log/mon.out" 2>&1 &
echo "$!" >>"$DIR/pids"

CEPH="ceph -c $CONF --connect-timeout 20"
$CEPH osd create >"$DIR/log/osd-create.out" 2>&1 || fail "ceph osd create failed: $(cat "$DIR/log/osd-create.out")"
ceph-osd -c "$CONF" -i 0 --mkfs >"$DIR/log/osd-mkfs.out" 2>&1 || fail "ceph-osd --mkfs failed: $(cat "$DIR/log/osd-mkfs.out")"
ceph-osd -c "$CONF" -i 0 -f >"$DIR/log/osd.out" 2>&1 &
echo "$!" >>"$DIR/pids"

"$HERE/gateway.sh" start "$DIR" || fail "radosgw did not start"

radosgw-admin -c "$CONF" -n client.rgw.gnarl user create --uid=gnarl-test --display-name="gnarl test" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DIR/log/user-create.out" 2>&1 ||
  fail "radosgw-admin user create failed: $(tail -n 5 "$DIR/log/user-create.out")"

cat >"$ENVF.tmp" <<ENV
S3_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT
S3_ACCESS_KEY_ID=$ACCESS_KEY
S3_SECRET_ACCESS_KEY=$SECRET_KEY
S3_REGION_NAME=$REGION
GNARL_S3_DIR=$DIR
GNARL_S3_CEPH_CONF=$CONF
ENV
mv "$ENVF.tmp" "$ENVF"
log "radosgw up on http://127.0.0.1:$RGW_PORT after $(($(date +%s) - T0)) s (pids $(cat "$DIR/pids" "$DIR/rgw.pid" | tr '\n' ' '))"
