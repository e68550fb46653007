#!/usr/bin/env bash
# The test command: installs what it needs, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer (warnings are errors), runs each libFuzzer target
# for a bounded time when clang is present, then runs the whole ctest suite
# (unit, integration against real peers, fuzz corpora), then the threaded
# tests under ThreadSanitizer (tests/tsan.sh).
#
# Environment:
#   FM_BUILD_DIR     build directory (default build-test)
#   FM_FUZZ_SECONDS  seconds per fuzz target (default 30; 0 skips fuzzing)
#   FM_CTEST_ARGS    extra ctest arguments, e.g. "-L unit" or "-R pg_"
#   FM_TSAN          0 skips the ThreadSanitizer run of the threaded tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./deploy/install-deps.sh

build="${FM_BUILD_DIR:-build-test}"
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFM_ASAN=ON -DFM_UBSAN=ON -DFM_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Fuzzing: each target runs for FM_FUZZ_SECONDS on a scratch copy of its
# corpus, so new inputs never dirty the checkout. A finding fails the run and
# leaves the crashing input in the scratch directory, which is printed.
fuzz_seconds="${FM_FUZZ_SECONDS:-30}"
if [[ "$fuzz_seconds" != 0 ]] && command -v clang-14 >/dev/null &&
    ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    fbuild="${build}-fuzz"
    CC=clang-14 cmake -S . -B "$fbuild" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFM_FUZZ=ON \
        -DFM_ASAN=ON -DFM_UBSAN=ON -DFM_WERROR=ON >/dev/null
    for src in tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        short=${name#fuzz_}
        cmake --build "$fbuild" -j "$jobs" --target "$name" >/dev/null
        scratch=$(mktemp -d "/tmp/fm-fuzz-$short.XXXXXX")
        cp -r "tests/fuzz/corpus/$short/." "$scratch/"
        echo "fuzz: $name for ${fuzz_seconds}s"
        if ! (cd "$scratch" && "$root/$fbuild/tests/fuzz/$name" -max_total_time="$fuzz_seconds" \
                -print_final_stats=1 -max_len=70000 . >fuzz.log 2>&1); then
            tail -40 "$scratch/fuzz.log"
            echo "fuzz: $name found a problem; input and log in $scratch" >&2
            exit 1
        fi
        grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "$scratch/fuzz.log" |
            sed "s/^/fuzz: $name /"
        rm -rf "$scratch"
    done
else
    echo "fuzz: skipped (FM_FUZZ_SECONDS=0, or clang-14/libclang-rt-14-dev missing)"
fi

(
    cd "$build"
    # shellcheck disable=SC2086
    ctest --output-on-failure -j "$jobs" --timeout 900 ${FM_CTEST_ARGS:-}
)

# The threaded tests once more under ThreadSanitizer (its own build; see the
# script). FM_TSAN=0 skips it.
if [[ "${FM_TSAN:-1}" != 0 ]]; then
    ./tests/tsan.sh
fi
