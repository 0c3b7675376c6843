#!/usr/bin/env python3
"""Every PTX module the test models produce, assembled by ptxas (the CUDA toolkit's assembler)
with no errors: the fused training steps of fashion_mlp, LeNet-5 and the BatchNorm CNN (Adam and
SGD, batch 64 and 1; the CNN in training mode), their forward passes, and the inputs of the ptx-*.adj FileCheck tests, for sm_90 (and the
other architectures given). Exit 77 (ctest: skipped) when ptxas is absent."""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--ptxas", default="")
    ap.add_argument("--arch", action="append", default=[])
    a = ap.parse_args()
    ptxas = a.ptxas or "/usr/local/cuda/bin/ptxas"
    if not os.path.exists(ptxas):
        print(f"SKIPPED: ptxas not found ({ptxas}); install the CUDA toolkit or pass --ptxas")
        return 77
    archs = a.arch or ["sm_90"]
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    opt = os.path.join(a.build_dir, "bin", "adjoint-opt")
    jobs = []
    for model in ("fashion_mlp", "lenet5", "fashion_cnn_bn"):
        path = os.path.join(src, "models", model + ".onnx")
        mode = ["--train-mode"] if model == "fashion_cnn_bn" else []
        for batch in (64, 1):
            jobs.append((f"{model} forward batch {batch}", [path, "--dim", f"batch={batch}", "--fuse"]))
            for optim in ("adam", "sgd"):
                jobs.append((f"{model} {optim} step batch {batch}",
                             [path, "--dim", f"batch={batch}"] + mode + ["--attach-loss=cross-entropy", "--autodiff",
                              f"--optimizer={optim}", "--cse", "--dce", "--fuse"]))
    # The parity test's exports, when this build dir has them (ResNet-18 in training mode, the
    # transformer encoder).
    for model, mode, batch in (("resnet18", ["--train-mode"], 8), ("transformer", [], 2)):
        path = os.path.join(a.build_dir, "reference-models", model + ".onnx")
        if os.path.exists(path):
            jobs.append((f"{model} adam step batch {batch}",
                         [path, "--dim", f"batch={batch}"] + mode + ["--attach-loss=cross-entropy", "--autodiff",
                          "--optimizer=adam", "--cse", "--dce", "--fuse"]))
        else:
            print(f"note {model}: {path} not present (the parity test exports it); not checked")
    for f in sorted(glob.glob(os.path.join(src, "test", "lit", "CodeGen", "ptx-*.adj"))):
        jobs.append((os.path.relpath(f, src), [f, "--split-input-file", "--fuse"]))
    failures, modules, kernels = 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            for name, args in jobs:
                r = subprocess.run([opt] + args + ["--emit=ptx", f"--gpu-arch={arch}"], capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"FAIL {name} ({arch}): adjoint-opt: {r.stderr.strip()}")
                    failures += 1
                    continue
                # --split-input-file concatenates modules: each starts at its plan comment.
                chunks = [c for c in re.split(r"(?m)^(?=// adjoint gpu plan)", r.stdout) if c.strip()]
                for i, chunk in enumerate(chunks):
                    ptx = os.path.join(tmp, f"m{modules}.ptx")
                    with open(ptx, "w") as fh:
                        fh.write(chunk)
                    modules += 1
                    n = len(re.findall(r"^\.visible \.entry ", chunk, re.M))
                    kernels += n
                    p = subprocess.run([ptxas, f"-arch={arch}", ptx, "-o", os.devnull], capture_output=True, text=True)
                    if p.returncode != 0:
                        print(f"FAIL {name} #{i} ({arch}): ptxas: {p.stderr.strip()}")
                        failures += 1
                    else:
                        print(f"ok   {name} #{i} ({arch}): {n} kernels")
    print(f"{modules} PTX modules, {kernels} kernels, ptxas -arch={','.join(archs)}: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
