#!/usr/bin/env bash
# scripts/setup.sh [--deps-only] - prepare a fresh Debian 12 machine:
# install every package in scripts/packages.txt with apt-get (needs root:
# run it with sudo), then configure and build a Release gnarl in build/
# (as the user who called sudo, so build/ stays theirs).
#
#   sudo scripts/setup.sh && build/gnarl train
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps_only=0
for a in "$@"; do
  case $a in
    --deps-only) deps_only=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: installing packages needs root: run 'sudo $0'" >&2
  exit 2
fi
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$root/scripts/packages.txt" | grep -v '^$')
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${packages[@]}"
[ "$deps_only" -eq 1 ] && exit 0

# Build as the invoking user when run through sudo.
as_user=()
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  as_user=(sudo -u "$SUDO_USER" --)
fi
"${as_user[@]}" cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
"${as_user[@]}" cmake --build "$root/build" -j "$(nproc)"
echo "setup.sh: built $root/build/gnarl"
