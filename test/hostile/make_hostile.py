#!/usr/bin/python3
"""Writes the hostile-model corpus: small models and input files that try to read outside their
folder, declare tensors too big to allocate, or break the graph's rules, with what the tools
must answer to each. Run by run_hostile.py (ctest `hostile`); by hand: make_hostile.py OUT_DIR
writes OUT_DIR/<case>/... and OUT_DIR/cases.json.

Each case: the tool and its arguments ({dir} is the case's folder), and a regular expression its
one error line must match. Every case must exit with status 1 (an error, not a signal) and name
the file it read, except the few valid ones marked status=0, which must succeed. Use /usr/bin/python3 (Debian's python3-onnx)."""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

CASES = []


def case(tool, expect, args=None, names_file="model.onnx", status=1):
    """Registers the decorated writer as a case: writer(dir) creates the files. status=0 marks
    the few inputs that look hostile but are valid (zero-size dims where every op is defined):
    they must run cleanly."""
    def register(writer):
        CASES.append({"name": writer.__name__.replace("_", "-"), "tool": tool,
                      "args": args or ["{dir}/model.onnx"], "expect": expect,
                      "names_file": names_file, "status": status, "writer": writer})
        return writer
    return register


def model(nodes, inputs, outputs, inits=(), opsets=(("", 17),), ir_version=8):
    graph = h.make_graph(nodes, "hostile", inputs, outputs, initializer=list(inits))
    m = h.make_model(graph, opset_imports=[h.make_opsetid(d, v) for d, v in opsets],
                     producer_name="make_hostile.py")
    m.ir_version = ir_version
    return m


def vi(name, shape, elem=T.FLOAT):
    return h.make_tensor_value_info(name, elem, shape)


def save(m, d, name="model.onnx"):
    # Serialized by hand: onnx.save would check nothing, but some cases are not valid protos
    # for the checker, and these must reach the importer as they are.
    with open(os.path.join(d, name), "wb") as f:
        f.write(m.SerializeToString())


def relu_of(weight):
    """y = Relu(x + w): one float initializer for the external-data and size cases."""
    return model([h.make_node("Add", ["x", "w"], ["s"], name="add"),
                  h.make_node("Relu", ["s"], ["y"], name="relu")],
                 [vi("x", [4])], [vi("y", [4])], [weight])


def external(location, dims=(4,), length=None):
    w = onnx.TensorProto()
    w.name, w.data_type = "w", T.FLOAT
    w.dims.extend(dims)
    w.data_location = T.EXTERNAL
    for k, v in [("location", location)] + ([("length", str(length))] if length else []):
        e = w.external_data.add()
        e.key, e.value = k, v
    return w


def outside_secret(d):
    """A file beside the case's folder that no model in it may read."""
    secret = os.path.join(os.path.dirname(d), "secret-" + os.path.basename(d) + ".bin")
    np.arange(4, dtype=np.float32).tofile(secret)
    return secret


# ---- external data that leaves the model's folder ----------------------------------------------

@case("adjoint-opt", r"external data location '\.\./[^']*' must be a relative path inside the model's folder")
def external_dotdot(d):
    save(relu_of(external("../" + os.path.basename(outside_secret(d)))), d)


@case("adjoint-opt", r"external data location '/[^']*' must be a relative path inside the model's folder")
def external_absolute(d):
    save(relu_of(external(os.path.abspath(outside_secret(d)))), d)


@case("adjoint-opt", r"external data file '.*weights\.bin' resolves to '.*secret.*', outside the model's folder")
def external_symlink_file(d):
    os.symlink(outside_secret(d), os.path.join(d, "weights.bin"))
    save(relu_of(external("weights.bin")), d)


@case("adjoint-opt", r"external data file '.*data/weights\.bin' resolves to '.*', outside the model's folder")
def external_symlink_dir(d):
    out = os.path.join(os.path.dirname(d), "outside-" + os.path.basename(d))
    os.makedirs(out, exist_ok=True)
    np.arange(4, dtype=np.float32).tofile(os.path.join(out, "weights.bin"))
    os.symlink(out, os.path.join(d, "data"))
    save(relu_of(external("data/weights.bin")), d)


