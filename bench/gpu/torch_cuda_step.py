#!/usr/bin/python3
"""PyTorch's side of bench/gpu-check: one model's eager training step (forward, cross-entropy,
backward, Adam) on the GPU, measured as adjoint-gpu-step measures its own: the batch copied from
pinned host memory to the device each step, then the step; median wall time of the timed steps
after warm-up, each step synchronized. Prints one JSON line.

  torch_cuda_step.py MODEL --batch N [--steps K --warmup W]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
EXPORTERS = {"fashion_mlp": "export_mlp", "lenet5": "export_lenet5", "fashion_cnn_bn": "export_cnn_bn"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(EXPORTERS))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"model": a.model, "error": "torch has no CUDA device"}))
        return 0
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # as adjoint's cuBLAS calls (no TF32)
    torch.backends.cudnn.allow_tf32 = False
    spec = __import__(EXPORTERS[a.model]).build(0)
    module = spec.module.to(dev).train()
    x_host = torch.from_numpy(spec.make_inputs(a.batch, 0)[0]).float().pin_memory()
    target = torch.from_numpy(np.random.default_rng(1).integers(0, 10, a.batch)).to(dev)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    loss = None
    for s in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        x = x_host.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module(x), target)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if s >= a.warmup:
            times.append(1e3 * (time.perf_counter() - t0))
    print(json.dumps({"model": a.model, "batch": a.batch, "device": torch.cuda.get_device_name(0),
                      "step_ms": statistics.median(times), "final_loss": float(loss)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
