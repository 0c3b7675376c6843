#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs every test (unit, lit,
# conformance, parity) through ctest, then the sanitizer and fuzz stages.
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DADJOINT_WERROR=ON >/dev/null
ninja -C "$BUILD_DIR"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 "$@"

# Second configuration: ASan+UBSan (clang-19) over the unit, lit, fuzz-replay and hostile-model
# tests, then each libFuzzer target for a bounded time (scripts/sanitize.sh). CI always runs it;
# ADJOINT_SKIP_SANITIZE=1 skips it on a local machine.
if [ "${CI:-}" = "true" ] || [ -z "${ADJOINT_SKIP_SANITIZE:-}" ]; then
  bash scripts/sanitize.sh
else
  echo "test.sh: ADJOINT_SKIP_SANITIZE is set: sanitizer and fuzz stages skipped"
fi
