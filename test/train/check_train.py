#!/usr/bin/python3
"""adjoint-train end to end (ctest train-cli), on a few hundred Fashion-MNIST examples:

- fashion_mlp trains (the loss falls), prints the final test accuracy and writes a trained model
  that onnx.checker accepts, that keeps the symbolic batch, and whose outputs under adjoint-run
  are PyTorch's for the same weights;
- Ctrl-C (SIGINT) writes a checkpoint and exits 130; resuming it ends with exactly the
  parameters of an uninterrupted run;
- the CNN with BatchNorm exports updated running statistics, and PyTorch agrees with it too;
- a diverging run stops naming the step; a dataset that does not fit is refused before training.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
FASHION = "/usr/share/datasets/fashion-mnist"
MLP = os.path.join(ROOT, "models", "fashion_mlp.onnx")
CNN = os.path.join(ROOT, "models", "fashion_cnn_bn.onnx")
DATA = "--data=fashion-mnist,train=512,test=256"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def initializers(path):
    return {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def torch_outputs(script, onnx_path, x):
    module = __import__(script).build(0).module
    inits = initializers(onnx_path)
    state = module.state_dict()
    module.load_state_dict({k: torch.from_numpy(inits[k].copy()) if k in inits else v
                            for k, v in state.items()})
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def adjoint_run(build, model, x, tmp):
    np.save(os.path.join(tmp, "x.npy"), x)
    out = os.path.join(tmp, "run")
    r = run([os.path.join(build, "bin", "adjoint-run"), model, f"--input=input={tmp}/x.npy",
             "--output-dir", out])
    if r.returncode:
        print(r.stderr)
        return None
    return np.load(os.path.join(out, "logits.npy"))


def test_images(n, shape):
    import gzip
    with gzip.open(f"{FASHION}/t10k-images-idx3-ubyte.gz", "rb") as f:
        data = f.read()
    x = np.frombuffer(data, dtype=np.uint8, offset=16)[:n * 784]
    return (x.astype(np.float32) / 255).reshape(n, *shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    tool = os.path.join(args.build_dir, "bin", "adjoint-train")
    if not os.path.exists(f"{FASHION}/train-images-idx3-ubyte.gz"):
        print("skipped: dataset-fashion-mnist is not installed")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        # 1. A short run: 16 steps of 32 examples.
        trained = os.path.join(tmp, "trained.onnx")
        log = os.path.join(tmp, "log.jsonl")
        r = run([tool, MLP, DATA, "--batch=32", "-o", trained, f"--log={log}",
                 f"--plot={tmp}/curve.svg", "--progress=lines"])
        check(r.returncode == 0, "fashion_mlp trains on 512 examples: " + r.stderr.strip())
        check("final test accuracy:" in r.stdout, "it prints the final test accuracy")
        losses = [float(line.split('"loss":')[1].split(",")[0])
                  for line in open(log) if '"type":"train"' in line]
        check(len(losses) == 16 and np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.5,
              f"the training loss falls: {np.round(losses, 3).tolist()}")
        model = onnx.load(trained)
        onnx.checker.check_model(model)
        check(True, "onnx.checker accepts the trained model")
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        check(dim.dim_param == "batch", "the trained model keeps the symbolic batch dimension")
        before, after = initializers(MLP), initializers(trained)
        check(set(before) == set(after) and
              all(not np.array_equal(before[k], after[k]) for k in before),
              "every initializer was trained")
        x = test_images(8, [784])
        ours = adjoint_run(args.build_dir, trained, x, tmp)
        theirs = torch_outputs("export_mlp", trained, x)
        check(ours is not None and np.allclose(ours, theirs, atol=1e-4, rtol=1e-4),
              "adjoint-run on the trained model reproduces PyTorch with its weights")

        # 2. Ctrl-C, then resume: the same final parameters as the uninterrupted run above.
        ckpt = os.path.join(tmp, "run.ckpt")
        p = subprocess.Popen([tool, MLP, DATA, "--batch=32", f"--checkpoint={ckpt}",
                              "--progress=lines", "--print-every=1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stdout:
            if "step 3/" in line:
                p.send_signal(signal.SIGINT)
                break
        out, err = p.communicate(timeout=120)
        check(p.returncode == 130, f"Ctrl-C exits with 130 (got {p.returncode}): {err.strip()}")
        check("checkpoint written to" in out and os.path.exists(ckpt),
              "Ctrl-C writes a checkpoint")
        resumed = os.path.join(tmp, "resumed.onnx")
        r = run([tool, MLP, DATA, "--batch=32", f"--resume={ckpt}", "-o", resumed,
                 "--progress=none"])
        check(r.returncode == 0 and "resuming from" in r.stdout, "the run resumes: " + r.stderr)
        if r.returncode == 0:
            a, b = initializers(trained), initializers(resumed)
            check(all(np.array_equal(a[k], b[k]) for k in a),
                  "the resumed run ends bit-identical to the uninterrupted one")

        # 3. BatchNorm: running statistics are trained state and reach the exported model.
        cnn = os.path.join(tmp, "cnn.onnx")
        r = run([tool, CNN, "--data=fashion-mnist,train=128,test=64", "--batch=32", "-o", cnn,
                 "--progress=none"])
        check(r.returncode == 0, "the CNN with BatchNorm trains: " + r.stderr.strip())
        if r.returncode == 0:
            onnx.checker.check_model(onnx.load(cnn))
            b, a = initializers(CNN), initializers(cnn)
            check(not np.allclose(b["1.running_mean"], a["1.running_mean"]),
                  "the exported BatchNorm running statistics moved")
            x = test_images(4, [1, 28, 28])
            ours = adjoint_run(args.build_dir, cnn, x, tmp)
            theirs = torch_outputs("export_cnn_bn", cnn, x)
            check(ours is not None and np.allclose(ours, theirs, atol=1e-4, rtol=1e-4),
                  "adjoint-run on the trained CNN reproduces PyTorch (eval mode)")

        # 4. Errors: a diverging run, a dataset that does not fit.
        r = run([tool, MLP, DATA, "--optimizer=sgd", "--lr=1e30", "--progress=none"])
        check(r.returncode == 1 and "adjoint-train: error: the loss is NaN at step" in r.stderr,
              "a diverging run stops naming the step: " + r.stderr.strip())
        np.save(os.path.join(tmp, "bx.npy"), np.zeros((16, 30, 30), np.float32))
        np.save(os.path.join(tmp, "by.npy"), np.zeros(16, np.int64))
        r = run([tool, os.path.join(ROOT, "models", "lenet5.onnx"),
                 f"--data=x={tmp}/bx.npy,y={tmp}/by.npy"])
        check(r.returncode == 1 and "training examples are float32[30,30] (900 elements), but the "
              "model input 'input' takes f32[1,28,28] per example (784 elements)" in r.stderr
              and "epoch" not in r.stdout,
              "a dataset that does not fit is refused before training: " + r.stderr.strip())
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
