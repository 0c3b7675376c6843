#!/usr/bin/python3
"""Parity of the optimizer pass (`adjoint-opt --optimizer=...`) with torch.optim.

Each case compiles one training step with `adjoint-opt MODEL --attach-loss=LOSS --autodiff
--optimizer=KIND OPTIONS -o step.adj` and runs it for 10 steps with `adjoint-run`, each step fed
a new seeded batch, the learning rate, the step number, and the previous step's new parameters
and state (the parameters' own values and zero-filled state on step 1). torch.optim runs the same
10 steps from the same initial weights on the same batches.

Two sets of cases:
- a tiny MLP (Linear-Tanh-Linear, f32, MSE loss) under 17 option combinations, compared
  elementwise: |ours - torch| <= 1e-5 * |torch| + 1e-7 for every element of every parameter;
- the reference models (test/parity/reference_models.py: fashion MLP, LeNet-5, the transformer
  encoder classifier, ResNet-18) under SGD with momentum, Adam, AdamW, RMSprop and Adagrad, with
  cross-entropy over seeded class labels, compared norm-wise per parameter tensor after the 10
  steps: ||ours - torch|| <= 1e-5 ||torch|| (the parameter) and <= 1e-3 ||torch - init|| (its
  update: keeps the check sharp for tensors that move little, such as embedding tables).
  Elementwise bounds do not fit f32 training of these models: their gradients differ from
  PyTorch's in the last bits (other summation orders; Adjoint accumulates in double), and Adam,
  RMSprop and Adagrad divide by the gradient's own magnitude, so an element whose gradient is at
  rounding level takes a step of arbitrary size and sign in either framework. Where a tensor
  misses the bounds, torch also trains in float64: the tensor passes if ours is within the
  bounds of that exact run plus twice torch float32's own distance from it (rounding_check).
  Everything runs in eval mode (BatchNorm uses its running statistics; no --train-mode and no
  model.train()). The BatchNorm running statistics are initializers, but PyTorch buffers, not
  parameters: they are passed to --freeze.

Prints a line per case and closes with `N passed, M failed`; exits non-zero on any failure.
"""
import argparse
import copy
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402
from check_gradients import initializer_names, output_file_name  # noqa: E402

STEPS = 10
RTOL, ATOL = 1e-5, 1e-7
NORM_RTOL = 1e-5
UPDATE_RTOL = 1e-3
ELIDE_ABOVE = 64  # see compile_step
SEED = 7
NUM_CLASSES = 10

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

# The reference models and their batch sizes, and one setting per optimizer for each of them:
# (name, adjoint-opt options, torch optimizer factory of (params, lr), learning rate). The rates
# move each element by about 1e-3 per step (Adam's, RMSprop's and Adagrad's first steps are
# about lr, 10 * lr and lr per element; the tensors' elements are about 0.01-0.1): far enough that
# 1e-5 of the result is a real test, gently enough that 10 steps stay well-conditioned.
REFERENCE_MODELS = [("mlp", 8), ("lenet5", 4), ("transformer", 2), ("resnet18", 2)]
REFERENCE_OPTIMIZERS = [
    ("sgd momentum", ["--optimizer=sgd", "--momentum=0.9"],
     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.01),
    ("adam", ["--optimizer=adam"], lambda p, lr: torch.optim.Adam(p, lr=lr), 1e-3),
    ("adamw", ["--optimizer=adamw"], lambda p, lr: torch.optim.AdamW(p, lr=lr), 1e-3),
    ("rmsprop", ["--optimizer=rmsprop"], lambda p, lr: torch.optim.RMSprop(p, lr=lr), 1e-4),
    ("adagrad", ["--optimizer=adagrad"], lambda p, lr: torch.optim.Adagrad(p, lr=lr), 1e-3),
]
# SGD's step scales with the gradient: ResNet-18 in eval mode at its initialization has logits
# of about 170 and a gradient norm of about 6e3 (its parameters' norm is 2e2), where 0.01
# diverges to NaN within the 10 steps.
SGD_LR = {"resnet18": 2e-5}


def log(msg):
    print(msg, flush=True)


def lr_at(lr, step):
    return lr(step) if callable(lr) else lr


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise RuntimeError(f"{os.path.basename(cmd[0])} failed: "
                           f"{lines[-1] if lines else 'exit %d' % proc.returncode}")


# ----------------------------------------------------------------------------------------------
# Both sides

