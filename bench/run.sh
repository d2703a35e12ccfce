#!/usr/bin/env bash
# TLS benchmark: Bulwark's sample service (wolfSSL through the bridge) against
# bare CivetWeb on OpenSSL 3, same machine, same client, interleaved rounds.
#
# usage: bench/run.sh [BUILD_DIR]     (default: build; needs BUILD_DIR/notes)
# Knobs (environment): BENCH_SECONDS (per measurement, 5), BENCH_ROUNDS (3),
# BENCH_WARMUP (2), BENCH_HS_CONC (8), BENCH_KA_CONC (16), BENCH_THREADS (32),
# BENCH_WRK (1: also run wrk as a keep-alive cross-check).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NOTES=$BUILD/notes
OUT=$BUILD/bench-out
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARM=${BENCH_WARMUP:-2}
HS_CONC=${BENCH_HS_CONC:-8}
KA_CONC=${BENCH_KA_CONC:-16}
THREADS=${BENCH_THREADS:-32}
WRK=${BENCH_WRK:-1}

# Connections beyond the server's worker threads starve (docs/architecture.md):
# the client must stay below the thread count or it measures queueing.
if [ "$HS_CONC" -ge "$THREADS" ] || [ "$KA_CONC" -ge "$THREADS" ]; then
  echo "bench: concurrency must stay below BENCH_THREADS=$THREADS" >&2
  exit 2
fi

BW_EXTRA_PACKAGES="wrk libssl-dev" bash "$ROOT/scripts/deps.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
[ -x "$NOTES" ] || { echo "bench: $NOTES not found; build first (make build)" >&2; exit 1; }

# --- build the bench programs (never part of the CMake build or ctest) -------
mkdir -p "$OUT"
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -Wformat=2 -Wshadow -D_FORTIFY_SOURCE=2
        -fstack-protector-strong -fstack-clash-protection"
LDHARD="-Wl,-z,relro,-z,now"
# shellcheck disable=SC2086
{
  # The stand-ins keep their DT_NEEDED although no symbol of it is used.
  cc $CFLAGS -fPIC -shared $LDHARD -Wl,-soname,libssl.so -Wl,--no-as-needed \
    -o "$OUT/libbench-ssl.so" "$ROOT/bench/standin_ssl.c" -l:libssl.so.3 -l:libcrypto.so.3
  cc $CFLAGS -fPIC -shared $LDHARD -Wl,-soname,libcrypto.so -Wl,--no-as-needed \
    -o "$OUT/libbench-crypto.so" "$ROOT/bench/standin_crypto.c" -l:libcrypto.so.3
  cc $CFLAGS -fPIE -pie $LDHARD -o "$OUT/bare_server" "$ROOT/bench/bare_server.c" \
    -lcivetweb -ldl -lpthread
  cc $CFLAGS -fPIE -pie $LDHARD -o "$OUT/tls_client" "$ROOT/bench/tls_client.c" \
    -l:libssl.so.3 -l:libcrypto.so.3 -lpthread
}
CLIENT=$OUT/tls_client

# --- servers -----------------------------------------------------------------
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

wait_ready() { # name port pid
  for _ in $(seq 100); do
    if "$CLIENT" check "$2" 1 1 "$TMP/data/tls/cert.pem" >"$TMP/$1.check" 2>/dev/null; then
      return 0
    fi
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: $1 did not answer; its log:" >&2
  cat "$TMP/$1.log" >&2
  return 1
}

"$NOTES" init --data-dir "$TMP/data" >/dev/null
# CivetWeb's ssl_certificate wants certificate and key in one PEM.
(umask 077 && cat "$TMP/data/tls/cert.pem" "$TMP/data/tls/key.pem" >"$TMP/bare.pem")

# Every request here comes from 127.0.0.1: the per-address budgets and the
# connection cap are raised so the limiter and the cap still run on every
# request but never refuse one (bare CivetWeb has neither).
printf '%s\n' '{"ratelimit": {"address": "1000000/s", "address_burst": 1000000,
  "principal": "1000000/s", "principal_burst": 1000000},
  "limits": {"max_connections_per_address": 1000}}' >"$TMP/bulwark.json"

