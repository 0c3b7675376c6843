#!/usr/bin/python3
"""A short version of the issue's LeNet-5 target (>= 85% after two full epochs of
Fashion-MNIST at batch 32, lr 2e-3; the full run is in docs/training.md): two epochs over the
first 4000 training examples must reach 65% on the first 1000 test examples (72.2% measured),
so a regression in the training step, the data path or the optimizer shows here.
Prints the accuracy and `1 passed, 0 failed` or `0 passed, 1 failed`.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THRESHOLD = 65.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    tool = os.path.join(args.build_dir, "bin", "adjoint-train")
    cmd = [tool, os.path.join(ROOT, "models", "lenet5.onnx"),
           "--data=fashion-mnist,train=4000,test=1000", "--epochs=2", "--batch=32", "--lr=2e-3",
           "--seed=0", "--progress=none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    print(proc.stdout, end="")
    m = re.search(r"final test accuracy: ([0-9.]+)%", proc.stdout)
    ok = proc.returncode == 0 and m is not None and float(m.group(1)) >= THRESHOLD
    if not ok:
        print(proc.stderr, end="")
        print(f"FAIL: LeNet-5 short run: expected >= {THRESHOLD}% test accuracy")
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
