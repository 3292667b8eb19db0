#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, builds, and runs
# every test inside a fresh loopback-only network namespace when it can make one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
bash scripts/ensure-system-packages.sh
npx tsc -p tsconfig.json

run_tests() { node --import tsx test/run.ts "$@"; }

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  # Loopback only: WebRTC and every server the tests start can reach nothing outside.
  export -f run_tests
  exec unshare -n bash -c 'ip link set lo up && run_tests "$@"' bash "$@"
else
  echo "warning: cannot create a network namespace (need root and unshare); running on the host network" >&2
  run_tests "$@"
fi