PORT_A=$(free_port)
# Request logs off for both (warn level; bare CivetWeb has no access log).
BULWARK_CONFIG="$TMP/bulwark.json" BULWARK_DATA_DIR="$TMP/data" BULWARK_LISTEN="127.0.0.1:$PORT_A" BULWARK_THREADS="$THREADS" \
  BULWARK_LOG_LEVEL=warn "$NOTES" serve >"$TMP/bulwark.log" 2>&1 &
PID_A=$!
PIDS+=("$PID_A")
wait_ready bulwark "$PORT_A" "$PID_A"

PORT_B=$(free_port)
"$OUT/bare_server" "$PORT_B" "$TMP/bare.pem" "$THREADS" "$OUT" >"$TMP/bare.log" 2>&1 &
PID_B=$!
PIDS+=("$PID_B")
wait_ready bare "$PORT_B" "$PID_B"

tls_libs() { # pid: the TLS libraries the process has mapped
  awk '$6 ~ /(ssl|crypto|wolf)/ { n = split($6, p, "/"); print p[n] }' "/proc/$1/maps" |
    sort -u | paste -sd' '
}

echo "== setup ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $(sed -n "s/^model name\t*: //p" /proc/cpuinfo | sort -u | head -n1), kernel $(uname -r))"
echo "bulwark       port=$PORT_A threads=$THREADS libs: $(tls_libs "$PID_A")"
echo "bare-openssl  port=$PORT_B threads=$THREADS libs: $(tls_libs "$PID_B")"
echo "bare-openssl  $(head -n1 "$TMP/bare.log")"
echo "negotiated (certificate verified for 127.0.0.1):"
echo "  bulwark       $(cat "$TMP/bulwark.check")"
echo "  bare-openssl  $(cat "$TMP/bare.check")"
# An independent client's view of the bare server (curl offers its defaults).
echo "  curl -> bare  $(curl -sv --cacert "$TMP/data/tls/cert.pem" \
  "https://127.0.0.1:$PORT_B/healthz" 2>&1 >/dev/null | sed -n 's/^\* SSL connection using //p')"

# --- measurements ------------------------------------------------------------
HZ=$(getconf CLK_TCK)
declare -A OPS SECS_SUM TICKS
ERRORS=0
NOISY=0
measure() { # name port mode seconds concurrency [record]
  local pid t0 t1 b0 b1 line ops secs errs cpu other key
  [ "$1" = bulwark ] && pid=$PID_A || pid=$PID_B
  t0=$(cpu_ticks "$pid")
  b0=$(sys_busy)
  if ! line=$("$CLIENT" "$3" "$2" "$4" "$5" 2>"$TMP/client.err"); then
    echo "bench: client failed against $1 ($3): $(cat "$TMP/client.err")" >&2
    exit 1
  fi
  t1=$(cpu_ticks "$pid")
  b1=$(sys_busy)
  [ "${6:-}" = record ] || return 0
  ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$line")
  secs=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$line")
  errs=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
  cpu=$(sed -n 's/.*cpu=\([0-9.]*\).*/\1/p' <<<"$line")
  # CPU used by anything but this server and this client, in % of one CPU:
  # other work on the machine makes the figures noisy.
  other=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c="$cpu" -v s="$secs" -v hz="$HZ" \
    'BEGIN { o = ((b - t) / hz - c) / s * 100; printf "%.0f", o < 0 ? 0 : o }')
  [ "$other" -le 15 ] || NOISY=1
  printf '  %-9s %-13s %s other-load=%s%%\n' "$3" "$1" "$(cut -d' ' -f1-5 <<<"$line")" "$other"
  if [ "$errs" != 0 ]; then
    ERRORS=$((ERRORS + errs))
    echo "  (errors: $(cat "$TMP/client.err"))"
  fi
  key="$1/$3"
  OPS[$key]=$((${OPS[$key]:-0} + ops))
  SECS_SUM[$key]=$(awk -v a="${SECS_SUM[$key]:-0}" -v b="$secs" 'BEGIN { print a + b }')
  TICKS[$key]=$((${TICKS[$key]:-0} + t1 - t0))
}

