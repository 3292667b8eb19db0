#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, builds, and runs
# every test inside a fresh loopback-only network namespace when it can make one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
bash scripts/ensure-system-packages.sh
bash scripts/ensure-runtimes.sh
npx tsc -p tsconfig.json
npx tsc -p e2e/tsconfig.json
exec bash scripts/in-loopback-namespace.sh node --import tsx test/run.ts "$@"
