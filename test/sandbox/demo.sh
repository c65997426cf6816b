#!/usr/bin/env bash
# npm run demo: the main job on the local sandbox. Brings the real services and the tandem fleet
# up, seeds TheHive-shaped data, takes a coordinated backup of all three stores while the hot
# writer writes, verifies the set, runs a restore drill, and prints the report.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
sandbox() { node dist/test/sandbox/main.js "$@"; }
tandem() { node dist/coordinator/main.js "$@"; }

sandbox up
[ -f .sandbox/seed.json ] || sandbox seed --size "${TANDEM_DEMO_SIZE:-5MB}" >/dev/null
sandbox writer start >/dev/null
trap 'sandbox writer stop >/dev/null 2>&1 || true' EXIT

echo "== tandem backup (hot writer running)"
result=$(tandem backup --config .sandbox/fleet.yaml --json)
sandbox writer stop >/dev/null
echo "$result"
id=$(node -e 'const r = JSON.parse(process.argv[1]); if (r.status !== "complete") process.exit(1); console.log(r.id)' "$result")

echo "== tandem show $id"
tandem show "$id" --config .sandbox/fleet.yaml
echo "== tandem verify $id"
tandem verify "$id" --config .sandbox/fleet.yaml
echo "== tandem drill $id"
tandem drill "$id" --config .sandbox/fleet.yaml --scratch-dir "$PWD/.sandbox/drill"
echo "== tandem list"
tandem list --config .sandbox/fleet.yaml
