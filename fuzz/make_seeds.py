#!/usr/bin/python3
"""Regenerates the fuzz targets' seed corpora in fuzz/corpus/<target>/ (checked in, a few KB
each): small ONNX conformance models and test inputs, the lit tests' .adj files, and .npy, IDX
and checkpoint files written here in each format's variants.
Usage: [BUILD_DIR=build] fuzz/make_seeds.py (after the conformance test has generated its data)"""
import glob
import os
import shutil
import struct
import zlib

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# The conformance test's generated node tests (ctest -R conformance makes them).
ONNX_DATA = os.path.join(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")),
                         "conformance-data", "node")

# Conformance models covering the importer's paths: attributes of each kind, initializers,
# optional inputs, older opset forms the importer upgrades, training-domain ops, shape folding.
MODELS = ["test_add_bcast", "test_conv_with_strides_padding", "test_gemm_all_attributes",
          "test_batchnorm_epsilon", "test_maxpool_2d_pads", "test_reshape_reordered_all_dims",
          "test_slice_neg_steps", "test_softmax_axis_0", "test_clip_default_min",
          "test_constant", "test_split_variable_parts_1d", "test_gather_1", "test_cast_FLOAT_to_DOUBLE",
          "test_adam", "test_sce_mean_weight", "test_layer_normalization_2d_axis0",
          "test_dropout_default_mask", "test_where_example", "test_transpose_all_permutations_0",
          "test_unsqueeze_axis_0"]


def reset(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def onnx_seeds():
    d = reset("onnx-import")
    pbs = reset("tensor-proto")
    for m in MODELS:
        src = os.path.join(ONNX_DATA, m)
        if not os.path.isdir(src):
            raise SystemExit(f"make_seeds: {src} is missing; run ctest -R conformance first")
        shutil.copy(os.path.join(src, "model.onnx"), os.path.join(d, m + ".onnx"))
        for pb in sorted(glob.glob(os.path.join(src, "test_data_set_0", "*.pb")))[:2]:
            if os.path.getsize(pb) <= 2048:
                shutil.copy(pb, os.path.join(pbs, m + "-" + os.path.basename(pb)))
    # Typed-field (not raw_data) tensors of each type.
    for name, arr in [("f32", np.arange(6, dtype=np.float32).reshape(2, 3)),
                      ("f64", np.array([1.5, -2.0])), ("i64", np.array([3, -4], dtype=np.int64)),
                      ("i32", np.array([[7]], dtype=np.int32)), ("bool", np.array([True, False]))]:
        t = onnx.helper.make_tensor(name, onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
                                    if hasattr(onnx.helper, "np_dtype_to_tensor_dtype")
                                    else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[arr.dtype],
                                    arr.shape, arr.flatten().tolist())
        open(os.path.join(pbs, "typed-" + name + ".pb"), "wb").write(t.SerializeToString())


def adj_seeds():
    d = reset("adj-parser")
    for f in sorted(glob.glob(os.path.join(ROOT, "test", "lit", "**", "*.adj"), recursive=True)):
        if os.path.getsize(f) <= 1100:
            rel = os.path.relpath(f, os.path.join(ROOT, "test", "lit")).replace(os.sep, "-")
            shutil.copy(f, os.path.join(d, rel))


def npy_seeds():
    d = reset("npy")
    arrays = {"f4": np.arange(6, dtype=np.float32).reshape(2, 3),
              "f8": np.array([1.0, -2.5]), "i8": np.array([[1], [2]], dtype=np.int64),
              "i4": np.array(7, dtype=np.int32), "b1": np.array([True, False, True]),
              "u1": np.arange(4, dtype=np.uint8), "empty": np.zeros((0, 3), dtype=np.float32),
              "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))}
    for name, a in arrays.items():
        np.save(os.path.join(d, name + ".npy"), a, allow_pickle=False)
    with open(os.path.join(d, "v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(3, dtype=np.float32), version=(2, 0))


def idx_seeds():
    d = reset("idx")
    for name, code, fmt, dims, vals in [
            ("u8-3d", 0x08, "B", (2, 2, 2), range(8)), ("i32-1d", 0x0C, ">i", (3,), [1, -2, 3]),
            ("f32-2d", 0x0D, ">f", (2, 2), [0.5, 1, 2, 3]), ("f64-1d", 0x0E, ">d", (1,), [9.0]),
            ("i16-1d", 0x0B, ">h", (2,), [-1, 1]), ("i8-1d", 0x09, "b", (2,), [-1, 1])]:
        head = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims)
        body = b"".join(struct.pack(fmt, v) for v in vals)
        open(os.path.join(d, name + ".idx"), "wb").write(head + body)


def checkpoint_payload():
    """A small payload in Checkpoint.h's layout: meta, two tensors, two curves."""
    def s(x):
        x = x.encode()
        return struct.pack("<I", len(x)) + x
    meta = {"state.step": "3", "state.epoch": "0", "state.batch_in_epoch": "3", "state.seed": "1",
            "state.epoch_loss": "0", "state.epoch_correct": "0", "state.epoch_examples": "0",
            "state.epoch_predictions": "0", "state.train_seconds": "0", "lr": "0.001"}
    p = struct.pack("<I", len(meta)) + b"".join(s(k) + s(v) for k, v in sorted(meta.items()))
    tensors = [("w", 0, 1, (2, 2), np.ones(4, dtype=np.float32).tobytes()),
               ("adam.m.w", 1, 1, (2, 2), np.zeros(4, dtype=np.float32).tobytes())]
    p += struct.pack("<I", len(tensors))
    for name, role, dt, dims, data in tensors:
        p += s(name) + struct.pack("<BiI", role, dt, len(dims))
        p += b"".join(struct.pack("<q", n) for n in dims) + struct.pack("<Q", len(data)) + data
    for _ in range(2):
        p += struct.pack("<Q", 1) + struct.pack("<qdddd", 3, 0.5, 1.25, 0.5, 0.001)
    return p


def checkpoint_seeds():
    d = reset("checkpoint")
    payload = checkpoint_payload()
    whole = b"ADJCKPT\0" + struct.pack("<IQ", 1, len(payload)) + payload + \
        struct.pack("<I", zlib.crc32(payload))
    # The target's first byte picks the mode: even = a whole file, odd = a payload it wraps.
    open(os.path.join(d, "whole.bin"), "wb").write(b"\0" + whole)
    open(os.path.join(d, "payload.bin"), "wb").write(b"\1" + payload)


if __name__ == "__main__":
    onnx_seeds()
    adj_seeds()
    npy_seeds()
    idx_seeds()
    checkpoint_seeds()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print(f"{t}: {len(files)} files, {size} bytes")
