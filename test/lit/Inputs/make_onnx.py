#!/usr/bin/python3
"""Writes small ONNX models for the importer's lit tests (test/lit/Frontend/).

usage: make_onnx.py KIND OUT.onnx

Each KIND is one function below; weights are small and deterministic so the printed IR is
stable. Kinds that return reference data also write OUT.onnx.in/<input>.npy and
OUT.onnx.expected/<output>.npy (computed here with numpy or torch) for adjoint-run to be
compared against (allclose.py). Run with /usr/bin/python3 (Debian's python3-onnx).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=17, name="g", ir_version=8, extra_opsets=()):
    graph = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    opsets = [h.make_opsetid("", opset)] + [h.make_opsetid(d, v) for d, v in extra_opsets]
    m = h.make_model(graph, opset_imports=opsets, producer_name="make_onnx.py")
    m.ir_version = ir_version
    return m


def tensor(name, elem, shape):
    return h.make_tensor_value_info(name, elem, shape)


def arange(name, shape, scale=0.1, dtype=np.float32):
    a = (np.arange(np.prod(shape), dtype=np.float64) * scale - 0.5).astype(dtype).reshape(shape)
    return numpy_helper.from_array(a, name)


def mlp():
    return model(
        [h.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
         h.make_node("Add", ["h", "b1"], ["a"], name="bias1"),
         h.make_node("Relu", ["a"], ["r"], name="relu1"),
         h.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1)],
        [tensor("x", T.FLOAT, ["batch", 4])],
        [tensor("y", T.FLOAT, ["batch", 2])],
        [arange("w1", [4, 3]), arange("b1", [3]), arange("w2", [2, 3]), arange("b2", [2])],
        name="mlp")


def coerced_softmax(x, axis, log):
    rows = int(np.prod(x.shape[:axis]))
    flat = x.reshape(rows, -1).astype(np.float64)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return (np.log(y) if log else y).reshape(x.shape).astype(np.float32)


def softmax_v11():
    # Opset 11 Softmax(axis=1) on a rank-3 input normalizes over the flattened d[1:].
    x = np.sin(np.arange(24, dtype=np.float32)).reshape(2, 3, 4) * 3
    expected = {"y": coerced_softmax(x, 1, False), "z": coerced_softmax(x, 2, True)}
    return model(
        [h.make_node("Softmax", ["x"], ["y"], name="sm", axis=1),
         h.make_node("LogSoftmax", ["x"], ["z"], name="lsm", axis=2)],
        [tensor("x", T.FLOAT, [2, 3, 4])],
        [tensor("y", T.FLOAT, [2, 3, 4]), tensor("z", T.FLOAT, [2, 3, 4])],
        opset=11, name="softmax_v11"), {"x": x}, expected


def old_forms():
    # Opset 9 attribute forms that opset 13 turned into operands.
    return model(
        [h.make_node("Unsqueeze", ["x"], ["u"], name="unsq", axes=[0]),
         h.make_node("Squeeze", ["u"], ["s"], name="sq", axes=[0]),
         h.make_node("Slice", ["s"], ["sl"], name="slice", starts=[1], ends=[3], axes=[1]),
         h.make_node("Clip", ["sl"], ["c"], name="clip", min=0.0, max=6.0),
         h.make_node("ReduceSum", ["c"], ["rs"], name="rsum", axes=[1], keepdims=0),
         h.make_node("Dropout", ["rs"], ["y"], name="drop", ratio=0.25)],
        [tensor("x", T.FLOAT, [2, 4])],
        [tensor("y", T.FLOAT, [2])],
        opset=9, name="old_forms")


def shape_chain():
    # What torch.onnx exports for x.view(x.size(0), -1).
    return model(
        [h.make_node("Shape", ["x"], ["s"], name="shape"),
         h.make_node("Constant", [], ["zero"], name="zero", value=h.make_tensor("", T.INT64, [], [0])),
         h.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
         h.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
         h.make_node("Constant", [], ["m1"], name="minus1", value_ints=[-1]),
         h.make_node("Concat", ["n1", "m1"], ["target"], name="concat", axis=0),
         h.make_node("Reshape", ["x", "target"], ["y"], name="reshape")],
        [tensor("x", T.FLOAT, ["N", 2, 3])],
        [tensor("y", T.FLOAT, ["N", 6])],
        [numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")],
        name="shape_chain")


def unsupported():
    return model(
        [h.make_node("Relu", ["x"], ["r"], name="relu"),
         h.make_node("NonZero", ["r"], ["nz"], name="nz"),
         h.make_node("TopK", ["r", "k"], ["v", "i"], name="topk"),
         h.make_node("Det", ["sq"], ["d"], name="det"),
         h.make_node("Custom", ["r"], ["c"], name="mine", domain="com.example")],
        [tensor("x", T.FLOAT, [2, 2]), tensor("k", T.INT64, [1]), tensor("sq", T.FLOAT, [2, 2])],
        [tensor("nz", T.INT64, None), tensor("v", T.FLOAT, None), tensor("d", T.FLOAT, None),
         tensor("c", T.FLOAT, None)],
        extra_opsets=[("com.example", 1)], name="unsupported")


def opset18():
    return model([h.make_node("Relu", ["x"], ["y"], name="relu")],
                 [tensor("x", T.FLOAT, [2])], [tensor("y", T.FLOAT, [2])], opset=18)


def external(path):
    # The weight lives in a file beside the model.
    w = arange("w", [2, 2])
    m = model([h.make_node("Add", ["x", "w"], ["y"], name="add")],
              [tensor("x", T.FLOAT, [2, 2])], [tensor("y", T.FLOAT, [2, 2])], [w], name="external")
    onnx.external_data_helper.convert_model_to_external_data(
        m, all_tensors_to_one_file=True, location=os.path.basename(path) + ".data",
        size_threshold=0)
    return m


def external_escape():
    w = arange("w", [2])
    w.ClearField("raw_data")
    w.data_location = T.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "../escape.bin"
    return model([h.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [tensor("x", T.FLOAT, [2])], [tensor("y", T.FLOAT, [2])], [w])


def torch_cnn(path):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.fc = torch.nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
            return torch.log_softmax(self.fc(x.view(x.size(0), -1)), dim=1)

    torch.manual_seed(0)
    net = Net().eval()
    torch.onnx.export(net, torch.zeros(2, 1, 8, 8), path, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                      opset_version=13)
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        y = net(x)
    return None, {"x": x.numpy()}, {"y": y.numpy()}


KINDS = {
    "mlp": mlp, "softmax_v11": softmax_v11, "old_forms": old_forms, "shape_chain": shape_chain,
    "unsupported": unsupported, "opset18": opset18, "external": external,
    "external_escape": external_escape, "torch_cnn": torch_cnn,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS:
        sys.exit("usage: make_onnx.py {%s} OUT.onnx" % ",".join(sorted(KINDS)))
    kind, path = sys.argv[1], sys.argv[2]
    fn = KINDS[kind]
    m = fn(path) if fn.__code__.co_argcount else fn()
    if isinstance(m, tuple):
        m, inputs, expected = m
        for folder, arrays in ((path + ".in", inputs), (path + ".expected", expected)):
            os.makedirs(folder, exist_ok=True)
            for name, a in arrays.items():
                np.save(os.path.join(folder, name + ".npy"), a)
    if m is None:
        return
    if kind == "external":
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=0)
    else:
        onnx.save(m, path)


if __name__ == "__main__":
    main()
