#!/usr/bin/env bash
# The issuance benchmark: tlsward's CLI next to uacme + ualpn and lego against one local Pebble
# (TLS-ALPN-01), then a bulk batch through the library. Installs the peers if missing (root, apt-get).
# Knobs: BENCH_RUNS (7), BENCH_LEGO_RUNS (3), BENCH_BULK (200), BENCH_CONCURRENCY (20).
set -euo pipefail
cd "$(dirname "$0")/.."
TLSWARD_WITH_PEERS=1 bash scripts/setup.sh
node --import tsx bench/serve.bench.ts || echo "bench: the serving benchmark (bench/serve.bench.ts) failed: exit $?" >&2
exec node --import tsx bench/issue.bench.ts
