#!/usr/bin/env bash
# Makes a throwaway certificate authority for TLS tests, with the openssl CLI:
#   ca.pem, ca.key          the test CA (EC P-256)
#   server.pem, server.key  a server certificate for localhost, 127.0.0.1 and ::1 (SAN), signed
#                           by the CA; server.pem holds the chain (server, then CA)
#   other-ca.pem            a second, unrelated CA, for "wrong CA" tests (its key is dropped)
# Valid for 5 days, so a slow CI run never meets an expiry. Idempotent: a complete, consistent
# set valid for one more day is kept as it is. Quiet on success; openssl's output on failure.
#   scripts/make-test-ca.sh DIR
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
days=5
files=(ca.pem ca.key server.pem server.key other-ca.pem)

mkdir -p "$dir"
cd "$dir"

complete=1
for f in "${files[@]}"; do [[ -s $f ]] || complete=0; done
if ((complete)) &&
  openssl x509 -in server.pem -noout -checkend 86400 >/dev/null 2>&1 &&
  openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 &&
  [[ "$(openssl pkey -in server.key -pubout 2>/dev/null)" == \
     "$(openssl x509 -in server.pem -noout -pubkey 2>/dev/null)" ]]; then
  exit 0
fi

# Everything is made in a scratch folder and moved in at the end, so an interrupted run never
# leaves a mixed set behind.
work=$(mktemp -d .make-test-ca.XXXXXX)
log=$work/log
trap 'rm -rf "$work"' EXIT
umask 077  # the keys

run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "make-test-ca: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

new_key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

new_ca() {  # KEY PEM CN
  new_key "$1"
  run openssl req -x509 -new -key "$1" -sha256 -days "$days" -subj "/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$2"
}

new_ca "$work/ca.key" "$work/ca.pem" "ferry test CA"
new_ca "$work/other.key" "$work/other-ca.pem" "ferry other test CA"

new_key "$work/server.key"
run openssl req -new -key "$work/server.key" -subj "/CN=localhost" -out "$work/server.csr"
cat >"$work/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
run openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
  -extfile "$work/server.ext" -out "$work/server.crt"
cat "$work/server.crt" "$work/ca.pem" >"$work/server.pem"
run openssl verify -CAfile "$work/ca.pem" "$work/server.pem"

chmod 644 "$work/ca.pem" "$work/server.pem" "$work/other-ca.pem"
for f in "${files[@]}"; do mv -f "$work/$f" "$f"; done
