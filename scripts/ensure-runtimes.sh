#!/usr/bin/env bash
# Bun and Deno for test/runtimes.test.ts, from the npm registry packages that carry their
# binaries (@oven/bun-linux-x64, @deno/linux-x64-glibc), into .cache/runtimes once. Only on
# Linux x64 with glibc, the platform those packages are for; elsewhere the test says what is
# missing (BUN_PATH and DENO_PATH point it at binaries installed another way).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=1.4.5
DENO_VERSION=2.9.6
prefix=.cache/runtimes
[ -x "$prefix/node_modules/@oven/bun-linux-x64/bin/bun" ] && [ -x "$prefix/node_modules/@deno/linux-x64-glibc/deno" ] && exit 0
if [ "$(uname -sm)" != "Linux x86_64" ] || ! ldd --version 2>&1 | grep -qi 'glibc\|gnu libc'; then
  echo "warning: no Bun and Deno packages for $(uname -sm) here; set BUN_PATH and DENO_PATH for test/runtimes.test.ts" >&2
  exit 0
fi
mkdir -p "$prefix"
[ -f "$prefix/package.json" ] || echo '{ "private": true }' > "$prefix/package.json"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --no-package-lock \
  "@oven/bun-linux-x64@$BUN_VERSION" "@deno/linux-x64-glibc@$DENO_VERSION" >/dev/null
