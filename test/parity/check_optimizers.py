#!/usr/bin/python3
"""Parity of the optimizer pass (`adjoint-opt --optimizer=...`) with torch.optim.

A tiny MLP (Linear-Tanh-Linear, f32) is exported from PyTorch, compiled into one training step
with `adjoint-opt MODEL --attach-loss=mse:y --autodiff --optimizer=KIND OPTIONS -o step.adj`,
and run for 10 steps with `adjoint-run`, each step fed a new batch, the learning rate, the step
number, and the previous step's new parameters and state (zeros on step 1). torch.optim runs the
same 10 steps from the same initial weights on the same batches. After the last step every
parameter must agree within 1e-5 relative (elementwise |ours - torch| <= 1e-5 * |torch| + 1e-7).

Prints a line per case and closes with `N passed, M failed`; exits non-zero on any failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

STEPS = 10
RTOL, ATOL = 1e-5, 1e-7
SEED = 7

# (case name, adjoint-opt options, torch optimizer factory, learning rate per step (1-based),
#  clip-grad-norm or None)
CASES = [
    ("sgd", ["--optimizer=sgd"], lambda p: torch.optim.SGD(p, lr=0.1), 0.1, None),
    ("sgd momentum", ["--optimizer=sgd", "--momentum=0.9"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.1, None),
    ("sgd momentum dampening weight-decay",
     ["--optimizer=sgd", "--momentum=0.8", "--dampening=0.3", "--weight-decay=0.01"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.01),
     0.1, None),
    ("sgd nesterov", ["--optimizer=sgd", "--momentum=0.9", "--nesterov=1"],
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), 0.05, None),
    ("sgd momentum clip-grad-norm", ["--optimizer=sgd", "--momentum=0.9", "--clip-grad-norm=0.1"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.1, 0.1),
    ("adam", ["--optimizer=adam"], lambda p: torch.optim.Adam(p, lr=0.01), 0.01, None),
    ("adam betas eps weight-decay",
     ["--optimizer=adam", "--beta1=0.8", "--beta2=0.99", "--eps=1e-6", "--weight-decay=0.05"],
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
     0.01, None),
    ("adam amsgrad", ["--optimizer=adam", "--amsgrad=1"],
     lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True), 0.01, None),
    ("adam lr schedule clip-grad-norm", ["--optimizer=adam", "--clip-grad-norm=0.5"],
     lambda p: torch.optim.Adam(p, lr=0.02), lambda step: 0.02 * 0.8 ** (step - 1), 0.5),
    ("adamw", ["--optimizer=adamw"], lambda p: torch.optim.AdamW(p, lr=0.01), 0.01, None),
    ("adamw weight-decay amsgrad", ["--optimizer=adamw", "--weight-decay=0.1", "--amsgrad=1"],
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True), 0.01, None),
    ("rmsprop", ["--optimizer=rmsprop"], lambda p: torch.optim.RMSprop(p, lr=0.01), 0.01, None),
    ("rmsprop momentum centered",
     ["--optimizer=rmsprop", "--momentum=0.9", "--centered=1"],
     lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.9, centered=True), 0.005, None),
    ("rmsprop alpha eps weight-decay",
     ["--optimizer=rmsprop", "--alpha=0.9", "--eps=1e-6", "--weight-decay=0.01"],
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01),
     0.01, None),
    ("adagrad", ["--optimizer=adagrad"], lambda p: torch.optim.Adagrad(p, lr=0.1), 0.1, None),
    ("adagrad lr-decay initial-accumulator weight-decay",
     ["--optimizer=adagrad", "--lr-decay=0.1", "--initial-accumulator=0.1",
      "--weight-decay=0.01"],
     lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1,
                                   weight_decay=0.01), 0.1, None),
    ("adagrad eps clip-grad-norm", ["--optimizer=adagrad", "--eps=1e-6", "--clip-grad-norm=0.2"],
     lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-6), 0.1, 0.2),
]


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.fc2 = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def log(msg):
    print(msg, flush=True)


def fresh_model():
    torch.manual_seed(SEED)
    return MLP()


def batches():
    rng = np.random.default_rng(SEED)
    return [(rng.standard_normal((8, 4)).astype(np.float32),
             rng.standard_normal((8, 3)).astype(np.float32)) for _ in range(STEPS)]


def lr_at(lr, step):
    return lr(step) if callable(lr) else lr


def torch_run(make_opt, lr, clip, data):
    model = fresh_model()
    opt = make_opt(model.parameters())
    for step, (x, t) in enumerate(data, start=1):
        for group in opt.param_groups:
            group["lr"] = lr_at(lr, step)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(t))
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


def export(work):
    path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(fresh_model(), (torch.zeros(8, 4),), path, input_names=["x"],
                      output_names=["y"], opset_version=13, do_constant_folding=False)
    return path


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise RuntimeError(f"{os.path.basename(cmd[0])} failed: "
                           f"{lines[-1] if lines else 'exit %d' % proc.returncode}")


def adjoint_run(tools, model_path, options, lr, data, work):
    step_path = os.path.join(work, "step.adj")
    run([tools["opt"], model_path, "--attach-loss=mse:y", "--autodiff", *options,
         "-o", step_path])
    params = {n: p.detach().numpy().copy() for n, p in fresh_model().named_parameters()}
    # Step 1 starts from zero-filled state (docs/optimizers.md: first-step conventions).
    state = {n: np.zeros_like(params[param_of(n, params)]) for n in state_input_names(step_path)}
    for step, (x, t) in enumerate(data, start=1):
        feeds = {"x": x, "target": t, "lr": np.array(lr_at(lr, step), dtype=np.float32),
                 "step": np.array(step, dtype=np.int64), **params, **state}
        in_dir = os.path.join(work, f"in{step}")
        out_dir = os.path.join(work, f"out{step}")
        os.makedirs(in_dir, exist_ok=True)
        cmd = [tools["run"], step_path, "--output-dir", out_dir]
        for name, value in feeds.items():
            p = os.path.join(in_dir, name + ".npy")
            np.save(p, value)
            cmd += ["--input", f"{name}={p}"]
        run(cmd)
        params = {n: np.load(os.path.join(out_dir, f"new.{n}.npy")) for n in params}
        state = {n: np.load(os.path.join(out_dir, f"new.{n}.npy")) for n in state}
    return params


def param_of(state_name, params):
    for p in params:
        if state_name.endswith("." + p):
            return p
    raise RuntimeError(f"state input '{state_name}' names no parameter")


def state_input_names(step_path):
    """The optimizer state inputs: the arguments of step.adj's function after `step`."""
    with open(step_path) as f:
        header = f.readline()
    args = header.split("(", 1)[1].split(") ->", 1)[0]
    names = [n.strip('"') for n in re.findall(r'%("[^"]*"|[^:,\s]+):', args)]
    return names[names.index("step") + 1:]


