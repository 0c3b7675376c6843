"""The reference models of models/, exported once into the build tree and shared by the
parity and models-import tests.

An export is cached under BUILD/reference-models/<name>.onnx and redone when the export scripts
or the torch version change (a STAMP beside each file records what made it). A file lock keeps
two tests (ctest -j2) from exporting the same model at once.
"""
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_DIR = os.path.join(ROOT, "models")
sys.path.insert(0, MODELS_DIR)
import export_common  # noqa: E402

# name -> (export script, batch size used by the checks, file checked in under models/ or None)
MODELS = {
    "mlp": ("export_mlp.py", 8, "fashion_mlp.onnx"),
    "lenet5": ("export_lenet5.py", 4, "lenet5.onnx"),
    "resnet18": ("export_resnet18.py", 2, None),
    "transformer": ("export_transformer.py", 2, None),
}
SEED = 0


def load_script(name):
    script = MODELS[name][0]
    spec = importlib.util.spec_from_file_location(f"adjoint_models_{name}",
                                                  os.path.join(MODELS_DIR, script))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stamp(name):
    h = hashlib.sha256()
    for f in (MODELS[name][0], "export_common.py"):
        with open(os.path.join(MODELS_DIR, f), "rb") as fh:
            h.update(fh.read())
    return f"torch {torch.__version__} seed {SEED} scripts {h.hexdigest()[:16]}"


@contextlib.contextmanager
def _locked(path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def exported(name, build_dir):
    """(path of the exported model, its ModelSpec built with the same seed)."""
    mod = load_script(name)
    spec = mod.build(SEED)
    out_dir = os.path.join(build_dir, "reference-models")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".onnx")
    stamp_path = path + ".STAMP"
    stamp = _stamp(name)
    with _locked(path + ".lock"):
        fresh = os.path.exists(path) and os.path.exists(stamp_path) and \
            open(stamp_path).read().strip() == stamp
        if not fresh:
            print(f"exporting {name} to {path}", flush=True)
            export_common.export(spec, path)
            with open(stamp_path, "w") as fh:
                fh.write(stamp + "\n")
    return path, spec

