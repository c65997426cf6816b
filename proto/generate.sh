#!/usr/bin/env bash
# Regenerates the TypeScript protocol code from proto/ with ts-proto, driven by buf (the
# @bufbuild/buf dev dependency ships its own compiler: no protoc needed). The output under
# shared/generated/ is committed and never edited by hand; CI fails if this changes it.
# Generation goes to a temporary folder first: shared/generated/ is replaced only when it succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=shared/generated
for tool in node_modules/.bin/buf node_modules/.bin/protoc-gen-ts_proto; do
  [ -x "$tool" ] || { echo "proto: $tool is missing; run 'npm ci' first" >&2; exit 1; }
done
tmp=$(mktemp -d shared/.generated.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
node_modules/.bin/buf generate proto --template proto/buf.gen.yaml --output "$tmp"
[ -s "$tmp/tandem/v2/agent.ts" ] || { echo "proto: buf generate wrote no tandem/v2/agent.ts; $out is left as it was" >&2; exit 1; }
old=$(mktemp -d shared/.generated-old.XXXXXX)
rmdir "$old"
[ ! -e "$out" ] || mv "$out" "$old"
chmod 755 "$tmp"
mv "$tmp" "$out"
rm -rf "$old"
