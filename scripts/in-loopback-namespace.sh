#!/usr/bin/env bash
# Runs the given command inside a fresh network namespace with only loopback up, so WebRTC
# and every server it starts can reach nothing outside this machine. Needs root and unshare;
# elsewhere it warns and runs the command on the host network.
# The default route goes to lo (source 127.0.0.1): Firefox takes host ICE candidates only from
# the default route's interface and gathers none without one. Nothing leaves the namespace
# either way: lo is its only interface.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && ip route add default dev lo src 127.0.0.1 && exec "$@"' bash "$@"
fi
echo "warning: cannot create a network namespace (need root and unshare); running on the host network" >&2
exec "$@"
