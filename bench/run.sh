#!/usr/bin/env bash
# `npm run bench [-- --quick] [--only P1,P3] [--transports socket.io,nostr]`: installs what it needs, then runs the
# benchmark harness inside a fresh loopback-only network namespace when it can make one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
exec bash scripts/in-loopback-namespace.sh node --expose-gc --import tsx bench/run.ts "$@"
