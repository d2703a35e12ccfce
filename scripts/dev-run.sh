#!/usr/bin/env bash
# `make run`: a development data folder (created once, with an admin account
# whose random password is kept in .data/dev-admin-password), then the service.
set -euo pipefail
build=${1:-build}
data=${BULWARK_DATA_DIR:-.data}
export BULWARK_DATA_DIR=$data
if [ ! -d "$data" ]; then
  "$build/notes" init --data-dir "$data"
fi
if [ ! -f "$data/dev-admin-password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$data/dev-admin-password")
  "$build/notes" user add admin --roles admin <"$data/dev-admin-password"
fi
echo "notes: serving on https://localhost:8443 (certificate: $data/tls/cert.pem; Ctrl-C stops)"
echo "notes: log in as admin with the password in $data/dev-admin-password"
# Not enrolled automatically: the secret belongs in the developer's authenticator app.
echo "notes: the admin routes (/v1/admin/*) also demand a second factor; enrol one once with"
echo "       the login's token: POST /v1/auth/mfa/enroll {} answers a base32 secret (and its"
echo "       otpauth:// URI); add it to an authenticator app, then POST /v1/auth/mfa/confirm"
echo "       {\"code\":\"123456\"} with a current code (from the app, or: oathtool --totp -b SECRET)."
echo "       The answer holds ten recovery codes (keep them) and a new token; later logins send"
echo "       \"code\" with the password. README.md (\"Log in\") has the curl calls."
exec "$build/notes" serve