@case("adjoint-opt", r"external data file '.*weights\.bin' does not exist")
def external_missing(d):
    save(relu_of(external("weights.bin")), d)


@case("adjoint-opt", r"external data file '.*weights' is not a regular file")
def external_directory(d):
    os.makedirs(os.path.join(d, "weights"))
    save(relu_of(external("weights")), d)


@case("adjoint-opt", r"external data file '.*weights\.bin' is too short")
def external_short(d):
    np.arange(2, dtype=np.float32).tofile(os.path.join(d, "weights.bin"))
    save(relu_of(external("weights.bin")), d)


# ---- sizes: overflow and the --max-tensor-bytes limit, refused before allocation ---------------

def declared(dims, elem=T.FLOAT):
    """An initializer whose dims promise data it does not hold."""
    w = onnx.TensorProto()
    w.name, w.data_type = "w", elem
    w.dims.extend(dims)
    return w


@case("adjoint-opt", r"initializer 'w': bad tensor shape: element count of shape .* overflows")
def initializer_count_overflow(d):
    save(relu_of(declared([1 << 32, 1 << 32, 1 << 32])), d)


@case("adjoint-opt", r"initializer 'w': tensor shape \[4611686018427387904\] is too large \(its byte size overflows\)")
def initializer_bytes_overflow(d):
    save(relu_of(declared([1 << 62])), d)


@case("adjoint-opt", r"initializer 'w': tensor f32\[1048576,1048576\] needs 4398046511104 bytes, more than the limit of 4294967296")
def initializer_over_limit(d):
    save(relu_of(declared([1 << 20, 1 << 20])), d)


@case("adjoint-opt", r"initializer 'w': bad tensor shape: negative dimension")
def initializer_negative_dim(d):
    save(relu_of(declared([-4])), d)


def broadcast_weight(rows=16):
    """x f32[4] (16 bytes) + w f32[rows,4]: a limit between the two stops w alone."""
    w = numpy_helper.from_array(np.ones((rows, 4), dtype=np.float32), "w")
    return model([h.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", [4])], [vi("y", [rows, 4])], [w])


@case("adjoint-opt", r"initializer 'w': tensor f32\[16,4\] needs 256 bytes, more than the limit of 100",
      args=["--max-tensor-bytes=100", "{dir}/model.onnx"])
def max_tensor_bytes_flag(d):
    save(broadcast_weight(), d)


@case("adjoint-run", r"initializer 'w': tensor f32\[512,4\] needs 8192 bytes, more than the limit of 4096",
      args=["{dir}/model.onnx", "--max-tensor-bytes", "4K", "--input", "x={dir}/x.npy"])
def max_tensor_bytes_run(d):
    save(broadcast_weight(512), d)
    np.save(os.path.join(d, "x.npy"), np.ones(4, dtype=np.float32))


@case("adjoint-train", r"initializer 'w': tensor f32\[16,4\] needs 256 bytes, more than the limit of 100",
      args=["{dir}/model.onnx", "--data", "synthetic", "--max-tensor-bytes", "100"])
def max_tensor_bytes_train(d):
    save(broadcast_weight(), d)


@case("adjoint-train", r"y\.npy\.gz: holds more than 1048576 bytes \(uncompressed\), the limit",
      args=["{dir}/model.onnx", "--data", "x={dir}/x.npy,y={dir}/y.npy.gz", "--max-tensor-bytes", "1M"],
      names_file="y.npy.gz")
def gzip_bomb_data(d):
    """64 KiB of gzip that inflates to 64 MiB: refused while inflating, past the limit."""
    import gzip
    save(broadcast_weight(), d)
    np.save(os.path.join(d, "x.npy"), np.ones((8, 4), dtype=np.float32))
    with gzip.open(os.path.join(d, "y.npy.gz"), "wb", 9) as f:
        f.write(b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (8388608,), }"
                + b" " * 51 + b"\n")
        for _ in range(64):
            f.write(bytes(1 << 20))


@case("adjoint-opt", r"input 'x': tensor f32\[100000,100000,100\] needs 4000000000000 bytes, more than the limit")
def input_over_limit(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")],
               [vi("x", [100000, 100000, 100])], [vi("y", [100000, 100000, 100])]), d)


