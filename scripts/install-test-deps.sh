#!/usr/bin/env bash
# Installs the Debian packages some tests need, when they are missing:
#   redis-tools  redis-cli and redis-benchmark (test/resp: Redis protocol compatibility)
#   chromium     a real browser (test/dashboard: the web dashboard)
#   firefox-esr  the second browser (test/dashboard, driven over WebDriver BiDi)
# Idempotent and best-effort: without root or apt-get, or when the mirror cannot be
# reached, it prints one line and exits 0; the tests that need a missing tool then
# skip with one line saying why. Called by .ci/run before `npm ci`.
set -u
want=()
command -v redis-cli >/dev/null 2>&1 || want+=(redis-tools)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || want+=(firefox-esr)
if [ ${#want[@]} -eq 0 ]; then
  echo "install-test-deps: redis-tools, chromium and firefox-esr already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: cannot install ${want[*]} (needs root and apt-get); the tests that need them will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1; then
  echo "install-test-deps: installed ${want[*]}"
else
  echo "install-test-deps: apt-get could not install ${want[*]}; the tests that need them will skip"
fi
exit 0
