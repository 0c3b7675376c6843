#!/usr/bin/python3
"""Writes ONNX's "simple" model tests (onnx/backend/test/case/model: test_gradient_of_add, ...)
into a folder, as generate_data.py does for the node tests.

Usage: generate_simple.py OUT_DIR   (writes OUT_DIR/simple/<test>/{model.onnx,test_data_set_0/})
The "real" model tests (the model zoo downloads) are not written.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_data  # noqa: E402  (also sets up the numpy aliases the generators need)
import onnx  # noqa: E402
import onnx.backend.test.case.model as model_test  # noqa: E402


def generate(out_dir):
    return generate_data.write_cases(
        [c for c in model_test.collect_testcases() if c.kind == "simple"], out_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: generate_simple.py OUT_DIR")
    n = generate(sys.argv[1])
    print(f"generated {n} ONNX {onnx.__version__} simple model tests into {sys.argv[1]}")