@case("adjoint-opt", r"Expand 'grow': result 0: tensor f32\[1048576,1048576,1024\] needs .* more than the limit")
def intermediate_over_limit(d):
    shape = numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 10], dtype=np.int64), "shape")
    save(model([h.make_node("Expand", ["x", "shape"], ["y"], name="grow")],
               [vi("x", [1])], [vi("y", [1 << 20, 1 << 20, 1 << 10])], [shape]), d)


@case("adjoint-run", r"big\.npy: tensor f32\[1000000000000\] needs 4000000000000 bytes, more than the limit",
      args=["{dir}/model.onnx", "--input", "x={dir}/big.npy"], names_file="big.npy")
def npy_input_over_limit(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", ["n"])], [vi("y", ["n"])]), d)
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    with open(os.path.join(d, "big.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)


@case("adjoint-opt", r"initializer 'w': raw data holds 3 bytes, f32\[4\] needs 16")
def raw_data_short(d):
    w = declared([4])
    w.raw_data = b"abc"
    save(relu_of(w), d)


# ---- graph structure ---------------------------------------------------------------------------

@case("adjoint-opt", r"Add 'r1': input 'b' is produced by a later node, Relu 'r2' \(the graph has a cycle")
def cycle(d):
    save(model([h.make_node("Add", ["x", "b"], ["a"], name="r1"),
                h.make_node("Relu", ["a"], ["b"], name="r2")],
               [vi("x", [4])], [vi("b", [4])]), d)


@case("adjoint-opt", r"Relu 'loop': input 'y' is its own output \(a cycle\)")
def self_loop(d):
    save(model([h.make_node("Relu", ["y"], ["y"], name="loop")], [vi("x", [4])], [vi("y", [4])]), d)


@case("adjoint-opt", r"Relu 'second': output 'y' is already defined")
def duplicate_output(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="first"),
                h.make_node("Relu", ["x"], ["y"], name="second")],
               [vi("x", [4])], [vi("y", [4])]), d)


@case("adjoint-opt", r"Relu 'relu': output 'x' is already defined")
def output_shadows_input(d):
    save(model([h.make_node("Relu", ["x"], ["x"], name="relu")], [vi("x", [4])], [vi("x", [4])]), d)


@case("adjoint-opt", r"graph input 'x' is declared twice")
def duplicate_input(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")],
               [vi("x", [4]), vi("x", [4])], [vi("y", [4])]), d)


@case("adjoint-opt", r"Relu 'relu': input 'ghost' is not a graph input, an initializer or any node's output")
def missing_input(d):
    save(model([h.make_node("Relu", ["ghost"], ["y"], name="relu")], [vi("x", [4])], [vi("y", [4])]), d)


@case("adjoint-opt", r"graph output 'z' is not produced by any node")
def missing_output(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [4])], [vi("z", [4])]), d)


@case("adjoint-opt", r"the graph has no outputs")
def no_outputs(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [4])], []), d)


def zero_size_pool(op, d):
    x = np.zeros((1, 1, 0, 0), dtype=np.float32)
    np.save(os.path.join(d, "x.npy"), x)
    inits, ins = [], ["x"]
    attrs = {"kernel_shape": [3, 3]} if op == "MaxPool" else {}
    if op == "Conv":
        inits, ins = [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")], ["x", "w"]
    save(model([h.make_node(op, ins, ["y"], name="p", **attrs)], [vi("x", [1, 1, 0, 0])],
               [vi("y", None)], inits), d)


@case("adjoint-run", r"Conv 'p': padded input extent 0 along spatial axis 0 is smaller than the dilated kernel extent 3",
      args=["{dir}/model.onnx", "--input", "x={dir}/x.npy", "--output-dir", "{dir}/out"])
def zero_size_conv(d):
    zero_size_pool("Conv", d)


@case("adjoint-run", r"MaxPool 'p': padded input extent 0 along spatial axis 0 is smaller than the dilated kernel extent 3",
      args=["{dir}/model.onnx", "--backend=interp", "--input", "x={dir}/x.npy", "--output-dir", "{dir}/out"])
def zero_size_maxpool(d):
    zero_size_pool("MaxPool", d)


def zero_size_chain(d):
    """Zero-size dims where every op is defined: x f32[0,4] through Gemm, Softmax, ReduceMax."""
    w = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "w")
    save(model([h.make_node("Gemm", ["x", "w"], ["g"], name="gemm"),
                h.make_node("Softmax", ["g"], ["s"], name="softmax"),
                h.make_node("ReduceMax", ["s"], ["y"], axes=[0], keepdims=0, name="max")],
               [vi("x", [0, 4])], [vi("y", [3])], [w]), d)
    np.save(os.path.join(d, "x.npy"), np.zeros((0, 4), dtype=np.float32))


