#!/usr/bin/env bash
# The one list of the Debian packages fieldmon needs. Both README commands and
# .ci/run call this script. It is idempotent: packages already installed are not
# touched, and apt-get runs only when something is missing.
#
#   deploy/install-deps.sh          build, run and test dependencies
#   deploy/install-deps.sh --bench  also the peers the benchmarks compare against
set -euo pipefail

# Build: compilers, generators, libraries (with headers).
BUILD_PKGS=(
    build-essential cmake pkg-config
    clang-14 libclang-rt-14-dev
    protobuf-c-compiler libprotobuf-c-dev
    libuv1-dev libyaml-dev libjansson-dev libssl-dev zlib1g-dev
    libsnmp-dev libmodbus-dev libpq-dev libh2o-dev
    libcurl4-openssl-dev libargon2-dev
    libmimalloc2.0
)
# Run: the throwaway PostgreSQL of quickstart and tests, net-snmp tools and snmpd,
# socat for Modbus RTU pseudo-terminals, openssl for certificates.
RUN_PKGS=(
    postgresql-15 postgresql-client-15
    snmp snmpd socat openssl procps psmisc iproute2 curl
)
# Test: cmocka, third-party protocol clients and servers used as real peers.
# python3-serial-asyncio (and with it python3-serial): pymodbus 3.0's server
# module imports both, and Debian has them
# only as recommendations, which a --no-install-recommends install skips.
# chromium: the console's browser tests drive Debian's headless chromium with
# playwright-core from npm (web/ui/package-lock.json).
TEST_PKGS=(
    libcmocka-dev mbpoll python3-pymodbus python3-serial-asyncio python3 valgrind snmptrapd
    chromium fonts-dejavu-core
)
# Benchmarks: the pollers users run today.
BENCH_PKGS=(collectd-core time python3-psycopg2)

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${TEST_PKGS[@]}")
# The console (web/ui) is built with npm. A machine may already have Node.js
# from elsewhere (nodesource's nodejs carries its own npm, and conflicts with
# Debian's npm package): Debian's nodejs and npm are added only when no npm runs.
if ! command -v npm >/dev/null 2>&1; then
    want+=(nodejs npm)
fi
if [[ "${1:-}" == "--bench" ]]; then
    want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#want[@]} packages present"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
