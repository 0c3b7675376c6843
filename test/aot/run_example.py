#!/usr/bin/python3
"""Runs the C example (tools/adjoint-compile/example/train_fashion_mnist.c, ctest aot-example):
200 steps through the library's C API must exit 0, reach 75% test accuracy on Fashion-MNIST, and
write a checkpoint and an ONNX model that onnx.checker accepts."""
import os
import re
import subprocess
import sys
import tempfile

import onnx


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, model = os.path.join(tmp, "example.ckpt"), os.path.join(tmp, "example.onnx")
        r = subprocess.run([exe, "--steps", "200", "--checkpoint", ckpt, "--output", model],
                           capture_output=True, text=True)
        print(r.stdout, r.stderr)
        m = re.search(r"test accuracy ([0-9.]+)%", r.stdout)
        ok = r.returncode == 0 and m and float(m.group(1)) >= 75 and os.path.getsize(ckpt) > 0
        if ok:
            onnx.checker.check_model(onnx.load(model))
        print("aot-example:", "passed" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
