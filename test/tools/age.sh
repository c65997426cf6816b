#!/usr/bin/env bash
# Prints the folder holding the reference `age` and `age-keygen` binaries (filippo.io/age), building
# them into .cache/age/bin/ with `go install` through the Go module proxy when they are not there
# yet or are another version. Idempotent: a second run only checks the version. Exits 1 when Go is
# missing or the module cannot be fetched. Used by test/integration/age-interop.test.ts and the
# `age` bench (test/bench/age.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v1.3.2
bin=$PWD/.cache/age/bin
have() { [ -x "$bin/age" ] && [ -x "$bin/age-keygen" ] && [ "$("$bin/age" --version 2>/dev/null)" = "$version" ]; }
if have; then echo "$bin"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  echo "age: Go is needed to build the reference age $version (apt-get install golang-go)" >&2
  exit 1
fi
mkdir -p "$bin"
echo "age: go install filippo.io/age/cmd/...@$version into $bin" >&2
GOBIN="$bin" go install "filippo.io/age/cmd/...@$version" >&2
if ! have; then
  echo "age: $bin/age is not version $version after go install" >&2
  exit 1
fi
echo "$bin"
