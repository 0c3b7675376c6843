#!/usr/bin/python3
"""Parity of `adjoint-run` with PyTorch on the reference models (MLP, LeNet-5, ResNet-18,
transformer).

Each model is exported into the build tree (cached, reference_models.py), run on a seeded
random batch by PyTorch in eval mode and by `adjoint-run --backend=interp`, and every output is
compared: the max abs error relative to max |reference| must be at most 1e-4.
Prints a line per model and closes with `N passed, M failed`; exits non-zero on any failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

REL_TOL = 1e-4
INPUT_SEED = 1


def log(msg):
    print(msg, flush=True)


def check(name, build_dir, tool, backend, timeout):
    """(ok, message) for one model."""
    path, spec = reference_models.exported(name, build_dir)
    batch = reference_models.MODELS[name][1]
    inputs = spec.make_inputs(batch, INPUT_SEED)
    spec.module.eval()
    # Same (non-fast) path as the export traced; see export_transformer.py.
    refs = spec.module(*[torch.from_numpy(x) for x in inputs])
    refs = [refs] if isinstance(refs, torch.Tensor) else list(refs)
    refs = [r.detach().numpy() for r in refs]

    work = os.path.join(build_dir, "parity", name)
    os.makedirs(work, exist_ok=True)
    feeds = []
    for input_name, x in zip(spec.input_names, inputs):
        p = os.path.join(work, input_name + ".npy")
        np.save(p, x)
        feeds += ["--input", f"{input_name}={p}"]

    # The checked-in copy (models/) must still be what the script exports: same results.
    checked_in = reference_models.MODELS[name][2]
    runs = [("", path)]
    if checked_in:
        runs.append((f"checked-in models/{checked_in}: ",
                     os.path.join(reference_models.MODELS_DIR, checked_in)))
    parts, ok = [], True
    for label, model_path in runs:
        out_dir = tempfile.mkdtemp(prefix="out.", dir=work)
        try:
            cmd = [tool, model_path, f"--backend={backend}", "--output-dir", out_dir] + feeds
            start = time.time()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                      errors="replace")
            except subprocess.TimeoutExpired:
                return False, f"{label}adjoint-run timed out after {timeout}s"
            took = time.time() - start
            if proc.returncode != 0:
                lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
                return False, (f"{label}adjoint-run exit {proc.returncode}: " +
                               (lines[-1] if lines else ""))
            for out_name, ref in zip(spec.output_names, refs):
                good, msg = compare(os.path.join(out_dir, out_name + ".npy"), ref)
                ok = ok and good
                parts.append(f"{label}{out_name}: {msg}")
            if not label:
                parts[-1] += f" (adjoint-run {took:.1f}s)"
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
    shape = "x".join(map(str, inputs[0].shape))
    return ok, f"input {shape}; " + "; ".join(parts)


def compare(got_path, ref):
    """(ok, message) for one output against the PyTorch reference."""
    if not os.path.exists(got_path):
        return False, "no output file"
    got = np.load(got_path)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return False, f"{got.dtype}{list(got.shape)}, expected {ref.dtype}{list(ref.shape)}"
    abs_err = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    rel = abs_err / scale if scale > 0 else abs_err
    ok = bool(np.isfinite(rel) and rel <= REL_TOL)
    return ok, f"max abs err {abs_err:.3g}, relative {rel:.3g}"

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--models", default=",".join(reference_models.MODELS),
                    help="comma-separated subset of " + ",".join(reference_models.MODELS))
    ap.add_argument("--timeout", type=int, default=600, help="seconds per adjoint-run")
    ap.add_argument("--adjoint-run", help="the tool (default BUILD/bin/adjoint-run)")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    tool = args.adjoint_run or os.path.join(build_dir, "bin", "adjoint-run")
    if not os.access(tool, os.X_OK):
        log(f"error: {tool} not found or not executable (build the adjoint-run target)")
        return 2
    torch.set_num_threads(1)  # the machine is shared; these models are small

    passed = failed = 0
    for name in args.models.split(","):
        if name not in reference_models.MODELS:
            log(f"error: unknown model '{name}'")
            return 2
        try:
            ok, msg = check(name, build_dir, tool, args.backend, args.timeout)
        except Exception as e:  # noqa: BLE001 - one model's failure must not hide the others
            ok, msg = False, f"{type(e).__name__}: {e}"
        log(f"{'PASS' if ok else 'FAIL'} {name}: {msg}")
        passed += ok
        failed += not ok
    log(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
