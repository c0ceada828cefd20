#!/usr/bin/env bash
# Prepares a fresh machine: the Debian packages the tests and the demo use, then the npm dependencies.
# Idempotent: installs only what is missing. Needs root for apt-get (CI and dev machines run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

needed=(pebble knot knot-dnsutils openssl)
[ "${TLSWARD_WITH_PEERS:-0}" = 1 ] && needed+=(lego uacme)  # uacme brings ualpn
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
