#!/usr/bin/env bash
# The benchmarks (not part of the tests), each against peers started here on loopback:
#   bench/serve.bench.ts       handshakes/s, memory and start-up of the daemon's tcp-proxy with 10k/100k certificates
#   bench/issue.bench.ts       tlsward issue vs uacme+ualpn vs lego over TLS-ALPN-01, then 200 names in bulk
#   bench/challenges.bench.ts  one name over HTTP-01 and DNS-01 (Knot, TSIG), tlsward vs lego
# Installs the peers if missing (root, apt-get). Knobs: see the header of each file. A benchmark that fails
# is reported and the next one still runs; the exit code says whether any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
TLSWARD_WITH_PEERS=1 bash scripts/setup.sh || exit 1
failed=0
for bench in serve issue challenges; do
  echo "=== bench/${bench}.bench.ts"
  node --import tsx "bench/${bench}.bench.ts" || { echo "bench: bench/${bench}.bench.ts failed" >&2; failed=1; }
done
exit "$failed"
