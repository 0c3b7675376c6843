#!/usr/bin/env python3
"""adjoint-compile --target=cuda: the GPU trainer, checked here on its emulated device.

  - the trainer builds, links no LLVM, ONNX, protobuf or libcuda (the driver is dlopen'ed);
  - --device=cuda without a GPU fails at start with one line and exit 1;
  - --device=emulator (the same plans, kernels compiled for this CPU) gives parameters
    bit-identical to adjoint-train --backend=cuda-emulator over the same steps (tail batch
    included), and close to the CPU trainer's;
  - a run stopped and resumed from its checkpoint ends where the uninterrupted run does; a CPU
    trainer's checkpoint resumes on the GPU trainer and back;
  - --emit=ptx, and the refusals (lib, obj, --device on a CPU trainer, --mcpu with cuda).

With --gpu (ctest label gpu): the trainer on the GPU against the CPU trainer's loss curve;
prints SKIPPED and exits 77 without a CUDA device.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "models", "fashion_mlp.onnx")
CNN = os.path.join(ROOT, "models", "fashion_cnn_bn.onnx")
DATA = "--data=fashion-mnist,train=200,test=100"  # 200 = 3 * 64 + 8
COMMON = ["--threads=2", "--progress=none", "--seed=3"]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def must(cmd, what):
    r = run(cmd)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
    check(r.returncode == 0, what)
    return r


def refused(cmd, text, what, code=1):
    r = run(cmd)
    ok = r.returncode == code and text in r.stderr
    if not ok:
        print(r.returncode, r.stdout[-500:], r.stderr[-500:])
    check(ok, what)
    return r


def initializers(path):
    return {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def max_diff(a, b):
    ia, ib = initializers(a), initializers(b)
    if ia.keys() != ib.keys():
        return float("inf")
    return max(float(np.abs(ia[k].astype(np.float64) - ib[k]).max()) for k in ia)


def losses(out):
    return [float(x) for x in re.findall(r"loss ([0-9.]+)", out)]


def gpu_test(compile_, tmp):
    """The trainer on the GPU against the CPU trainer (one epoch of a Fashion-MNIST subset)."""
    p = lambda name: os.path.join(tmp, name)
    data = "--data=fashion-mnist,train=6400,test=1000"
    args = [data, "--epochs=1", "--progress=lines", "--print-every=10", "--seed=3"]
    must([compile_, MLP, "--target=cuda", "--tail-batch=none", "--emit=exe", "-o", p("gpu")], "GPU trainer")
    r = run([p("gpu"), "--device=cuda"] + args + ["-o", p("gpu.onnx")])
    if r.returncode != 0 and any(why in r.stderr for why in
                                 ("no CUDA driver", "no CUDA device", "without the CUDA runtime")):
        print("SKIPPED: no CUDA device here (" + r.stderr.strip().splitlines()[-1] + ")")
        return 77
    print(r.stdout[-1500:], r.stderr[-1500:])
    check(r.returncode == 0, "the GPU trainer trains an epoch on the device")
    if r.returncode != 0:
        return 1
    must([compile_, MLP, "--tail-batch=none", "--emit=exe", "-o", p("cpu")], "CPU trainer")
    c = must([p("cpu")] + args + ["-o", p("cpu.onnx")], "the CPU trainer trains the same epoch")
    lg, lc = losses(r.stdout), losses(c.stdout)
    print("GPU loss curve:", lg)
    print("CPU loss curve:", lc)
    check(len(lg) == len(lc) and len(lg) > 3, "both print the same number of losses")
    if len(lg) == len(lc) and lg:
        rel = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(lg, lc))
        check(rel < 2e-2, f"the loss curves agree (largest relative difference {rel:.2e})")
        check(lg[-1] < lg[0], "the GPU loss falls")
    d = max_diff(p("gpu.onnx"), p("cpu.onnx"))
    check(d < 5e-3, f"the trained parameters agree (largest difference {d:.2e})")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--gpu", action="store_true")
    args = ap.parse_args()
    compile_ = os.path.join(args.build_dir, "bin", "adjoint-compile")
    train = os.path.join(args.build_dir, "bin", "adjoint-train")

    with tempfile.TemporaryDirectory() as tmp:
        if args.gpu:
            return gpu_test(compile_, tmp)
        p = lambda name: os.path.join(tmp, name)
        t0 = time.time()
        must([compile_, MLP, "--target=cuda", "--tail-batch=8", "--emit=exe", "-o", p("g")],
             "adjoint-compile --target=cuda --emit=exe fashion_mlp --tail-batch=8")
        print(f"     (compiled in {time.time() - t0:.1f} s, {os.path.getsize(p('g')) / 1e6:.1f} MB)")

        libs = run(["ldd", p("g")]).stdout
        check(not re.search(r"libLLVM|libonnx|libprotobuf|libcuda|libcublas", libs),
              "ldd: no libLLVM, libonnx, libprotobuf, libcuda or libcublas")

        r = run([p("g"), "--device=cuda", DATA] + COMMON)
        if "no CUDA driver" in r.stderr or "no CUDA device" in r.stderr:
            lines = r.stderr.strip().splitlines()
            check(r.returncode == 1 and len(lines) == 1 and r.stdout == "",
                  "--device=cuda without a GPU: one line, exit 1: " + (lines[-1] if lines else ""))
        else:
            print("     (a CUDA device is here: the no-GPU message is not checked)")

        t0 = time.time()
        g = must([p("g"), "--device=emulator", DATA, "--epochs=1", "-o", p("g.onnx")] + COMMON,
                 "the GPU trainer trains an epoch on the emulated device (tail batch of 8 included)")
        dt = time.time() - t0
        check("host emulator" in g.stdout and "4 steps" in g.stdout, "it says so, and trained 4 steps")
        print(f"     (4 steps and the evaluation in {dt:.1f} s)")
        must([train, MLP, DATA, "--epochs=1", "--backend=cuda-emulator", "-o", p("t.onnx")] + COMMON,
             "adjoint-train --backend=cuda-emulator trains the same epoch")
        d = max_diff(p("g.onnx"), p("t.onnx"))
        check(d == 0, f"bit-identical to adjoint-train --backend=cuda-emulator (largest difference {d})")

        must([compile_, MLP, "--tail-batch=8", "--emit=exe", "-o", p("c")], "the CPU trainer")
        c = must([p("c"), DATA, "--epochs=1", "-o", p("c.onnx")] + COMMON, "it trains the same epoch")
        d = max_diff(p("g.onnx"), p("c.onnx"))
        check(d < 1e-5, f"close to the CPU trainer (largest difference {d:.2e})")
        acc = lambda out: [l for l in out.splitlines() if l.startswith("final test accuracy")]
        check(acc(g.stdout) == acc(c.stdout) and acc(g.stdout), "the same test accuracy line: " +
              (acc(g.stdout) or ["?"])[0])

        # The BatchNorm CNN (training mode, running statistics as state), batch 8, SGD + momentum.
        cnn_data = "--data=fashion-mnist,train=40,test=16"
        must([compile_, CNN, "--target=cuda", "--batch=8", "--tail-batch=none", "--optimizer=sgd",
              "--momentum=0.9", "--emit=exe", "-o", p("cnn")], "the BatchNorm CNN's GPU trainer (batch 8, SGD)")
        must([p("cnn"), "--device=emulator", cnn_data, "--epochs=1", "-o", p("cnn.onnx")] + COMMON,
             "it trains 5 steps on the emulated device")
        must([train, CNN, cnn_data, "--batch=8", "--optimizer=sgd", "--momentum=0.9", "--epochs=1",
              "--backend=cuda-emulator", "-o", p("cnnt.onnx")] + COMMON, "adjoint-train --backend=cuda-emulator")
        d = max_diff(p("cnn.onnx"), p("cnnt.onnx"))
        check(d == 0, f"the CNN: bit-identical to adjoint-train --backend=cuda-emulator (largest difference {d})")

        # Evaluating and checkpointing after every step moves the state between the steps'
        # buffers and the host each time: the same parameters.
        must([p("g"), "--device=emulator", DATA, "--epochs=1", "--eval-every=1", "--checkpoint-every=1",
              "--checkpoint=" + p("e.ckpt"), "-o", p("e.onnx")] + COMMON,
             "--eval-every=1 --checkpoint-every=1 (state handed over every step)")
        check(max_diff(p("g.onnx"), p("e.onnx")) == 0, "the same parameters as without")

        # Stopped after step 2 (checkpoint), resumed: the uninterrupted run's parameters.
        r = run([p("g"), "--device=emulator", DATA, "--epochs=1", "--stop-after=2",
                 "--checkpoint=" + p("g.ckpt")] + COMMON)
        check(r.returncode == 130 and os.path.exists(p("g.ckpt")), "--stop-after=2 checkpoints, exit 130")
        r = must([p("g"), "--device=emulator", DATA, "--epochs=1", "--resume=" + p("g.ckpt"),
                  "-o", p("g2.onnx")] + COMMON, "the run resumes from the checkpoint")
        check("resuming from" in r.stdout and max_diff(p("g.onnx"), p("g2.onnx")) == 0,
              "interrupted and resumed: the uninterrupted run's parameters")

        # The CPU trainer's checkpoint on the GPU trainer and back (same model and options).
        run([p("c"), DATA, "--epochs=1", "--stop-after=2", "--checkpoint=" + p("c.ckpt")] + COMMON)
        r = must([p("g"), "--device=emulator", DATA, "--epochs=1", "--resume=" + p("c.ckpt"),
                  "-o", p("cg.onnx")] + COMMON, "a CPU trainer's checkpoint resumes on the GPU trainer")
        d = max_diff(p("cg.onnx"), p("c.onnx"))
        check(d < 1e-5, f"and ends close to the CPU run (largest difference {d:.2e})")
        r = must([p("c"), DATA, "--epochs=1", "--resume=" + p("g.ckpt"), "-o", p("gc.onnx")] + COMMON,
                 "a GPU trainer's checkpoint resumes on the CPU trainer")

        # The portable trainer bench/gpu-check --prepare carries: static, the reference BLAS.
        ref = "/usr/lib/x86_64-linux-gnu/blas/libblas.a"
        blas = ["--blas=" + ref] if os.path.exists(ref) else []
        must([compile_, MLP, "--target=cuda", "--tail-batch=none", "--static-runtime", "--emit=exe",
              "-o", p("st")] + blas, "--static-runtime" + (" --blas=" + ref if blas else ""))
        libs = run(["ldd", p("st")]).stdout
        check(not re.search(r"libopenblas|libstdc\+\+|libgfortran|libz\.", libs),
              "ldd: BLAS, zlib, the Fortran and C++ runtimes are linked in")
        must([p("st"), "--device=emulator", "--data=fashion-mnist,train=64,test=8", "--steps=1"] + COMMON,
             "the static trainer runs a step on the emulated device")

        # Text and refusals.
        r = must([compile_, MLP, "--target=cuda", "--tail-batch=none", "--emit=ptx", "-o", p("m.ptx")],
                 "--emit=ptx")
        text = open(p("m.ptx")).read()
        check(".entry" in text and "// adj_aot_train_b64" in text and "// step 0:" in text,
              "--emit=ptx writes each step's plan and PTX")
        refused([compile_, MLP, "--target=cuda", "--emit=lib", "-o", p("l.so")], "CPU-only",
                "--target=cuda --emit=lib is refused")
        refused([compile_, MLP, "--target=cuda", "--emit=obj", "-o", p("o.o")], "CPU-only",
                "--target=cuda --emit=obj is refused")
        refused([compile_, MLP, "--target=cuda", "--mcpu=x86-64", "--emit=exe", "-o", p("x")],
                "--gpu-arch", "--target=cuda --mcpu is refused")
        refused([compile_, MLP, "--target=cuda", "--gpu-arch=90", "--emit=exe", "-o", p("x")],
                "--gpu-arch expects", "a malformed --gpu-arch is refused")
        refused([compile_, MLP, "--emit=ptx"], "--emit=ptx needs --target=cuda", "--emit=ptx needs cuda")
        refused([p("c"), DATA, "--device=emulator"], "--target=cuda", "--device on a CPU trainer is refused")
        refused([p("g"), DATA, "--device=tpu"], "--device expects", "an unknown --device is refused")

    print(f"{len(failures)} failures" if failures else "all GPU trainer checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
