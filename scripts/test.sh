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
node --import tsx --test --test-reporter=spec "${unit[@]}"

echo "== integration tests (${#integration[@]} files)"
if [ "${#integration[@]}" -gt 0 ]; then
  node --import tsx --test --test-concurrency=1 --test-reporter=spec "${integration[@]}"
fi
