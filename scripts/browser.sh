#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser check (test/e2e/html_test.go),
# from Debian's apt, only when missing; apt-get update only if the install fails.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "browser: /usr/bin/chromium is missing; install Debian's chromium package (as root: scripts/browser.sh)" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "browser: apt-get install chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium >"$log" 2>&1 \
  || { apt-get update -q >>"$log" 2>&1 && apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1; } \
  || { cat "$log" >&2; echo "browser: apt-get install chromium failed" >&2; exit 1; }
[ -x /usr/bin/chromium ]