def torch_train(module, make_opt, lr, clip, batches, loss_fn):
    """Trains `module` (in place, eval mode) for the batches; returns its named parameters."""
    module.eval()
    opt = make_opt(module.parameters())
    for step, (inputs, target) in enumerate(batches, start=1):
        for group in opt.param_groups:
            group["lr"] = lr_at(lr, step)
        opt.zero_grad()
        out = module(*[torch.from_numpy(x) for x in inputs])
        loss = loss_fn(out if isinstance(out, torch.Tensor) else out[0], torch.from_numpy(target))
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        opt.step()
    return {n: p.detach().numpy().copy() for n, p in module.named_parameters()}


def step_arguments(step_path):
    """(trained parameters, frozen parameters, {state input: shape}) of step.adj's function.

    The parameters are the arguments marked `param`, trained when they have a `new.` output;
    the optimizer state inputs are the arguments after `step` (docs/optimizers.md).
    """
    with open(step_path) as f:
        header = f.readline()
    arg_text, result_text = header.rsplit(") -> (", 1)
    args = [(n.strip('"'), dims, is_param) for n, dims, is_param in
            re.findall(r'%("[^"]*"|[^:,\s]+): [a-z0-9]+\[([0-9,]*)\]( \{param)?', arg_text)]
    results = {n.strip('"') for n in re.findall(r'("[^"]*"|[^:,\s(]+): ', result_text)}
    params = [n for n, _, is_param in args if is_param]
    trained = [n for n in params if "new." + n in results]
    names = [n for n, _, _ in args]
    state = {n: tuple(int(d) for d in dims.split(",") if d)
             for n, dims, _ in args[names.index("step") + 1:]}
    return trained, [n for n in params if n not in trained], state


def compile_step(tools, model_path, compile_args, step_path):
    """Writes the training step without the parameters' data (every run feeds them), which
    spares each adjoint-run parsing ResNet-18's 90 MB of hex. Small tensors keep their data;
    if a constant of the graph itself was elided, the step is written again in full."""
    run([tools["opt"], model_path, *compile_args, f"--elide-above={ELIDE_ABOVE}",
         "-o", step_path])
    with open(step_path) as f:
        f.readline()
        body_elided = any(", elided>" in line for line in f)
    if body_elided:
        run([tools["opt"], model_path, *compile_args, "-o", step_path])


def adjoint_train(tools, model_path, compile_args, batches, input_names, lr, initial, work):
    """Compiles the step and runs it once per batch; returns the final parameters by name.

    `initial` holds the model's parameters (its initializers) by name. Step 1 is fed those and
    zero-filled state (docs/optimizers.md: first-step conventions); each later step reads the
    trained parameters and the state from the previous step's new.* files, and the frozen
    parameters from their initial values again.
    """
    step_path = os.path.join(work, "step.adj")
    compile_step(tools, model_path, compile_args, step_path)
    trained, frozen, state = step_arguments(step_path)
    init_dir = os.path.join(work, "init")
    os.makedirs(init_dir)
    init_files = {}
    for i, name in enumerate(trained + frozen):
        if name not in initial:
            raise RuntimeError(f"parameter '{name}' of the step is no initializer of the model")
        init_files[name] = os.path.join(init_dir, f"{i}.npy")
        np.save(init_files[name], initial[name])
    prev = None
    for step, (inputs, target) in enumerate(batches, start=1):
        in_dir = os.path.join(work, f"in{step}")
        out_dir = os.path.join(work, f"out{step}")
        os.makedirs(in_dir)
        feeds = {**dict(zip(input_names, inputs)), "target": target,
                 "lr": np.array(lr_at(lr, step), dtype=np.float32),
                 "step": np.array(step, dtype=np.int64)}
        if step == 1:
            feeds.update({n: np.zeros(shape, np.float32) for n, shape in state.items()})
        # The interpreter (double accumulation) is the oracle here: this checks the optimizer
        # pass's formulas, not the JIT's f32 GEMMs, whose rounding Adam-like updates amplify.
        cmd = [tools["run"], step_path, "--backend=interp", "--output-dir", out_dir]
        for i, (name, value) in enumerate(feeds.items()):
            p = os.path.join(in_dir, f"{i}.npy")
            np.save(p, value)
            cmd += ["--input", f"{name}={p}"]
        if prev:
            files = {n: new_file(prev, n) for n in trained + list(state)}
        else:
            files = {n: init_files[n] for n in trained}
        files.update({n: init_files[n] for n in frozen})
        for name, path in files.items():
            cmd += ["--input", f"{name}={path}"]
        run(cmd)
        shutil.rmtree(in_dir)
        if prev:
            shutil.rmtree(prev)
        prev = out_dir
    return {n: np.load(new_file(prev, n)) for n in trained}


def initializers(model_path):
    return {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(model_path).graph.initializer}


def new_file(out_dir, name):
    return os.path.join(out_dir, output_file_name("new." + name) + ".npy")


