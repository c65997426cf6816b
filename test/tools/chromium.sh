#!/usr/bin/env bash
# Prints the path of a headless Chromium, for the run report's screenshot test
# (test/integration/run-report.test.ts) and CI (.ci/run). An installed `chromium` or
# `chromium-headless-shell` is used as it is; else Debian's chromium-headless-shell package is
# installed (as root, apt-get), and Debian's chromium if that one is not available. Quiet and
# idempotent: prints only the path; exits 1, saying why on stderr, when none can be had.
set -euo pipefail
find_chromium() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
  for name in chromium-headless-shell chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  # Debian's headless shell lives outside PATH in some releases.
  if [ -x /usr/lib/chromium/chromium-headless-shell ]; then echo /usr/lib/chromium/chromium-headless-shell; return 0; fi
  return 1
}
if find_chromium; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed; install Debian's chromium-headless-shell (or chromium) package, or set CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get (CI installing its packages) may hold dpkg's lock for a while: wait for it.
apt_get() { apt-get -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1; }
echo "chromium: installing Debian's chromium-headless-shell package" >&2
if ! apt_get install -y --no-install-recommends chromium-headless-shell; then
  apt_get update || true
  apt_get install -y --no-install-recommends chromium-headless-shell || apt_get install -y --no-install-recommends chromium || true
fi
if find_chromium; then exit 0; fi
echo "chromium: could not be installed (neither chromium-headless-shell nor chromium from Debian's packages)" >&2
exit 1
