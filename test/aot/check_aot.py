#!/usr/bin/python3
"""adjoint-compile's trainer executable end to end (ctest aot-trainer), on a few hundred
Fashion-MNIST examples:

- the AOT trainer and adjoint-train (the JIT) end with bit-identical parameters after the same
  steps with the same seed: fashion_mlp with Adam over two epochs whose last batch is partial
  (--tail-batch=40), every tail compiled (the default), no tail step (the partial batch skipped,
  as adjoint-train --steps counts), the BatchNorm CNN with SGD + momentum (running statistics included), and an MLP
  with Dropout (a new mask each step, also after resuming);
- an interrupted run resumed from its checkpoint ends with the uninterrupted run's parameters;
- the exported model passes onnx.checker and keeps the symbolic batch axis;
- neither the executable nor the library loads LLVM, libonnx or libprotobuf (ldd);
- a trainer compiled for --mcpu=x86-64-v3 runs here; the text outputs hold what they should;
- unknown CPUs and triples, a missing runtime or linker, options compiled in, and a corrupt
  checkpoint give one clear error and exit status 1.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "models", "fashion_mlp.onnx")
CNN = os.path.join(ROOT, "models", "fashion_cnn_bn.onnx")
DATA = "--data=fashion-mnist,train=1000,test=200"  # 1000 = 15 * 64 + 40

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(cmd, env=None, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, **kw)


def must(cmd, what, **kw):
    r = run(cmd, **kw)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    check(r.returncode == 0, what)
    return r


def initializers(path):
    return {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def same_params(a, b):
    ia, ib = initializers(a), initializers(b)
    return ia.keys() == ib.keys() and all(np.array_equal(ia[k], ib[k]) for k in ia)


def make_dropout_model(path):
    """784-32-10 with Dropout(0.3) after the hidden layer (opset 10: ratio is an attribute)."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(0)
    init = lambda a, name: onnx.numpy_helper.from_array(a.astype(np.float32), name)
    nodes = [helper.make_node("Flatten", ["input"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["g"]),
             helper.make_node("Relu", ["g"], ["r"]),
             helper.make_node("Dropout", ["r"], ["d"], ratio=0.3),
             helper.make_node("Gemm", ["d", "w2", "b2"], ["logits"])]
    graph = helper.make_graph(
        nodes, "dropout_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [init(rng.standard_normal((784, 32)) * 0.05, "w1"), init(np.zeros(32), "b1"),
         init(rng.standard_normal((32, 10)) * 0.1, "w2"), init(np.zeros(10), "b2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)]), path)


def refused(cmd, text, what, env=None):
    r = run(cmd, env=env)
    ok = r.returncode == 1 and text in r.stderr
    if not ok:
        print(r.returncode, r.stdout[-500:], r.stderr[-500:])
    check(ok, what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    compile_ = os.path.join(args.build_dir, "bin", "adjoint-compile")
    train = os.path.join(args.build_dir, "bin", "adjoint-train")
    lib = os.path.join(args.build_dir, "tools", "adjoint-compile", "example", "libfashion_mlp.so")
    common = ["--threads=2", "--progress=none", "--seed=3"]

    with tempfile.TemporaryDirectory() as tmp:
        p = lambda name: os.path.join(tmp, name)

        # fashion_mlp, Adam, 2 epochs of 16 steps (the 16th of 40 examples).
        must([compile_, MLP, "--emit=exe", "--tail-batch=40", "-o", p("mlp")],
             "adjoint-compile --emit=exe fashion_mlp --tail-batch=40")
        r = must([p("mlp"), DATA, "--epochs=2", "-o", p("aot.onnx")] + common, "the AOT trainer runs")
        check("final test accuracy" in r.stdout and "32 steps" in r.stdout,
              "it reports 32 steps and the test accuracy")
        must([train, MLP, DATA, "--epochs=2", "-o", p("jit.onnx")] + common, "adjoint-train runs")
        check(same_params(p("aot.onnx"), p("jit.onnx")),
              "fashion_mlp: AOT and JIT parameters are bit-identical after 32 steps")
        acc = lambda out: [l for l in out.splitlines() if l.startswith("final test accuracy")]
        jit_out = run([train, MLP, DATA, "--epochs=2"] + common).stdout
        check(acc(r.stdout) == acc(jit_out), "and report the same test accuracy")

        # Without a tail step the partial batch is skipped: adjoint-train --steps=15 per epoch.
        must([compile_, MLP, "--emit=exe", "--tail-batch=none", "-o", p("mlp-notail")],
             "a trainer without tail steps")
        r = must([p("mlp-notail"), DATA, "--epochs=1", "-o", p("aot15.onnx")] + common,
                 "it trains one epoch")
        check("the last 40 examples of each epoch are skipped" in r.stdout,
              "it says the partial batch is skipped and how to keep it")
        must([train, MLP, DATA, "--steps=15", "-o", p("jit15.onnx")] + common, "adjoint-train --steps=15")
        check(same_params(p("aot15.onnx"), p("jit15.onnx")),
              "without the tail: bit-identical to adjoint-train's first 15 steps")

        # By default a step for every partial size, so any dataset's epoch is adjoint-train's.
        must([compile_, MLP, "--emit=exe", "--batch=12", "-o", p("mlp-all")],
             "adjoint-compile --batch=12 (tail steps 1..11)")
        r = must([p("mlp-all"), DATA, "--epochs=1", "-o", p("all.onnx")] + common, "it trains an epoch")
        check("84 steps per epoch (the last batch, of 4, has its own compiled step)" in r.stdout,
              "it trains the last 4 examples with their own step")
        must([train, MLP, DATA, "--epochs=1", "--batch=12", "-o", p("all-jit.onnx")] + common,
             "adjoint-train --batch=12")
        check(same_params(p("all.onnx"), p("all-jit.onnx")),
              "with every tail compiled: bit-identical to adjoint-train's epoch")

        # Interrupted at step 10 and resumed: the uninterrupted run's parameters.
        r = run([p("mlp"), DATA, "--epochs=2", "--stop-after=10", "--checkpoint", p("c.ckpt")] + common)
        check(r.returncode == 130 and os.path.exists(p("c.ckpt")), "--stop-after writes a checkpoint, exit 130")
        must([p("mlp"), DATA, "--epochs=2", "--resume", p("c.ckpt"), "-o", p("resumed.onnx")] + common,
             "--resume continues")
        check(same_params(p("resumed.onnx"), p("aot.onnx")), "the resumed run ends bit-identical")
        with open(p("c.ckpt"), "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0xFF]))
        refused([p("mlp"), DATA, "--resume", p("c.ckpt")] + common, "checksum mismatch",
                "a corrupt checkpoint is refused")

        # The exported model.
        m = onnx.load(p("aot.onnx"))
        onnx.checker.check_model(m)
        dim = m.graph.input[0].type.tensor_type.shape.dim[0]
        check(dim.dim_param != "" and dim.dim_value == 0, "the exported model keeps its symbolic batch")

        # The BatchNorm CNN under SGD with momentum: running statistics too.
        must([compile_, CNN, "--emit=exe", "--tail-batch=none", "--optimizer=sgd", "--momentum=0.9", "--lr=0.05",
              "--batch=50", "-o", p("cnn")], "adjoint-compile the BatchNorm CNN (sgd, batch 50)")
        must([p("cnn"), DATA, "--steps=12", "-o", p("cnn-aot.onnx")] + common, "the CNN trainer runs")
        must([train, CNN, DATA, "--steps=12", "--optimizer=sgd", "--momentum=0.9", "--lr=0.05",
              "--batch=50", "-o", p("cnn-jit.onnx")] + common, "adjoint-train the CNN")
        check(same_params(p("cnn-aot.onnx"), p("cnn-jit.onnx")),
              "CNN: AOT and JIT parameters (running statistics included) are bit-identical")

        # A model with Dropout: each step's mask comes from the dropout_seed input, derived from
        # (seed, step) as adjoint-train does, so the runs agree and a resumed run draws the same.
        make_dropout_model(p("drop.onnx"))
        must([compile_, p("drop.onnx"), "--emit=exe", "--tail-batch=none", "-o", p("drop")], "adjoint-compile a Dropout MLP")
        must([p("drop"), DATA, "--steps=12", "-o", p("drop-aot.onnx")] + common, "the Dropout trainer runs")
        must([train, p("drop.onnx"), DATA, "--steps=12", "-o", p("drop-jit.onnx")] + common,
             "adjoint-train the Dropout MLP")
        check(same_params(p("drop-aot.onnx"), p("drop-jit.onnx")),
              "Dropout MLP: AOT and JIT parameters are bit-identical after 12 steps")
        run([p("drop"), DATA, "--steps=12", "--stop-after=5", "--checkpoint", p("d.ckpt")] + common)
        must([p("drop"), DATA, "--steps=12", "--resume", p("d.ckpt"), "-o", p("drop-res.onnx")] + common,
             "the Dropout run resumes")
        check(same_params(p("drop-res.onnx"), p("drop-aot.onnx")),
              "resumed, it draws the masks an uninterrupted run draws")

        # No LLVM, ONNX or protobuf in what adjoint-compile produces.
        for path in (p("mlp"), lib):
            deps = run(["ldd", path]).stdout
            bad = [l.strip() for l in deps.splitlines()
                   if any(k in l for k in ("LLVM", "onnx", "protobuf"))]
            check(deps and not bad, "ldd %s: no libLLVM, libonnx or libprotobuf %s"
                  % (os.path.basename(path), bad or ""))

        # Another CPU level: x86-64-v3 (AVX2) code runs on any AVX2 machine.
        with open("/proc/cpuinfo") as f:
            avx2 = " avx2" in f.read()
        must([compile_, MLP, "--emit=exe", "--tail-batch=none", "--mcpu=x86-64-v3", "-O2", "-o", p("mlp-v3")],
             "adjoint-compile --mcpu=x86-64-v3 -O2")
        if avx2:
            r = must([p("mlp-v3"), DATA, "--steps=5"] + common, "the x86-64-v3 trainer runs here")
        must([compile_, MLP, "--emit=obj", "--tail-batch=none", "--mcpu=x86-64", "-o", p("mlp.o")], "--emit=obj")
        syms = run(["nm", p("mlp.o")]).stdout
        check(all(s in syms for s in (" adj_aot_blob", " adj_aot_entries", "T adj_aot_train_b64",
                                      "U adj_sgemm")),
              "the object defines the entries and the blob and references the runtime by name")
        ir = must([compile_, MLP, "--emit=llvm", "--tail-batch=none", "--mcpu=x86-64"], "--emit=llvm").stdout
        check("define void @adj_aot_train_b64(ptr" in ir and "@adj_aot_entries = constant [3 x ptr]" in ir,
              "the IR holds the three steps and their table")

        # Errors.
        refused([compile_, MLP, "--emit=asm", "--mcpu=nonsense"], "--mcpu: 'nonsense' is not a CPU",
                "an unknown --mcpu is refused")
        refused([compile_, MLP, "--emit=obj", "--mtriple=nonsense-x", "-o", p("x.o")],
                "unknown target triple 'nonsense-x'", "an unknown --mtriple is refused")
        refused([compile_, MLP, "--emit=exe", "--mtriple=aarch64-linux-gnu", "--mcpu=generic", "-o", p("x")],
                "links for this machine", "--emit=exe for another triple is refused")
        refused([compile_, MLP, "--emit=exe", "-o", p("x")], ".a' is missing",
                "a missing runtime library is named", env={"ADJOINT_RUNTIME_DIR": "/nonexistent"})
        refused([compile_, MLP, "--emit=exe", "-o", p("x")], "the linker driver '/nonexistent/c++' was not found",
                "a missing linker driver is named", env={"ADJOINT_CXX": "/nonexistent/c++"})
        refused([compile_, MLP, "--emit=exe"], "-o OUT is required", "-o is required for exe")
        refused([compile_, MLP, "--emit=exe", "--tail-batch=64", "-o", p("x")], "must be smaller",
                "a tail batch as large as the batch is refused")
        refused([p("mlp"), DATA, "--batch=32"], "compiled into this trainer", "--batch is compiled in")
        refused([p("mlp")], "no dataset given", "the trainer needs --data")
        refused([p("mlp"), "--data=x=/nonexistent.npy,y=/nonexistent.npy"], "nonexistent",
                "a missing data file is named")
        refused([p("mlp"), DATA, "--max-tensor-bytes=1M"], "holds more than 1048576 bytes (uncompressed)",
                "--max-tensor-bytes bounds a data file as it inflates")
        r = run([p("mlp"), "--help"])
        check(r.returncode == 0 and "optimizer adam, batch 64" in r.stdout,
              "--help says what is compiled in")

    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
