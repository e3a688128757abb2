#!/bin/sh
# Installs the Debian packages given as arguments when any is missing.
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "hylab: missing packages:$missing" >&2
  echo "hylab: run as root: apt-get install$missing   (or: sudo make deps)" >&2
  exit 1
fi
echo "hylab: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
  echo "hylab: apt-get install$missing failed" >&2; exit 1; }
