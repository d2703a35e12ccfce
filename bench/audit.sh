#!/usr/bin/env bash
# Audit writer cost (docs/performance.md, "Audit"): bench/audit_bench.c against the
# library, on a fresh database in BENCH_AUDIT_DIR (default: a temp folder under the build
# directory, so the disk measured is the one the data usually lives on). Not part of ctest.
#
# usage: bench/audit.sh [BUILD_DIR]   (default: build; needs BUILD_DIR/libbulwark.a)
# Knobs (environment): BENCH_AUDIT_RECORDS (records per case, 4000), BENCH_AUDIT_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
LIB=$BUILD/libbulwark.a
OUT=$BUILD/bench-out
RECORDS=${BENCH_AUDIT_RECORDS:-4000}
[ -f "$LIB" ] || { echo "audit: $LIB not found; build first (make build)" >&2; exit 1; }

mkdir -p "$OUT"
DIR=${BENCH_AUDIT_DIR:-$(mktemp -d "$OUT/audit.XXXXXX")}
trap 'rm -rf "$DIR"' EXIT
CFLAGS="-std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wformat=2 -Wshadow -D_FORTIFY_SOURCE=2
        -fstack-protector-strong -fstack-clash-protection"
# shellcheck disable=SC2086,SC2046
cc $CFLAGS -fPIE -pie -Wl,-z,relro,-z,now -I"$ROOT/framework/include" \
  -o "$OUT/audit_bench" "$ROOT/bench/audit_bench.c" "$LIB" \
  $(pkg-config --libs libsodium jansson sqlite3) -pthread
echo "== audit writer ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, database on" \
  "$(df --output=source,fstype "$DIR" | tail -n1 | tr -s ' '))"
"$OUT/audit_bench" "$DIR" "$RECORDS"
