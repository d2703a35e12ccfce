#!/usr/bin/env bash
# testssl.sh (Debian package testssl.sh) against the sample service with its default TLS policy:
# no finding rated HIGH or CRITICAL, TLS 1.3 offered and nothing older. The certificate comes from
# a local CA given to testssl (--add-ca), with a CRL distribution point, so that the findings are
# about the server's TLS, not about a self-signed development certificate.
# ctest label `external`, run by `make security`. Usage: testssl.sh NOTES_BIN [SUMMARY_FILE]
set -euo pipefail
notes=$1
summary=${2:-}
command -v testssl >/dev/null || { echo "testssl is not installed (apt-get install testssl.sh)"; exit 1; }

dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null || true
  if [ -n "${BW_KEEP:-}" ]; then echo "kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

"$notes" init --data-dir "$dir/data" >/dev/null
tls=$dir/data/tls
(
  cd "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=bulwark-test-ca -days 120
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    -out leaf.csr -subj /CN=localhost
  printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    'crlDistributionPoints=URI:http://127.0.0.1:9/ca.crl' 'extendedKeyUsage=serverAuth' \
    'keyUsage=critical,digitalSignature' 'basicConstraints=CA:FALSE' >leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 90 \
    -extfile leaf.ext -out leaf.pem
) >/dev/null 2>&1
cat "$dir/leaf.pem" "$dir/ca.pem" >"$tls/cert.pem"
install -m 0600 "$dir/leaf.key" "$tls/key.pem"

port=
for p in $(shuf -i 20000-60000 -n 20); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port"; exit 1; }
BULWARK_DATA_DIR="$dir/data" BULWARK_LISTEN="127.0.0.1:$port" BULWARK_LOG_LEVEL=warn \
  "$notes" serve 2>"$dir/server.log" &
pid=$!
for _ in $(seq 50); do
  curl -sf --cacert "$dir/ca.pem" "https://localhost:$port/healthz" >/dev/null && break
  sleep 0.2
done

timeout 600 testssl --quiet --color 0 --warnings off --openssl-timeout 5 --fast \
  --add-ca "$dir/ca.pem" --jsonfile "$dir/out.json" "127.0.0.1:$port" >"$dir/out.txt" 2>&1 || true
[ -s "$dir/out.json" ] || { echo "testssl produced no results"; cat "$dir/out.txt"; exit 1; }

# One line per finding: id<TAB>severity<TAB>finding.
awk -F'"' '/"id"/ {id=$4} /"severity"/ {sev=$4} /"finding"/ {print id "\t" sev "\t" $4}' \
  "$dir/out.json" >"$dir/findings.tsv"
if [ -n "$summary" ]; then
  { echo "testssl.sh $(testssl --version 2>/dev/null | grep -m1 -oE '3\.[0-9.]+' || true)," \
      "$(date -u +%F), against notes with its defaults"
    echo; awk -F'\t' '{printf "%-28s %-8s %s\n", $1, $2, $3}' "$dir/findings.tsv"; } >"$summary"
fi
status=0
if awk -F'\t' '$2 == "HIGH" || $2 == "CRITICAL"' "$dir/findings.tsv" | grep .; then
  echo "findings rated HIGH or CRITICAL (above)"; status=1
fi
awk -F'\t' '$1 == "TLS1_3"' "$dir/findings.tsv" | grep -q 'offered' || { echo "TLS 1.3 not offered"; status=1; }
if awk -F'\t' '$1 ~ /^(SSLv2|SSLv3|TLS1|TLS1_1|TLS1_2)$/ && $3 !~ /^not offered/' \
     "$dir/findings.tsv" | grep .; then
  echo "an old protocol is offered (above)"; status=1
fi
if [ "$status" = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $status
