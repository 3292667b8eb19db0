#!/usr/bin/env bash
# Debian packages the tests run as real external processes: mosquitto (an MQTT broker),
# redis-server (the socket.io scale-out tests), chromium and firefox-esr (the e2e tests, which
# use Debian's browsers instead of downloading their own).
# Installed only when missing, and only where apt-get can be used (root on Debian).
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: ${missing[*]} missing and apt-get unavailable; the tests that need them will fail" >&2
fi
