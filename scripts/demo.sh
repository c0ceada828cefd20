#!/usr/bin/env bash
# The main job of a fresh machine: install what is missing, build, and issue a certificate from a local
# Pebble over TLS-ALPN-01 with the real CLI (see scripts/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts
