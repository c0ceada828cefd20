#!/usr/bin/env bash
# Every test: type-check, lint, unit tests, integration tests against real peers (Pebble, DNS) that the
# integration tests start themselves on loopback. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo '== type-check'
npx tsc --noEmit
echo '== lint'
npx biome check

mapfile -t unit < <(find test/unit -name '*.test.ts' | sort)
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)

echo "== unit tests (${#unit[@]} files)"
# --test-force-exit and --test-timeout: a test that leaves a handle open or hangs fails the run instead of
# holding it until CI's own limit.
node --import tsx --test --test-force-exit --test-timeout=120000 --test-reporter=spec "${unit[@]}"

echo "== integration tests (${#integration[@]} files)"
if [ "${#integration[@]}" -gt 0 ]; then
  node --import tsx --test --test-concurrency=1 --test-force-exit --test-timeout=300000 --test-reporter=spec \
    "${integration[@]}"
fi
