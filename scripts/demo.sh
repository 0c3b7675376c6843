#!/usr/bin/env bash
# The README's first command: set up (idempotent), build, then train the bundled fashion_mlp
# (784-512-256-10) on Fashion-MNIST for one epoch and print its test accuracy. The trained model
# and its loss curves go to build/ (fashion_mlp.trained.onnx, fashion_mlp.svg). Extra arguments
# go to adjoint-train, e.g. `scripts/demo.sh --epochs=3 --schedule=cosine`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
ninja -C "$BUILD_DIR" adjoint-train
"$BUILD_DIR/bin/adjoint-train" models/fashion_mlp.onnx --data fashion-mnist --epochs=1 \
  -o "$BUILD_DIR/fashion_mlp.trained.onnx" --plot="$BUILD_DIR/fashion_mlp.svg" "$@"
