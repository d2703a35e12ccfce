#!/usr/bin/env bash
# `make run`: a development data folder (created once), then the service.
set -euo pipefail
build=${1:-build}
data=${BULWARK_DATA_DIR:-.data}
export BULWARK_DATA_DIR=$data
if [ ! -d "$data" ]; then
  "$build/notes" init --data-dir "$data"
fi
echo "notes: serving on https://localhost:8443 (certificate: $data/tls/cert.pem; Ctrl-C stops)"
exec "$build/notes" serve
