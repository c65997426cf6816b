#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus's rule checker), installing it into .cache/promtool/
# when there is none: from Debian's prometheus package, unpacked, never installed (no service is
# started), else with `go install` through the Go module proxy. Exits 1 when neither works.
# Used by CI (.ci/run) and by test/unit/alert-rules.test.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=.cache/promtool
if [ -n "${PROMTOOL:-}" ] && [ -x "$PROMTOOL" ]; then echo "$PROMTOOL"; exit 0; fi
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
if [ -x "$cache/promtool" ]; then echo "$PWD/$cache/promtool"; exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
  echo "promtool: fetching Debian's prometheus package (unpacked into $cache, not installed)" >&2
  if ! (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 || true
    (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1) || true
  fi
  deb=$(ls "$work"/prometheus_*.deb 2>/dev/null | head -1 || true)
  if [ -n "$deb" ]; then
    dpkg-deb -x "$deb" "$work/x"
    install -m 0755 "$work/x/usr/bin/promtool" "$cache/promtool"
  fi
fi
if [ ! -x "$cache/promtool" ] && command -v go >/dev/null 2>&1; then
  echo "promtool: go install github.com/prometheus/prometheus/cmd/promtool@latest" >&2
  GOBIN="$PWD/$cache" go install github.com/prometheus/prometheus/cmd/promtool@latest >&2 || true
fi
if [ ! -x "$cache/promtool" ]; then
  echo "promtool: could not be installed (no Debian prometheus package, no Go module proxy)" >&2
  exit 1
fi
echo "$PWD/$cache/promtool"
