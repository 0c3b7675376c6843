#!/usr/bin/python3
"""The PyTorch side of bench/run: times one model's eager training step (forward, cross-entropy,
backward, Adam) or no-grad forward pass and prints one JSON line, with the same fields and the
same measurement as adjoint-bench (warm-up steps, then rounds of timed steps; the spread is that
of the rounds' medians; memory is the process's VmHWM, whole run and from the first timed step).

  torch_step.py train|infer MODEL --batch N --threads T [--warmup W --rounds R --steps K]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))

EXPORTERS = {"fashion_mlp": "export_mlp", "lenet5": "export_lenet5",
             "transformer": "export_transformer", "resnet18": "export_resnet18"}


def memory():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(rest.split()[0])
    return out


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("model", choices=sorted(EXPORTERS))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    spec = __import__(EXPORTERS[args.model]).build(0)
    module = spec.module
    x = torch.from_numpy(spec.make_inputs(args.batch, 0)[0])
    if x.dtype == torch.float64:
        x = x.float()
    target = torch.from_numpy(np.random.default_rng(1).integers(0, 10, args.batch))
    if args.mode == "train":
        module.train()
        opt = torch.optim.Adam(module.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(x), target)
            loss.backward()
            opt.step()
            return loss
    else:
        module.eval()

        def step():
            with torch.no_grad():
                return module(x)
    setup_s = time.perf_counter() - t0

    for _ in range(args.warmup):
        step()
    reset = reset_peak()
    all_ms, round_medians, cpu_ms = [], [], []
    for _ in range(args.rounds):
        times = []
        for _ in range(args.steps):
            c = time.thread_time()
            t = time.perf_counter()
            out = step()
            times.append((time.perf_counter() - t) * 1e3)
            cpu_ms.append((time.thread_time() - c) * 1e3)
        round_medians.append(statistics.median(times))
        all_ms += times
    loop = memory()
    med = statistics.median(all_ms)
    print(json.dumps({
        "mode": args.mode, "batch": args.batch, "threads": args.threads,
        "setup_s": round(setup_s, 4), "median_ms": med, "min_ms": min(all_ms),
        "cpu_ms": statistics.median(cpu_ms),
        "spread_pct": 100 * (max(round_medians) - min(round_medians)) / med,
        "steps": len(all_ms), "peak_rss_kib": memory()["VmHWM"],
        "loop_peak_rss_kib": loop["VmHWM"] if reset else -1,
        "loss": float(out) if args.mode == "train" else None,
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
