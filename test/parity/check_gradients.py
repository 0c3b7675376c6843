#!/usr/bin/python3
"""Gradient parity of `adjoint-run --loss` with torch.autograd on the reference models.

For each model (exported into the build tree by reference_models.py), a seeded batch and
seeded class labels go through PyTorch (cross-entropy, mean over the batch) and through
`adjoint-run --loss=cross-entropy --target ...`. Every gradient adjoint writes for an initializer
that is a PyTorch parameter must match param.grad norm-wise: ||a - t|| / ||t|| <= 1e-4.
ResNet-18 also runs with --train-mode against model.train() (batch statistics).
Prints a line per model and closes with `N passed, M failed`; exits non-zero on any failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

REL_TOL = 1e-4
SEED = 7
NUM_CLASSES = 10
# (model, train mode, batch). ResNet-18's last BatchNorms see 1x1 maps: in train mode with a
# batch of 2 they normalize over 2 values, where f32 gradients are ill-conditioned (both
# frameworks' results are then dominated by rounding), so train mode uses a batch of 8.
CASES = [("mlp", False, None), ("lenet5", False, None), ("transformer", False, None),
         ("resnet18", False, None), ("resnet18", True, 8)]


def torch_gradients(spec, inputs, target, train):
    module = spec.module
    module.train(train)
    module.zero_grad(set_to_none=True)
    out = module(*[torch.from_numpy(x) for x in inputs])
    out = out if isinstance(out, torch.Tensor) else out[0]
    loss = F.cross_entropy(out, torch.from_numpy(target))
    loss.backward()
    grads = {n: p.grad.detach().numpy() for n, p in module.named_parameters() if p.grad is not None}
    module.eval()
    return float(loss), grads


def initializer_names(path, module):
    """Maps each torch parameter name to (initializer name, transposed).

    torch.onnx keeps a parameter's name when it feeds an op directly, but stores a Linear weight
    that it feeds to MatMul transposed, under a generated name (onnx::MatMul_123): those are
    matched by value.
    """
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    mapping = {}
    for pname, param in module.named_parameters():
        data = param.detach().numpy()
        if pname in inits:
            mapping[pname] = (pname, False)
            continue
        for iname, value in inits.items():
            if value.shape == data.shape and np.array_equal(value, data):
                mapping[pname] = (iname, False)
                break
            if data.ndim == 2 and value.shape == data.T.shape and np.array_equal(value, data.T):
                mapping[pname] = (iname, True)
                break
    return mapping


def run_case(name, train, batch, build_dir, tool, timeout):
    path, spec = reference_models.exported(name, build_dir)
    names = initializer_names(path, spec.module)
    batch = batch or reference_models.MODELS[name][1]
    inputs = spec.make_inputs(batch, SEED)
    target = np.random.default_rng(SEED).integers(0, NUM_CLASSES, size=batch).astype(np.int64)
    ref_loss, ref_grads = torch_gradients(spec, inputs, target, train)

    work = tempfile.mkdtemp(prefix=f"grad.{name}.", dir=build_dir)
    try:
        cmd = [tool, path, "--loss=cross-entropy", "--output-dir", work]
        for input_name, x in zip(spec.input_names, inputs):
            p = os.path.join(work, "in." + input_name + ".npy")
            np.save(p, x)
            cmd += ["--input", f"{input_name}={p}"]
        np.save(os.path.join(work, "target.in.npy"), target)
        cmd += ["--target", os.path.join(work, "target.in.npy")]
        if train:
            cmd.append("--train-mode")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  errors="replace")
        except subprocess.TimeoutExpired:
            return False, f"adjoint-run timed out after {timeout}s"
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            return False, f"adjoint-run exit {proc.returncode}: " + (lines[-1] if lines else "")
        loss = float(np.load(os.path.join(work, "loss.npy")))
        if abs(loss - ref_loss) > REL_TOL * max(1.0, abs(ref_loss)):
            return False, f"loss {loss:.6g} vs torch {ref_loss:.6g}"
        worst, worst_name, compared, missing = 0.0, "", 0, []
        for pname, ref in ref_grads.items():
            iname, transposed = names.get(pname, (pname, False))
            f = os.path.join(work, "grad." + output_file_name(iname) + ".npy")
            if not os.path.exists(f):
                missing.append(pname)
                continue
            got = np.load(f)
            if transposed:
                got = got.T
            if got.shape != ref.shape:
                return False, f"grad.{pname}: shape {got.shape} vs torch {ref.shape}"
            denom = max(np.linalg.norm(ref), 1e-12)
            err = float(np.linalg.norm(got.astype(np.float64) - ref) / denom)
            compared += 1
            if err > worst:
                worst, worst_name = err, pname
        if missing:
            return False, f"no gradient written for {len(missing)} parameters, e.g. {missing[0]}"
        ok = worst <= REL_TOL
        return ok, (f"{compared} gradients, largest relative error {worst:.2e} ({worst_name}), "
                    f"loss {loss:.6f} vs {ref_loss:.6f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def output_file_name(name):
    """adjoint-run's file name for an output (see its --help)."""
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
    return "_" + safe if safe in ("", ".", "..") else safe


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    tool = os.path.join(build_dir, "bin", "adjoint-run")
    if not os.path.exists(tool):
        print(f"error: {tool} does not exist: build first", flush=True)
        return 1
    torch.manual_seed(0)
    passed = failed = 0
    for name, train, batch in CASES:
        label = name + (" (train mode)" if train else "")
        if args.filter and args.filter not in label:
            continue
        ok, msg = run_case(name, train, batch, build_dir, tool, args.timeout)
        print(f"{'PASS' if ok else 'FAIL'} {label}: {msg}", flush=True)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
