#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time (docs/hardening.md).
# Usage: scripts/fuzz.sh [BUILD_DIR (default build-asan)] [SECONDS per target (default 50)] [TARGET...]
# BUILD_DIR must be configured with -DADJOINT_FUZZ=ON (scripts/sanitize.sh does). Each target
# starts from its checked-in seeds (fuzz/corpus/<t>) and the inputs of fixed crashes
# (fuzz/regressions/<t>); what it learns stays in BUILD_DIR/fuzz-work/<t>, so later runs on the
# same build continue from there. A crash stops the script with the input's path: fix the bug,
# then add that input to fuzz/regressions/<t>/, which the ctest `fuzz-<t>` replays from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
SECS=${2:-50}
shift $(( $# > 2 ? 2 : $# ))
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(onnx-import adj-parser npy tensor-proto idx checkpoint)
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/fuzz/fuzz-$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz.sh: $bin is missing (configure $BUILD with -DADJOINT_FUZZ=ON and build it)" >&2
    exit 2
  fi
  work="$BUILD/fuzz-work/$t"
  artifacts="$BUILD/fuzz-artifacts/$t/"
  mkdir -p "$work" "$artifacts"
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  log="$BUILD/fuzz-work/$t.log"
  # -rss_limit_mb: the targets cap tensors at 64 MiB, so more than this is a leak or a runaway.
  if ! "$bin" "${dirs[@]}" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: fuzz-$t found a crash; the input is in $artifacts (log: $log)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  corpus=$(find "$work" -type f | wc -l)
  echo "fuzz-$t: ${runs:-?} executions in ${SECS} s, ${cov:-cov: ?} edges, $corpus inputs learned, no crash"
  total=$(( total + ${runs:-0} ))
done
echo "fuzz.sh: ${#TARGETS[@]} targets, $total executions, no crash"