# ----------------------------------------------------------------------------------------------
# The tiny MLP under every option combination

class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.fc2 = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def fresh_model():
    torch.manual_seed(SEED)
    return MLP()


def tiny_batches():
    rng = np.random.default_rng(SEED)
    return [([rng.standard_normal((8, 4)).astype(np.float32)],
             rng.standard_normal((8, 3)).astype(np.float32)) for _ in range(STEPS)]


def export_tiny(work):
    path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(fresh_model(), (torch.zeros(8, 4),), path, input_names=["x"],
                      output_names=["y"], opset_version=13, do_constant_folding=False)
    return path


def compare_elementwise(ours, ref, init):
    """(why not, or None when every parameter agrees; the largest relative error)."""
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


def tiny_cases(tools, work, selected):
    model_path = export_tiny(work)
    initial = initializers(model_path)
    data = tiny_batches()
    init = {n: p.detach().numpy().copy() for n, p in fresh_model().named_parameters()}
    for i, (name, options, make_opt, lr, clip) in enumerate(CASES):
        if not selected(name):
            continue
        case_dir = os.path.join(work, f"tiny{i}")
        os.makedirs(case_dir)
        try:
            ref = torch_train(fresh_model(), make_opt, lr, clip, data, F.mse_loss)
            ours = adjoint_train(tools, model_path,
                                 ["--attach-loss=mse:y", "--autodiff", *options],
                                 data, ["x"], lr, initial, case_dir)
            why, max_rel = compare_elementwise(ours, ref, init)
        except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
            why, max_rel = str(e), None
        finally:
            shutil.rmtree(case_dir, ignore_errors=True)
        label = f"{name} ({' '.join(options)})"
        yield (False, f"{label}: {why}") if why else \
            (True, f"{label}: max rel err {max_rel:.1e}")


# ----------------------------------------------------------------------------------------------
# The reference models under each optimizer

def reference_batches(spec, batch):
    rng = np.random.default_rng(SEED)
    return [(spec.make_inputs(batch, SEED + step),
             rng.integers(0, NUM_CLASSES, size=batch).astype(np.int64))
            for step in range(STEPS)]


def frozen_initializers(initial, names):
    """The float initializers that are no PyTorch parameter (BatchNorm running statistics)."""
    trained = {iname for iname, _ in names.values()}
    return [n for n, v in initial.items() if v.dtype.kind == "f" and n not in trained]


def aligned(ours, names, pname):
    """Our result for PyTorch parameter `pname`, laid out as PyTorch's (float64)."""
    iname, transposed = names[pname]
    got = ours[iname].T if transposed else ours[iname]
    return got.astype(np.float64)


def distances(ours, ref, init, names):
    """{parameter: (||ours - torch||, ||torch||, ||torch - init||)}."""
    result = {}
    for pname, want in ref.items():
        got = aligned(ours, names, pname)
        if got.shape != want.shape:
            raise ValueError(f"{pname}: shape {got.shape}, torch {want.shape}")
        if not np.all(np.isfinite(want)):
            raise ValueError(f"{pname}: torch's result is not finite (the rate is too high)")
        want = want.astype(np.float64)
        result[pname] = (np.linalg.norm(got - want), np.linalg.norm(want),
                         np.linalg.norm(want - init[pname]))
    return result


def allowed(norm, moved):
    """How far from torch a parameter may end: 1e-5 of it and 1e-3 of its update."""
    return min(NORM_RTOL * norm, UPDATE_RTOL * moved)


def rounding_check(bad, ours, ref, ref64, init, names):
    """Checks the tensors in `bad` against a float64 run of PyTorch; (failures, notes).

    Where PyTorch's own float32 result is far from its float64 result (Adam's and Adagrad's
    steps on a gradient that is mathematically zero, such as attention's key bias, are rounding
    noise divided by itself; ResNet-18's gradients carry enough float32 noise for some elements'
    signs), agreeing with torch's float32 result would mean reproducing its rounding. Such a
    tensor passes when ours is within the tolerances of the float64 result plus twice torch's
    own float32 distance from it: no further from the exact training run than torch is, give or
    take the spread of two independently rounded runs.
    """
    failures, notes = [], []
    for pname in bad:
        exact = ref64[pname]
        ours_dist = np.linalg.norm(aligned(ours, names, pname) - exact)
        torch_dist = np.linalg.norm(ref[pname] - exact)
        norm = np.linalg.norm(exact)
        ok = ours_dist <= allowed(norm, np.linalg.norm(exact - init[pname])) + 2 * torch_dist
        text = (f"{pname}: {ours_dist / norm:.1e} from torch float64, torch float32 "
                f"{torch_dist / norm:.1e}")
        (notes if ok else failures).append((ours_dist / norm, text))
    return sorted(failures, reverse=True), sorted(notes, reverse=True)


