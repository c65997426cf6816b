#!/usr/bin/env bash
# Runs tandem's test suites (unit, then integration) with uvu and ends with one line:
# "tests: N passed, N failed, N skipped". Exits non-zero when a test failed or nothing ran.
# Integration tests need the sandbox's real services: this script brings the sandbox up first, and
# a test run without it fails (test/helpers/sandbox.ts), it is never counted as passed.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run build --silent || { echo "tests: 0 passed, 1 failed (build failed)"; exit 1; }
export NO_COLOR=1 FORCE_COLOR=0
passed=0 failed=0 skipped=0 status=0
# What the suites leave in the temp folder: every scratch folder is named tandem-* and removed when
# its test process exits (test/helpers/scratch.ts). New ones are named at the end, never a failure:
# other runs on this machine (another clone's tests, a bench, the sandbox's agents) make tandem-*
# folders at the same time and this run cannot tell theirs from its own. A test that makes one
# outside the helper fails test/unit/scratch.test.ts instead.
tmp_root=${TMPDIR:-/tmp}
tandem_tmp() { find "$tmp_root" -mindepth 1 -maxdepth 1 -name 'tandem-*' -printf '%f\n' 2>/dev/null | sort; }
tmp_before=$(tandem_tmp)
suites=("${@:-unit integration}")
for suite in ${suites[*]}; do
  # Integration tests run against the sandbox's real services: bring it up (idempotent) first.
  if [ "$suite" = integration ] && [ "${TANDEM_TEST_NO_SANDBOX:-}" != 1 ]; then
    node dist/test/sandbox/main.js up || { echo "tests: 0 passed, 1 failed (sandbox did not come up)"; exit 1; }
    [ -f .sandbox/seed.json ] || node dist/test/sandbox/main.js seed --size 5MB >/dev/null
  fi
  log=$(mktemp)
  npx uvu "dist/test/$suite" '\.test\.js$' 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  t=$(grep -Eo 'Total: +[0-9]+' <<<"$clean" | grep -Eo '[0-9]+' | tail -1)
  p=$(grep -Eo 'Passed: +[0-9]+' <<<"$clean" | grep -Eo '[0-9]+' | tail -1)
  s=$(grep -Eo 'Skipped: +[0-9]+' <<<"$clean" | grep -Eo '[0-9]+' | tail -1)
  t=${t:-0} p=${p:-0} s=${s:-0}
  # uvu's Total leaves skipped tests out; a test that neither passed nor was skipped failed,
  # including those uvu never ran because a before hook threw (it prints nothing for that).
  f=$((t - p))
  # A suite that crashed before uvu's summary still counts as a failure.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$rc" -ne 0 ] || [ "$f" -gt 0 ]; then status=1; fi
  rm -f "$log"
done
tmp_new=$(comm -13 <(echo "$tmp_before") <(tandem_tmp))
if [ -n "$tmp_new" ]; then
  echo "tmp: $(wc -l <<<"$tmp_new") new tandem-* in $tmp_root since the start (this run's, or another run's on this machine): $(head -20 <<<"$tmp_new" | tr '\n' ' ')"
else
  echo "tmp: nothing new in $tmp_root"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$passed" -gt 0 ] || status=1
exit $status
