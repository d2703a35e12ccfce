#!/usr/bin/env bash
# The Debian packages the benchmark needs beyond the main build, only those
# missing. As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

missing=()
for entry in cc:gcc curl:curl wrk:wrk; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry##*:}")
done
# OpenSSL's headers and unversioned names: the client and the stand-ins.
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
# Debian's CivetWeb ships no .pc file.
[ -f /usr/include/civetweb.h ] || missing+=(libcivetweb-dev)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages for the benchmark. Run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
