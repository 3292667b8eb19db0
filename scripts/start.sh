#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the demo (all signaling services and the
# demo page's web server in one process; `-- --port N` picks the page's port, default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/demo/main.ts "$@"