def run_reference_case(tools, path, spec, names, initial, compile_args, data, optimizer, lr,
                       work):
    """(failure or None, line of errors)."""
    _, options, make_opt, _ = optimizer
    init = {n: p.detach().numpy().astype(np.float64) for n, p in spec.module.named_parameters()}
    ref = torch_train(copy.deepcopy(spec.module), lambda p: make_opt(p, lr), lr, None, data,
                      F.cross_entropy)
    ours = adjoint_train(tools, path, compile_args + options, data, spec.input_names, lr,
                         initial, work)
    dist = distances(ours, ref, init, names)
    p_err, p_name = max((d / norm, n) for n, (d, norm, _) in dist.items())
    u_err, u_name = max((d / moved if moved else float(d > 0) * np.inf, n)
                        for n, (d, _, moved) in dist.items())
    line = f"param err {p_err:.1e} ({p_name}), update err {u_err:.1e} ({u_name})"
    bad = [n for n, (d, norm, moved) in dist.items() if not d <= allowed(norm, moved)]
    if not bad:
        return None, line
    data64 = [([x.astype(np.float64) if x.dtype == np.float32 else x for x in inputs], target)
              for inputs, target in data]
    ref64 = torch_train(copy.deepcopy(spec.module).double(), lambda p: make_opt(p, lr), lr, None,
                        data64, F.cross_entropy)
    failures, notes = rounding_check(bad, ours, ref, ref64, init, names)
    if failures:
        return (f"{len(failures)} parameters beyond the tolerance, also against float64, "
                f"e.g. {failures[0][1]}"), line
    return None, (f"{line}; {len(notes)} beyond, but as close to torch float64 as torch float32 "
                  f"is, e.g. {notes[0][1]}")


def reference_cases(tools, build_dir, work, selected):
    for model, batch in REFERENCE_MODELS:
        todo = [o for o in REFERENCE_OPTIMIZERS if selected(f"{model} {o[0]}")]
        if not todo:
            continue
        try:
            path, spec = reference_models.exported(model, build_dir)
        except (RuntimeError, OSError, ValueError) as e:
            for optimizer in todo:
                yield False, f"{model} {optimizer[0]}: export failed: {e}"
            continue
        names = initializer_names(path, spec.module)
        missing = [n for n, _ in spec.module.named_parameters() if n not in names]
        data = reference_batches(spec, batch)
        compile_args = [f"--dim=batch={batch}", "--attach-loss=cross-entropy", "--autodiff"]
        initial = initializers(path)
        freeze = frozen_initializers(initial, names)
        if freeze:
            compile_args.append("--freeze=" + ",".join(freeze))
        for optimizer in todo:
            opt_name, lr = optimizer[0], optimizer[3]
            if opt_name.startswith("sgd"):
                lr = SGD_LR.get(model, lr)
            label = f"{model} {opt_name} (lr {lr:g})"
            if missing:
                yield False, f"{label}: no initializer found for parameter {missing[0]}"
                continue
            case_dir = os.path.join(work, f"{model}-{opt_name.replace(' ', '-')}")
            os.makedirs(case_dir)
            start = time.time()
            try:
                why, line = run_reference_case(tools, path, spec, names, initial, compile_args,
                                               data, optimizer, lr, case_dir)
            except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                why, line = str(e), None
            finally:
                shutil.rmtree(case_dir, ignore_errors=True)
            msg = f"{label}: " + (f"{line} [{time.time() - start:.1f}s]" if line else "")
            yield (False, f"{msg}{': ' if line else ''}{why}") if why else (True, msg)


def make_work_dir(build_dir):
    """ResNet-18's parameters and state go through files at every step (about 140 MB each way):
    a RAM-backed /dev/shm keeps the disk out of it when it has room, else the build dir."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and \
            shutil.disk_usage(shm).free > 2 * 2**30:
        return tempfile.mkdtemp(prefix="adjoint-optimizer-parity.", dir=shm)
    root = os.path.join(build_dir, "optimizer-parity")
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix="run.", dir=root)


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
    work = make_work_dir(build_dir)
    # ctest's timeout sends SIGTERM: leave through the `finally` that removes the work files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    def selected(name):
        return not args.filter or args.filter in name

    passed = failed = 0
    try:
        for ok, msg in itertools.chain(tiny_cases(tools, work, selected),
                                       reference_cases(tools, build_dir, work, selected)):
            log(f"{'ok  ' if ok else 'FAIL'} {msg}")
            passed += ok
            failed += not ok
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
