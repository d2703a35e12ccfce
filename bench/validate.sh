#!/usr/bin/env bash
# Validation overhead: keep-alive POSTs of the sample note body over TLS to two
# routes of one server (bench/validate_app.c) that differ only in their schema:
# /schema validates against the sample note schema, /noschema against the
# cheapest schema the framework accepts (it refuses a body route without one).
# Same run, interleaved rounds, wrk as the client (docs/performance.md).
#
# usage: bench/validate.sh [BUILD_DIR]   (default: build; needs BUILD_DIR/libbulwark.a)
# Knobs (environment): BENCH_SECONDS (per measurement, 5), BENCH_ROUNDS (3),
# BENCH_WARMUP (2), BENCH_KA_CONC (16), BENCH_THREADS (32).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
LIB=$BUILD/libbulwark.a
OUT=$BUILD/bench-out
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARM=${BENCH_WARMUP:-2}
CONC=${BENCH_KA_CONC:-16}
THREADS=${BENCH_THREADS:-32}
TARGET=10 # percent: validation may add at most this much time per request
BODY='{"title":"Groceries","body":"Milk, eggs, bread and a few apples for the week."}'
REPLY='{"id":1,"status":"created"}'

# Connections beyond the server's worker threads starve (docs/architecture.md).
if [ "$CONC" -ge "$THREADS" ]; then
  echo "validate: concurrency must stay below BENCH_THREADS=$THREADS" >&2
  exit 2
fi

BW_EXTRA_PACKAGES="wrk libssl-dev" bash "$ROOT/scripts/deps.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
[ -f "$LIB" ] || { echo "validate: $LIB not found; build first (make build)" >&2; exit 1; }

# --- build the app (never part of the CMake build or ctest) -------------------
mkdir -p "$OUT"
CFLAGS="-std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wformat=2 -Wshadow -D_FORTIFY_SOURCE=2
        -fstack-protector-strong -fstack-clash-protection"
LDHARD="-Wl,-z,relro,-z,now"
# embed_files.cmake globs in script mode, where a relative folder is not
# resolved against the working directory: pass it absolute.
cmake -DBW_EMBED_DIR="$ROOT/bench/validate_schemas" -DBW_EMBED_OUT="$OUT/validate_schemas.c" \
  -P "$ROOT/cmake/embed_files.cmake"
# shellcheck disable=SC2086,SC2046
cc $CFLAGS -fPIE -pie $LDHARD -I"$ROOT/framework/include" -o "$OUT/validate_app" \
  "$ROOT/bench/validate_app.c" "$OUT/validate_schemas.c" "$LIB" \
  $(pkg-config --libs wolfssl libsodium jansson sqlite3 libpcre2-8 libidn2) \
  -lcivetweb -ldl -lpthread
APP=$OUT/validate_app

# --- server --------------------------------------------------------------------
TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

post() { # path [body]: status and body of one verified exchange, on one line
  curl -s --cacert "$TMP/data/tls/cert.pem" -H 'Content-Type: application/json' \
    -d "${2:-$BODY}" -w ' %{http_code}' "https://127.0.0.1:$PORT$1"
}

"$APP" init --data-dir "$TMP/data" >/dev/null
PORT=$(free_port)
# warn: no request log, as in bench/run.sh.
BULWARK_DATA_DIR="$TMP/data" BULWARK_LISTEN="127.0.0.1:$PORT" BULWARK_THREADS="$THREADS" \
  BULWARK_LOG_LEVEL=warn "$APP" serve >"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  post /noschema >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done

# Both routes answer the sample body identically, and only /schema enforces the
# note schema (an empty title is refused there, accepted by /noschema).
check() { # what got want
  [ "$2" = "$3" ] && return 0
  echo "validate: $1: got '$2', want '$3'; server log:" >&2
  cat "$TMP/server.log" >&2
  exit 1
}
check "POST /schema" "$(post /schema)" "$REPLY 201"
check "POST /noschema" "$(post /noschema)" "$REPLY 201"
BAD='{"title":"","body":"x"}'
check "POST /schema with an empty title" "$(post /schema "$BAD" | awk '{ print $NF }')" 400
check "POST /noschema with an empty title" "$(post /noschema "$BAD")" "$REPLY 201"

cat >"$TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF

echo "== setup ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $(sed -n "s/^model name\t*: //p" /proc/cpuinfo | sort -u | head -n1), kernel $(uname -r))"
echo "validate_app  port=$PORT threads=$THREADS body=${#BODY} bytes"
echo "  /schema    bench/validate_schemas/note.json (copy of app/schemas/note_create.json)"
echo "  /noschema  bench/validate_schemas/open.json: $(tr -s ' \n' ' ' <"$ROOT/bench/validate_schemas/open.json")"

