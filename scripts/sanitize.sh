#!/usr/bin/env bash
# The sanitizer and fuzz stages of the test command (docs/hardening.md): builds BUILD_DIR
# (default build-asan) with clang-19, AddressSanitizer + UndefinedBehaviorSanitizer (every report
# aborts) and libFuzzer instrumentation, runs the unit, lit, fuzz-replay and hostile-model tests
# under it, then each fuzz target for FUZZ_SECONDS (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
ASAN_DIR=${ASAN_BUILD_DIR:-build-asan}
FUZZ_SECONDS=${FUZZ_SECONDS:-50}

start=$(date +%s)
cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DADJOINT_FUZZ=ON >/dev/null
ninja -C "$ASAN_DIR"
built=$(date +%s)

# LeakSanitizer runs at exit of every test process; the suppressions file says why each entry
# is there.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$ASAN_DIR" --output-on-failure -j2 -L 'unit|lit|fuzz|hostile'
tested=$(date +%s)

bash scripts/fuzz.sh "$ASAN_DIR" "$FUZZ_SECONDS"
done_at=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, tests under ASan+UBSan $((tested - built)) s," \
  "fuzzing $((done_at - tested)) s"
