#!/usr/bin/python3
"""Writes ONNX models with Gradient ops (ai.onnx.preview.training) for expand-gradient's lit
tests, with their inputs and expected outputs for adjoint-run.

usage: gradient_model.py KIND OUT.onnx
  KIND  users       dY/dW, dY/dH and dY/dZ of Y = Tanh(Gemm(X, W)) * Z (two Gradient nodes),
                    and a later node using one
        elsewhere   dY/dW at W1 = 2 W, not at W (the inputs are where the gradient is taken)
Writes OUT.onnx, OUT.in/<input>.npy and OUT.expected/<output>.npy.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h

TRAINING = "ai.onnx.preview.training"


def f32(*shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def reference(x, w, z):
    hid = x @ w
    t = np.tanh(hid)
    dh = (1 - t * t) * z  # d sum(tanh(H) Z) / dH
    return t * z, x.T @ dh, dh


def users():
    x, w, z = f32(2, 3, seed=1), f32(3, 4, seed=2), f32(2, 4, seed=3)
    y, dw, dh = reference(x, w, z)
    nodes = [h.make_node("Gemm", ["X", "W"], ["H"], name="gemm"),
             h.make_node("Tanh", ["H"], ["A"], name="tanh"),
             h.make_node("Mul", ["A", "Z"], ["Y"], name="mul"),
             h.make_node("Gradient", ["W", "X", "Z"], ["dW"], name="grad_w",
                         domain=TRAINING, xs=["W"], zs=["X", "Z"], y="Y"),
             # With respect to an intermediate tensor, as ONNX's Gradient doc allows.
             h.make_node("Gradient", ["H", "Z"], ["dH", "dZ"], name="grad_h",
                         domain=TRAINING, xs=["H", "Z"], y="Y"),
             h.make_node("ReduceSum", ["dH"], ["dH_sum"], name="sum", keepdims=0)]
    inputs = {"X": x, "W": w, "Z": z}
    outputs = {"Y": y, "dW": dw, "dH": dh, "dZ": np.tanh(x @ w),
               "dH_sum": np.array(dh.sum(), np.float32)}
    return nodes, inputs, outputs


def elsewhere():
    x, w, z = f32(2, 3, seed=1), f32(3, 4, seed=2), f32(2, 4, seed=3)
    y, _, _ = reference(x, w, z)
    _, dw1, _ = reference(x, 2 * w, z)
    nodes = [h.make_node("Gemm", ["X", "W"], ["H"], name="gemm"),
             h.make_node("Tanh", ["H"], ["A"], name="tanh"),
             h.make_node("Mul", ["A", "Z"], ["Y"], name="mul"),
             h.make_node("Add", ["W", "W"], ["W1"], name="double"),
             h.make_node("Gradient", ["W1"], ["dW1"], name="grad", domain=TRAINING, xs=["W"],
                         y="Y")]
    return nodes, {"X": x, "W": w, "Z": z}, {"Y": y, "dW1": dw1}


def main():
    kind, out = sys.argv[1], sys.argv[2]
    nodes, inputs, outputs = {"users": users, "elsewhere": elsewhere}[kind]()
    graph = h.make_graph(
        nodes, kind,
        [h.make_tensor_value_info(n, T.FLOAT, list(v.shape)) for n, v in inputs.items()],
        [h.make_tensor_value_info(n, T.FLOAT, list(v.shape)) for n, v in outputs.items()])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13),
                                               h.make_opsetid(TRAINING, 1)])
    model.ir_version = 8
    onnx.save(model, out)
    for folder, values in ((out + ".in", inputs), (out + ".expected", outputs)):
        os.makedirs(folder, exist_ok=True)
        for n, v in values.items():
            np.save(os.path.join(folder, n + ".npy"), v)


if __name__ == "__main__":
    main()
