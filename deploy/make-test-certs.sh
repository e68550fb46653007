#!/usr/bin/env bash
# make-test-certs.sh DIR [AGENT_ID...]: a throwaway PKI for tests and demos.
#
# Writes into DIR (created if missing), all PEM:
#   ca.crt ca.key                 the test CA
#   collector.crt collector.key   the collector (CN=collector, SAN DNS:localhost, IP:127.0.0.1)
#   AGENT_ID.crt AGENT_ID.key     one per agent id given (CN=AGENT_ID, SAN DNS:AGENT_ID)
#   expired.crt expired.key       CN=expired, signed by the CA, valid only in 2020
#   other-ca.crt other-ca.key     a second, unrelated CA
#   rogue.crt rogue.key           CN=rogue, signed by the second CA
#   rogue-AGENT_ID.crt/.key       for each agent id: that CN, signed by the second CA
# Keys are EC P-256, certificates valid 30 days. Never use these in production.
set -euo pipefail
dir="${1:?usage: make-test-certs.sh DIR [AGENT_ID...]}"
shift
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 30 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$1.crt" 2>/dev/null
}

leaf() { # name CN san ca usage
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$3" "$5" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial -days 30 -sha256 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

[[ -f ca.crt ]] || ca ca "fieldmon test CA"
[[ -f other-ca.crt ]] || ca other-ca "unrelated test CA"
[[ -f collector.crt ]] || leaf collector collector "DNS:localhost,IP:127.0.0.1" ca serverAuth
[[ -f rogue.crt ]] || leaf rogue rogue "DNS:rogue" other-ca clientAuth
for id in "$@"; do
    [[ -f "$id.crt" ]] || leaf "$id" "$id" "DNS:$id" ca clientAuth
    [[ -f "rogue-$id.crt" ]] || leaf "rogue-$id" "$id" "DNS:$id" other-ca clientAuth
done

# An expired certificate needs explicit dates, which only `openssl ca` sets.
if [[ ! -f expired.crt ]]; then
    key expired.key
    openssl req -new -key expired.key -subj "/CN=expired" -out expired.csr 2>/dev/null
    mkdir -p ca-db
    : >ca-db/index.txt
    printf '1000\n' >ca-db/serial
    cat >ca-db/ca.cnf <<EOC
[ca]
default_ca = test
[test]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
EOC
    openssl ca -batch -config ca-db/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
        -startdate 20200101000000Z -enddate 20200201000000Z -out expired.crt -notext \
        >/dev/null 2>&1
    rm -rf expired.csr ca-db
fi
rm -f ./*.srl
chmod 600 ./*.key
echo "make-test-certs: wrote CA, collector, expired, rogue${*:+ and agents $*} into $(pwd)"
