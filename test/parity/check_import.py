#!/usr/bin/python3
"""Imports the larger reference models (ResNet-18, transformer) with `adjoint-opt --cse --dce`
and checks that it prints IR holding a function: the ONNX importer, its shape folding (the
transformer keeps PyTorch's Shape/Gather/Concat chains) and the passes run end to end.
Prints a line per model and closes with `N passed, M failed`.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

MODELS = ["resnet18", "transformer"]


def check(name, build_dir, tool, timeout):
    path, spec = reference_models.exported(name, build_dir)
    batch = reference_models.MODELS[name][1]
    # The exports have a symbolic batch dimension; bind it as a training run would.
    cmd = [tool, "--cse", "--dce", "--dim", f"batch={batch}", path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              errors="replace")
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout}s"
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return False, f"exit {proc.returncode}: " + (lines[-1] if lines else "(no message)")
    out = proc.stdout
    if "func @" not in out:
        return False, f"output has no 'func @' ({len(out)} characters)"
    n_ops = sum(1 for ln in out.splitlines() if " = " in ln)
    return True, f"{n_ops} ops, {len(out.splitlines())} lines of IR"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--adjoint-opt", help="the tool (default BUILD/bin/adjoint-opt)")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    tool = args.adjoint_opt or os.path.join(build_dir, "bin", "adjoint-opt")
    if not os.access(tool, os.X_OK):
        print(f"error: {tool} not found or not executable (build the adjoint-opt target)")
        return 2
    passed = failed = 0
    for name in MODELS:
        try:
            ok, msg = check(name, build_dir, tool, args.timeout)
        except Exception as e:  # noqa: BLE001 - report it as this model's failure
            ok, msg = False, f"{type(e).__name__}: {e}"
        print(f"{'PASS' if ok else 'FAIL'} {name}: {msg}", flush=True)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