echo "== warm-up (${WARM}s each, not counted)"
for name in bulwark bare; do
  [ "$name" = bulwark ] && port=$PORT_A || port=$PORT_B
  measure "$name" "$port" handshake "$WARM" "$HS_CONC"
  measure "$name" "$port" keepalive "$WARM" "$KA_CONC"
done

echo "== measurements (${SECS}s each, $ROUNDS rounds, order alternates;" \
  "handshake: $HS_CONC connection loops; keepalive: $KA_CONC connections)"
for mode in handshake keepalive; do
  [ "$mode" = handshake ] && conc=$HS_CONC || conc=$KA_CONC
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="bulwark bare"; else order="bare bulwark"; fi
    for name in $order; do
      [ "$name" = bulwark ] && port=$PORT_A || port=$PORT_B
      measure "$name" "$port" "$mode" "$SECS" "$conc" record
    done
  done
done

WRK_A="" WRK_B=""
if [ "$WRK" = 1 ]; then
  echo "== cross-check: wrk -c $KA_CONC -t 2 -d ${SECS}s (OpenSSL default offer; servers choose the suite)"
  for name in bulwark bare; do
    [ "$name" = bulwark ] && port=$PORT_A || port=$PORT_B
    out=$(wrk -c "$KA_CONC" -t 2 -d "${SECS}s" "https://127.0.0.1:$port/healthz")
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    bad=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    printf '  wrk       %-13s rate=%s %s\n' "$name" "$rps" "$bad"
    [ "$name" = bulwark ] && WRK_A=$rps || WRK_B=$rps
  done
fi

# --- results -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

HS_A=$(rate bulwark/handshake) HS_B=$(rate bare/handshake)
KA_A=$(rate bulwark/keepalive) KA_B=$(rate bare/keepalive)
echo "== results (higher is better; server CPU is user+system time of the server process per operation)"
printf '%-24s bulwark=%-8s bare-openssl=%-8s ratio=%s\n' \
  "handshakes/s" "$HS_A" "$HS_B" "$(ratio "$HS_A" "$HS_B")" \
  "keepalive r/s" "$KA_A" "$KA_B" "$(ratio "$KA_A" "$KA_B")"
printf '%-24s bulwark=%-8s bare-openssl=%-8s ratio=%s (lower is better)\n' \
  "server CPU us/handshake" "$(cpu_us bulwark/handshake)" "$(cpu_us bare/handshake)" \
  "$(ratio "$(cpu_us bulwark/handshake)" "$(cpu_us bare/handshake)")" \
  "server CPU us/request" "$(cpu_us bulwark/keepalive)" "$(cpu_us bare/keepalive)" \
  "$(ratio "$(cpu_us bulwark/keepalive)" "$(cpu_us bare/keepalive)")"
if [ -n "$WRK_A" ]; then
  printf '%-24s bulwark=%-8s bare-openssl=%-8s ratio=%s\n' \
    "wrk keepalive r/s" "$WRK_A" "$WRK_B" "$(ratio "$WRK_A" "$WRK_B")"
fi
for pair in "handshakes/s:$HS_A:$HS_B" "keepalive r/s:$KA_A:$KA_B"; do
  IFS=: read -r what a b <<<"$pair"
  if awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= b) }'; then
    echo "target ratio >= 1.00 for $what: met"
  else
    echo "target ratio >= 1.00 for $what: NOT met ($(ratio "$a" "$b"))"
  fi
done
if [ "$NOISY" = 1 ]; then
  echo "note: something else used over 15% of a CPU during a measurement (other-load above);" \
    "rerun on a quiet machine before trusting the ratios"
fi
if [ "$ERRORS" != 0 ]; then
  echo "bench: $ERRORS failed exchanges; the figures above are not trustworthy" >&2
  exit 1
fi
