#!/usr/bin/env bash
# scripts/setup.sh [--deps-only] - prepare a fresh Debian 12 machine:
# install every package in scripts/packages.txt with apt-get (as root, or
# through sudo for another user), then configure and build a Release gnarl
# in build/ as the calling user.
#
#   scripts/setup.sh && build/gnarl train
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

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "setup.sh: installing packages needs root: run it as root, or install sudo" >&2
    exit 2
  }
  as_root=(sudo)
fi
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$root/scripts/packages.txt" | grep -v '^$')
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${packages[@]}"
[ "$deps_only" -eq 1 ] && exit 0

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" -j "$(nproc)"
echo "setup.sh: built $root/build/gnarl"
