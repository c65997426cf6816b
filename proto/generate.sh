#!/usr/bin/env bash
# Regenerates the TypeScript protocol code from proto/ with ts-proto. The output under
# shared/generated/ is committed and never edited by hand; CI fails if this changes it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=shared/generated
rm -rf "$out"
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,oneof=unions-value,esModuleInterop=true,removeEnumPrefix=true,forceLong=number,useOptionals=none,env=node \
  -I proto \
  proto/tandem/v2/agent.proto
