#!/usr/bin/env bash
# Installs every Debian package Adjoint needs to build, test and train. Idempotent: when all
# packages are already present it only checks and returns within a second.
set -euo pipefail

PKGS=(
  # build
  cmake ninja-build ccache llvm-19-dev llvm-19-tools clang-19 lld-19 libprotobuf-dev
  protobuf-compiler libonnx-dev libopenblas-dev libgtest-dev libgmock-dev zlib1g-dev
  # sanitizers and libFuzzer for clang-19 (scripts/sanitize.sh)
  libclang-rt-19-dev
  # tests and models
  python3-onnx python3-numpy python3-torch python3-torchvision
  # data
  dataset-fashion-mnist
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
