#!/usr/bin/python3
"""Nothing lost (ctest train-kill-resume): adjoint-train is killed with SIGKILL at random instants
of a run that writes a checkpoint every step, several times in a row, each time resuming from what
is on disk; the run that finally completes must end with exactly the parameters of a run never
interrupted. Then the newest checkpoint is truncated and corrupted: resuming from it fails with a
clear error naming the intact previous checkpoint, and resuming from that one again ends
bit-identical.

The instants are drawn from a seeded generator (--seed) and printed, so a failure can be replayed.
"""
import argparse
import glob
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "models", "fashion_mlp.onnx")
# 1024 examples at batch 32: 64 steps over two epochs, each step followed by a checkpoint write
# (~6 MB with Adam's state, synced), so a kill lands in a write often.
ARGS = ["--data=fashion-mnist,train=1024,test=128", "--batch=32", "--epochs=2", "--seed=7",
        "--progress=lines", "--print-every=8"]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def initializers(path):
    return {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def same_parameters(a, b):
    x, y = initializers(a), initializers(b)
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    tool = os.path.join(a.build_dir, "bin", "adjoint-train")
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        reference = os.path.join(tmp, "reference.onnx")
        t0 = time.monotonic()
        r = run([tool, MLP, *ARGS, "-o", reference])
        whole = time.monotonic() - t0
        check(r.returncode == 0, "the uninterrupted run completes: " + r.stderr.strip())
        if r.returncode != 0:
            return 1

        ckpt = os.path.join(tmp, "run.ckpt")
        result = os.path.join(tmp, "resumed.onnx")
        base = [tool, MLP, *ARGS, f"--checkpoint={ckpt}", "--checkpoint-every=1", "-o", result]
        # Time one checkpointing run's length first, so the kills spread over all of it.
        probe = os.path.join(tmp, "probe")
        os.mkdir(probe)
        t0 = time.monotonic()
        run([tool, MLP, *ARGS, f"--checkpoint={probe}/p.ckpt", "--checkpoint-every=1"])
        span = max(time.monotonic() - t0, whole)
        kills = 0
        for i in range(a.kills):
            cmd = base + ([f"--resume={ckpt}"] if os.path.exists(ckpt) else [])
            delay = rng.uniform(0.3, span)  # the first ~0.3 s is start-up
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                kills += 1
            out, err = p.communicate()
            steps = [l for l in out.splitlines() if "step" in l]
            print(f"     run {i + 1}: {'killed' if p.returncode == -9 else 'exited'} after "
                  f"{delay:.2f} s; last line: {steps[-1] if steps else '(none)'}", flush=True)
            if p.returncode not in (0, -9):
                check(False, f"run {i + 1} failed by itself (exit {p.returncode}): {err.strip()}")
                return 1
            if p.returncode == 0:
                os.unlink(ckpt)  # finished early: start over so later kills still test resume
                for prev in glob.glob(ckpt + ".prev"):
                    os.unlink(prev)
        check(kills > 0, f"{kills} of {a.kills} runs were killed mid-run")
        r = run(base + ([f"--resume={ckpt}"] if os.path.exists(ckpt) else []))
        check(r.returncode == 0, "the last resume completes: " + r.stderr.strip())
        check(r.returncode == 0 and same_parameters(reference, result),
              "after the kills, the parameters are bit-identical to the uninterrupted run's")
        left = [f for f in os.listdir(tmp) if ".tmp-" in f or f.endswith(".next")]
        check(not left, f"no temporary files left beside the checkpoint: {left}")

        # Damage the newest checkpoint of a run stopped at step 40: resuming names the intact
        # previous one (step 39), and resuming from that ends bit-identical too.
        stopped = os.path.join(tmp, "stopped.ckpt")
        r = run([tool, MLP, *ARGS, f"--checkpoint={stopped}", "--checkpoint-every=1",
                 "--stop-after=40"])
        check(r.returncode == 130, "--stop-after=40 stops with a checkpoint: " + r.stderr.strip())
        data = open(stopped, "rb").read()
        prev = stopped + ".prev"
        check(os.path.exists(prev), "the previous checkpoint is kept as " + prev)
        for what, damaged, message in [
                ("truncated", data[:len(data) // 3], "truncated checkpoint"),
                ("corrupted", data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x10]) +
                 data[len(data) // 2 + 1:], "checksum mismatch")]:
            with open(stopped, "wb") as f:
                f.write(damaged)
            r = run([tool, MLP, *ARGS, f"--resume={stopped}"])
            check(r.returncode == 1 and message in r.stderr and "(after step 39) is intact" in
                  r.stderr and f"--resume={prev}" in r.stderr,
                  f"a {what} checkpoint: exit 1 and a message naming {prev}: {r.stderr.strip()}")
        again = os.path.join(tmp, "again.onnx")
        r = run([tool, MLP, *ARGS, f"--resume={prev}", "-o", again])
        check(r.returncode == 0 and "after step 39" in r.stdout and
              same_parameters(reference, again),
              "resuming from the previous checkpoint ends bit-identical too: " + r.stderr.strip())
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
