#!/usr/bin/python3
"""Runs one Adam step of pipeline.adj's step function with adjoint-run and checks PyTorch's
first-step property: with zero state, m / (sqrt(v) / sqrt(1 - b2) + eps) * (1 / (1 - b1)) is
g / (|g| + eps'), so every parameter moves by lr against its gradient's sign.

usage: adam_first_step.py STEP.adj WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

step_path, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
w = np.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6], np.float32).reshape(3, 2)
b = np.array([0.0, 0.1], np.float32)
x = np.array([[1, 2, -1], [0.5, -1, 2]], np.float32)
t = np.array([[1, -0.5], [0.25, 1]], np.float32)
lr = 0.01
feeds = {"x": x, "target": t, "lr": np.array(lr, np.float32), "step": np.array(1, np.int64),
         "adam.m.w": np.zeros_like(w), "adam.v.w": np.zeros_like(w),
         "adam.m.b": np.zeros_like(b), "adam.v.b": np.zeros_like(b)}
cmd = ["adjoint-run", step_path, "--output-dir", work]
for name, value in feeds.items():
    path = os.path.join(work, name + ".in.npy")
    np.save(path, value)
    cmd += ["--input", f"{name}={path}"]
subprocess.run(cmd, check=True)

# d mean((xw + b - t)^2) = 2 / n (xw + b - t)
r = 2.0 / t.size * (x @ w + b - t)
grads = {"w": x.T @ r, "b": r.sum(axis=0)}
for name, p in (("w", w), ("b", b)):
    got = np.load(os.path.join(work, f"new.{name}.npy"))
    want = p - lr * np.sign(grads[name])
    if not np.allclose(got, want, rtol=0, atol=1e-6):
        sys.exit(f"new.{name}: {got.tolist()}, expected {want.tolist()}")
print("ok")