def compare(ours, ref):
    """(why not, or None when every parameter agrees; the largest relative error)."""
    init = {n: p.detach().numpy() for n, p in fresh_model().named_parameters()}
    worst, max_rel = None, 0.0
    for name, want in ref.items():
        got = ours[name]
        if got.shape != want.shape:
            return f"{name}: shape {got.shape}, torch {want.shape}", None
        if np.allclose(want, init[name], rtol=RTOL * 10, atol=0):
            return f"{name}: torch left it (almost) unchanged; the case tests nothing", None
        err = np.abs(got.astype(np.float64) - want)
        max_rel = max(max_rel, float(np.max(err / np.maximum(np.abs(want), ATOL / RTOL))))
        excess = err - (RTOL * np.abs(want) + ATOL)
        i = int(np.argmax(excess))
        if excess.flat[i] > 0 and (worst is None or excess.flat[i] > worst[0]):
            worst = (excess.flat[i], f"{name}[{i}]: {got.flat[i]!r}, torch {want.flat[i]!r}")
    return (worst[1] if worst else None), max_rel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--filter", help="run only cases whose name contains this")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    tools = {"opt": os.path.join(build_dir, "bin", "adjoint-opt"),
             "run": os.path.join(build_dir, "bin", "adjoint-run")}
    for t in tools.values():
        if not os.access(t, os.X_OK):
            log(f"error: {t} not found or not executable (build adjoint-opt and adjoint-run)")
            return 2
    torch.set_num_threads(1)
    root = os.path.join(build_dir, "optimizer-parity")
    os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run.", dir=root)
    passed = failed = 0
    try:
        model_path = export(work)
        data = batches()
        for i, (name, options, make_opt, lr, clip) in enumerate(CASES):
            if args.filter and args.filter not in name:
                continue
            case_dir = os.path.join(work, f"case{i}")
            os.makedirs(case_dir)
            try:
                ref = torch_run(make_opt, lr, clip, data)
                ours = adjoint_run(tools, model_path, options, lr, data, case_dir)
                why, max_rel = compare(ours, ref)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                why, max_rel = str(e), None
            if why:
                failed += 1
                log(f"FAIL {name} ({' '.join(options)}): {why}")
            else:
                passed += 1
                log(f"ok   {name} ({' '.join(options)}): max rel err {max_rel:.1e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
