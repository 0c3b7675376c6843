#!/usr/bin/python3
"""Writes ONNX's "simple" model tests (onnx/backend/test/case/model: test_gradient_of_add, ...)
into a folder, as generate_data.py does for the node tests.

Usage: generate_simple.py OUT_DIR   (writes OUT_DIR/simple/<test>/{model.onnx,test_data_set_0/})
The "real" model tests (the model zoo downloads) are not written.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_data  # noqa: E402  (also sets up the numpy aliases the generators need)
import onnx  # noqa: E402
import onnx.backend.test.case.model as model_test  # noqa: E402


def generate(out_dir):
    cases = [c for c in model_test.collect_testcases() if c.kind == "simple"]
    tmp = out_dir + ".partial"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    for case in cases:
        case_dir = os.path.join(tmp, case.kind, case.name)
        if os.path.exists(case_dir):
            shutil.rmtree(case_dir)
        os.makedirs(case_dir)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(case_dir, f"test_data_set_{i}")
            os.makedirs(ds)
            for j, value in enumerate(inputs):
                with open(os.path.join(ds, f"input_{j}.pb"), "wb") as f:
                    f.write(generate_data._serialize(value, case.model.graph.input[j]))
            for j, value in enumerate(outputs):
                with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                    f.write(generate_data._serialize(value, case.model.graph.output[j]))
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.rename(tmp, out_dir)
    return len(cases)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: generate_simple.py OUT_DIR")
    n = generate(sys.argv[1])
    print(f"generated {n} ONNX {onnx.__version__} simple model tests into {sys.argv[1]}")
