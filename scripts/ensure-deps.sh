#!/usr/bin/env bash
# Installs the npm packages when they are missing or older than package.json (fresh clones).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsx ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
