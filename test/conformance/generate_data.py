#!/usr/bin/python3
"""Writes the ONNX backend node tests shipped as generators in python3-onnx into a folder.

Debian's python3-onnx carries the generators, not the data (see DESIGN.md, Tests). This is
cmd_tools' generate-data restricted to node tests, run with the numpy aliases the 1.12
generators still need (numpy >= 1.24 removed np.float, np.int, np.bool, np.object).

Usage: generate_data.py OUT_DIR   (writes OUT_DIR/node/<test>/{model.onnx,test_data_set_0/})
"""
import os
import shutil
import sys

import numpy as np

# The generators were written against numpy < 1.24; these aliases only matter in this process.
for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object),
                      ("complex", complex), ("str", str)):
    if _alias not in np.__dict__:
        setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import onnx.backend.test.case.node as node_test  # noqa: E402


def _serialize(value, value_info):
    """One test tensor (or sequence/map/optional) as a serialized proto, as cmd_tools does."""
    t = value_info.type
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, value_info.name).SerializeToString()
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, value_info.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, value_info.name).SerializeToString()
    return numpy_helper.from_array(value, value_info.name).SerializeToString()


def write_cases(cases, out_dir):
    """Writes each case as <out_dir>/<kind>/<name>/{model.onnx,test_data_set_N/*.pb}."""
    tmp = out_dir + ".partial"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    for case in cases:
        case_dir = os.path.join(tmp, case.kind, case.name)
        # Two 1.12 generators reuse a name; the later one wins, as in cmd_tools.
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
                    f.write(_serialize(value, case.model.graph.input[j]))
            for j, value in enumerate(outputs):
                with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                    f.write(_serialize(value, case.model.graph.output[j]))
    # Publish atomically so an interrupted run never leaves a half-written cache behind.
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.rename(tmp, out_dir)
    return len(cases)


def generate(out_dir):
    return write_cases(node_test.collect_testcases(None), out_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: generate_data.py OUT_DIR")
    n = generate(sys.argv[1])
    print(f"generated {n} ONNX {onnx.__version__} node tests into {sys.argv[1]}")
