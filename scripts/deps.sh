#!/usr/bin/env bash
# Installs the Debian 12 packages Bulwark needs, only those missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

# pkg-config module -> Debian package
libs=(
  "civetweb:libcivetweb-dev"
  "wolfssl:libwolfssl-dev"
  "libsodium:libsodium-dev"
  "jansson:libjansson-dev"
  "sqlite3:libsqlite3-dev"
  "libpcre2-8:libpcre2-dev"
  "libidn2:libidn2-dev"
  "libseccomp:libseccomp-dev"
  "cmocka:libcmocka-dev"
  "libcurl:libcurl4-openssl-dev"
)
# command -> Debian package
cmds=(
  "cmake:cmake"
  "make:make"
  "gcc:gcc"
  "pkg-config:pkg-config"
  "curl:curl"
  "openssl:openssl"
  "clang:clang"
  "clang-tidy:clang-tidy"
  "cppcheck:cppcheck"
  "slowhttptest:slowhttptest"
  "oathtool:oathtool"
  "node:nodejs"
  "npm:npm"
)

missing=()
have_pkgconfig=1
command -v pkg-config >/dev/null 2>&1 || have_pkgconfig=0
for entry in "${cmds[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry##*:}")
done
for entry in "${libs[@]}"; do
  mod=${entry%%:*} pkg=${entry##*:}
  if [ "$mod" = civetweb ]; then
    # Debian's CivetWeb ships CMake files but no .pc file.
    [ -f /usr/include/civetweb.h ] || missing+=("$pkg")
  elif [ "$have_pkgconfig" = 0 ] || ! pkg-config --exists "$mod"; then
    missing+=("$pkg")
  fi
done

# Packages a target asks for on top (e.g. `make security`: testssl.sh).
for pkg in ${BW_EXTRA_PACKAGES:-}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

# libFuzzer's runtime for the harnesses in tests/fuzz.
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)

install_node_tools() {
  # @redocly/cli lints the generated OpenAPI document (tests/integration/test_openapi.c).
  local dir version=2.77.0
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/redocly"
  [ -x "$dir/node_modules/.bin/redocly" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: install Node.js 20 and npm to lint the OpenAPI document" >&2
    return 1
  fi
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@redocly/cli@$version" >/dev/null
}

if [ "${#missing[@]}" -eq 0 ]; then
  install_node_tools
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_tools
