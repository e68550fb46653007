#!/usr/bin/env bash
# The threaded tests under ThreadSanitizer: a separate build (FM_TSAN, clang
# when present) and the tests whose code hands work between threads and the
# loop: the fm_queue unit test, the Modbus workers (agent), the DB writers,
# the faults writer, the SLA runner and the notifier (collector). TSan's
# reports go to files (daemons started by the tests report there too, where
# no exit status would show them); any report fails the run and is printed.
#
#   tests/tsan.sh            build-tsan/, the tests below
#   FM_TSAN_TESTS=regex      other ctest names
# tests/run.sh calls it once after the ASan/UBSan suite.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${FM_TSAN_BUILD_DIR:-build-tsan}"
tests="${FM_TSAN_TESTS:-^(test_fmc_queue|test_fmc_log|agent_modbus_pymodbus|agent_modbus_sim|agent_modbus_daemon|coll_ingest|coll_pg_outage|coll_kill|pg_tickets|sla_notify|sla_tickets|tickets_e2e)$}"
cc=gcc
if command -v clang-14 >/dev/null; then
    cc=clang-14
fi
CC=$cc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_TSAN=ON -DFM_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

reports=$(mktemp -d /tmp/fm-tsan.XXXXXX)
# halt_on_error stops a test at its first race; second_deadlock_stack names
# both lock orders of a potential deadlock.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$reports/tsan"
status=0
(cd "$build" && ctest --output-on-failure -j "$(nproc)" --timeout 900 -R "$tests") || status=$?
if compgen -G "$reports/tsan*" >/dev/null; then
    for f in "$reports"/tsan*; do
        echo "tsan: report $f:"
        head -60 "$f"
    done
    echo "tsan: ThreadSanitizer reported; reports kept in $reports" >&2
    exit 1
fi
rm -rf "$reports"
if ((status != 0)); then
    echo "tsan: tests failed under ThreadSanitizer" >&2
    exit "$status"
fi
echo "tsan: no report"
