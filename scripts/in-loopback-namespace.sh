#!/usr/bin/env bash
# Runs the given command inside a fresh network namespace with only loopback up, so WebRTC
# and every server it starts can reach nothing outside this machine. Needs root and unshare;
# elsewhere it warns and runs the command on the host network.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && exec "$@"' bash "$@"
fi
echo "warning: cannot create a network namespace (need root and unshare); running on the host network" >&2
exec "$@"