# --- measurements --------------------------------------------------------------
HZ=$(getconf CLK_TCK)
declare -A OPS SECS_SUM TICKS LAST
ERRORS=0
NOISY=0
measure() { # route seconds [record]
  local t0 t1 b0 b1 c0 c1 out ops secs bad other
  t0=$(cpu_ticks "$PID")
  b0=$(sys_busy)
  child_secs
  c0=$(<"$TMP/secs")
  out=$(wrk -c "$CONC" -t 2 -d "${2}s" -s "$TMP/post.lua" "https://127.0.0.1:$PORT$1")
  t1=$(cpu_ticks "$PID")
  b1=$(sys_busy)
  child_secs
  c1=$(<"$TMP/secs")
  [ "${3:-}" = record ] || return 0
  ops=$(awk '/ requests in / { print $1 }' <<<"$out")
  secs=$(awk '/ requests in / { sub(/s,$/, "", $4); print $4 }' <<<"$out")
  [[ -n "$ops" && -n "$secs" ]] || { echo "validate: cannot read wrk's output:" >&2; echo "$out" >&2; exit 1; }
  bad=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  # CPU used by anything but this server and wrk, in % of one CPU.
  other=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c="$c1" -v c0="$c0" -v s="$secs" -v hz="$HZ" \
    'BEGIN { o = ((b - t) / hz - (c - c0)) / s * 100; printf "%.0f", o < 0 ? 0 : o }')
  [ "$other" -le 15 ] || NOISY=1
  printf '  %-10s rate=%-7.0f ops=%-8s secs=%-5s server-cpu-us=%-5.1f other-load=%s%%\n' "$1" \
    "$(awk -v o="$ops" -v s="$secs" 'BEGIN { print o / s }')" "$ops" "$secs" \
    "$(awk -v t=$((t1 - t0)) -v o="$ops" -v hz="$HZ" 'BEGIN { print t * 1e6 / hz / o }')" "$other"
  if [ -n "$bad" ]; then
    ERRORS=$((ERRORS + 1))
    echo "  (wrk: $bad)"
  fi
  LAST[$1]=$(awk -v o="$ops" -v s="$secs" 'BEGIN { print o / s }')
  OPS[$1]=$((${OPS[$1]:-0} + ops))
  SECS_SUM[$1]=$(awk -v a="${SECS_SUM[$1]:-0}" -v b="$secs" 'BEGIN { print a + b }')
  TICKS[$1]=$((${TICKS[$1]:-0} + t1 - t0))
}

# Time validation adds per request, in % of a request without it: a/b - 1,
# with a the cost (1/rate or CPU per request) with the schema, b without.
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? (a / b - 1) * 100 : 0 }'; }
PAIRS=()

echo "== warm-up (${WARM}s each, not counted)"
measure /schema "$WARM"
measure /noschema "$WARM"

echo "== measurements (wrk -c $CONC -t 2, ${SECS}s each, $ROUNDS rounds, order alternates)"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="/schema /noschema"; else order="/noschema /schema"; fi
  for route in $order; do
    measure "$route" "$SECS" record
  done
  PAIRS+=("$(added "${LAST[/noschema]}" "${LAST[/schema]}")%")
done

# --- results -------------------------------------------------------------------
RS=$(rate /schema) RN=$(rate /noschema)
CS=$(cpu_us /schema %.1f) CN=$(cpu_us /noschema %.1f)
OVER=$(added "$RN" "$RS") # 1/RS over 1/RN
CPU_OVER=$(added "$CS" "$CN")
echo "== results (overhead: time validation adds per request, in % of the request without it)"
printf 'validation: schema r/s=%s  noschema r/s=%s  overhead=%s%%  (target <= %s%%)\n' \
  "$RS" "$RN" "$OVER" "$TARGET"
echo "overhead per round (the spread is the noise): ${PAIRS[*]}"
printf 'server CPU us/request: schema=%s  noschema=%s  overhead=%s%%\n' "$CS" "$CN" "$CPU_OVER"
if awk -v o="$OVER" -v t="$TARGET" 'BEGIN { exit !(o <= t) }'; then
  echo "target validation overhead <= $TARGET%: met"
else
  echo "target validation overhead <= $TARGET%: NOT met ($OVER%)"
fi
if [ "$NOISY" = 1 ]; then
  echo "note: something else used over 15% of a CPU during a measurement (other-load above);" \
    "rerun on a quiet machine before trusting the figures"
fi
if [ "$ERRORS" != 0 ]; then
  echo "validate: $ERRORS measurement(s) had failed or non-2xx exchanges; the figures are not trustworthy" >&2
  exit 1
fi
