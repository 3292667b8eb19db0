#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/demo.ts "$@"