@case("adjoint-run", None, status=0,
      args=["{dir}/model.onnx", "--backend=interp", "--input", "x={dir}/x.npy", "--output-dir", "{dir}/out"])
def zero_size_runs_interp(d):
    zero_size_chain(d)


@case("adjoint-run", None, status=0,
      args=["{dir}/model.onnx", "--backend=jit", "--input", "x={dir}/x.npy", "--output-dir", "{dir}/out"])
def zero_size_runs_jit(d):
    zero_size_chain(d)


@case("adjoint-opt", r"--dim n must be positive, got 0", args=["--dim", "n=0", "{dir}/model.onnx"],
      names_file="--dim n")
def zero_size_dim_binding(d):
    save(model([h.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", ["n"])], [vi("y", ["n"])]), d)


# ---- versions and domains ----------------------------------------------------------------------

def relu_model(opsets=(("", 17),), ir_version=8, domain=None, op="Relu"):
    node = h.make_node(op, ["x"], ["y"], name="n", domain=domain)
    return model([node], [vi("x", [4])], [vi("y", [4])], opsets=opsets, ir_version=ir_version)


@case("adjoint-opt", r"default-domain opset 99 \(first used by node Relu 'n'\) is newer than the supported 7\.\.17")
def opset_too_new(d):
    save(relu_model(opsets=(("", 99),)), d)


@case("adjoint-opt", r"default-domain opset 0 is not a valid opset version")
def opset_zero(d):
    save(relu_model(opsets=(("", 0),)), d)


@case("adjoint-opt", r"the model imports domain '' twice")
def opset_imported_twice(d):
    save(relu_model(opsets=(("", 17), ("", 13))), d)


@case("adjoint-opt", r"ai\.onnx\.preview\.training opset 5 is not supported \(only version 1\)")
def training_opset_unknown(d):
    save(relu_model(opsets=(("", 17), ("ai.onnx.preview.training", 5))), d)


@case("adjoint-opt", r"1 unsupported op: com\.evil\.Payload \(node 'n'\)")
def unknown_domain(d):
    save(relu_model(opsets=(("", 17), ("com.evil", 1)), domain="com.evil", op="Payload"), d)


@case("adjoint-opt", r"1 unsupported op: Evil \(node 'n'\)")
def unknown_op(d):
    save(relu_model(op="Evil"), d)


@case("adjoint-opt", r"ONNX IR version 99 is newer than the supported")
def ir_version_too_new(d):
    save(relu_model(ir_version=99), d)


# ---- not a model ---------------------------------------------------------------------------------

@case("adjoint-opt", r"not a valid ONNX model \(protobuf parse failed")
def truncated(d):
    data = relu_of(numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")).SerializeToString()
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])


@case("adjoint-opt", r"empty file, not an ONNX model")
def empty_file(d):
    open(os.path.join(d, "model.onnx"), "wb").close()


@case("adjoint-opt", r"tensor type STRING is not supported")
def string_initializer(d):
    w = h.make_tensor("w", T.STRING, [1], [b"rm -rf /"])
    save(relu_of(w), d)


def write(out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    manifest = []
    for c in CASES:
        d = os.path.join(out_dir, c["name"])
        os.makedirs(d)
        c["writer"](d)
        manifest.append({k: v for k, v in c.items() if k != "writer"})
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{len(write(sys.argv[1]))} hostile cases written to {sys.argv[1]}")
