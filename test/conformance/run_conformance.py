#!/usr/bin/python3
"""Runs the ONNX backend node tests through `adjoint-run` and checks the must-pass list.

The test data is generated once from python3-onnx's generators into BUILD/conformance-data
(generate_data.py), and ONNX's "simple" model tests (test_gradient_of_add, ...) into
BUILD/conformance-data-simple (generate_simple.py). Each test's model.onnx is run with its test_data_set_N inputs and every
output is compared with the expected one: floats at rtol 1e-4 / atol 1e-5, everything else
exactly; shapes and dtypes must match. A test is

  passed       every output matched,
  unsupported  adjoint-run refused it saying "unsupported" or "not supported" (an op or dtype
               Adjoint lacks),
  failed       anything else: wrong values, a crash, another error, a timeout.

Shapes are static per compilation, so operands that shape the result (Reshape's shape, Slice's
starts/ends/axes/steps, Squeeze/Unsqueeze/Reduce axes, Split's split, Expand's shape) must be
compile-time constants. Many node tests pass those as graph inputs; the harness freezes such an
input into an initializer holding the test's value (the model is compiled for exactly that
value), and feeds the rest as inputs.

The run fails when a test on the must-pass list (must_pass.txt) did not pass. Lines of that
list are test names; `#` starts a comment, and `# exclude TEST: REASON` records why a test of
our op set is not expected to pass (read by --report-missing).
"""
import argparse
import concurrent.futures
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import opset  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
DEFAULT_LIST = os.path.join(HERE, "must_pass.txt")
EXCLUDE_RE = re.compile(r"^#\s*exclude\s+(test_\w+)\s*:\s*(.*)$")


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Test data


def ensure_data(build_dir, generator="generate_data.py", folder="conformance-data", kind="node"):
    """BUILD/conformance-data/node, generated when missing or made by another generator (and
    likewise BUILD/conformance-data-simple/simple, ONNX's simple model tests)."""
    data_dir = os.path.join(build_dir, folder)
    gen = os.path.join(HERE, generator)
    with open(gen, "rb") as f:
        stamp = f"onnx {onnx.__version__} numpy {np.__version__} " \
                f"generator {hashlib.sha256(f.read()).hexdigest()[:16]}"
    stamp_file = os.path.join(data_dir, "STAMP")
    os.makedirs(build_dir, exist_ok=True)
    # Two runs on one build tree must not generate into the same folder at once.
    with open(os.path.join(build_dir, "conformance-data.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(stamp_file) and open(stamp_file).read().strip() == stamp):
            log(f"generating ONNX {onnx.__version__} {kind} test data into {data_dir}")
            subprocess.run([sys.executable, gen, data_dir], check=True)
            with open(stamp_file, "w") as f:
                f.write(stamp + "\n")
    return os.path.join(data_dir, kind)


# Defects of the ONNX 1.12 generators' test data, fixed in the model as upstream fixed them.
MODEL_FIXES = {
    # onnx#7749 (fixed by onnx#7763): the expected outputs were computed with epsilon=1e-2, but
    # the node was made without it, so the model says epsilon=1e-6 (the default).
    "test_adam_multiple": lambda m: m.graph.node[0].attribute.append(
        onnx.helper.make_attribute("epsilon", 1e-2)),
}


class Case:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.model = onnx.load(os.path.join(path, "model.onnx"))
        inits = {t.name for t in self.model.graph.initializer}
        self.inputs = [i.name for i in self.model.graph.input if i.name not in inits]
        self.outputs = [o.name for o in self.model.graph.output]
        self.data_sets = sorted(d for d in os.listdir(path) if d.startswith("test_data_set_"))
        self.in_op_set = opset.in_op_set(self.model)
        self.frozen = opset.compile_time_inputs(self.model, self.inputs)
        self.patched = name in MODEL_FIXES
        if self.patched:
            MODEL_FIXES[name](self.model)

    def op(self):
        """The op this test is about (for an _expanded test: the op it expands)."""
        if self.name.endswith("_expanded"):
            base = os.path.join(os.path.dirname(self.path), self.name[:-len("_expanded")])
            if os.path.exists(os.path.join(base, "model.onnx")):
                return opset.main_op(onnx.load(os.path.join(base, "model.onnx")))
        return opset.main_op(self.model)


def load_cases(node_dir, name_filter):
    rx = re.compile(name_filter) if name_filter else None
    names = sorted(n for n in os.listdir(node_dir)
                   if os.path.exists(os.path.join(node_dir, n, "model.onnx")))
    return [Case(n, os.path.join(node_dir, n)) for n in names if rx is None or rx.search(n)]


# ---------------------------------------------------------------------------------------------
# Running one test


def compare(name, got, want):
    """None when `got` matches `want`, else why not."""
    if got.dtype != want.dtype:
        return f"output '{name}': dtype {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"output '{name}': shape {list(got.shape)}, expected {list(want.shape)}"
    if got.size == 0:
        return None
    if np.issubdtype(want.dtype, np.floating):
        g, w = got.astype(np.float64), want.astype(np.float64)
        same_nan = np.isnan(g) == np.isnan(w)
        with np.errstate(invalid="ignore"):
            close = np.isclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True)
        bad = ~(close & same_nan)
        if bad.any():
            idx = np.unravel_index(np.argmax(bad), bad.shape)
            err = np.nanmax(np.where(bad, np.abs(g - w), 0.0))
            return (f"output '{name}': {int(bad.sum())}/{bad.size} values differ; max abs err "
                    f"{err:.3g}; first at {list(map(int, idx))}: got {g[idx]!r}, "
                    f"expected {w[idx]!r}")
        return None
    bad = got != want
    if bad.any():
        idx = np.unravel_index(np.argmax(bad), bad.shape)
        return (f"output '{name}': {int(bad.sum())}/{bad.size} values differ; first at "
                f"{list(map(int, idx))}: got {got[idx]!r}, expected {want[idx]!r}")
    return None


def freeze_inputs(case, ds_dir, out_dir):
    """A copy of the model whose compile-time inputs are initializers with this data set's
    values; returns its path (inside out_dir, under a name no output can take)."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    keep = [vi for vi in model.graph.input if vi.name not in case.frozen]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    for j, name in enumerate(case.inputs):
        if name in case.frozen:
            t = onnx.TensorProto()
            with open(os.path.join(ds_dir, f"input_{j}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            t.name = name
            model.graph.initializer.append(t)
    path = os.path.join(out_dir, "frozen-model.onnx")
    onnx.save(model, path)
    return path


def unsupported_line(text):
    for line in text.splitlines():
        low = line.lower()
        if "unsupported" in low or "not supported" in low:
            return line.strip()
    return None


def unsupported_causes(reason):
    """Short causes of an "unsupported" message, for the summary: op X, dtype Y, ..."""
    m = re.search(r"unsupported ops?: (.*)", reason)
    if m:
        return sorted({f"op {op}" for op in re.findall(r"(\w+) \(node [^)]*\)", m.group(1))}) \
            or [m.group(0)]
    m = re.search(r"tensor type (\w+) is not supported", reason)
    if m:
        return [f"dtype {m.group(1).lower()}"]
    m = re.search(r"unsupported target type 'to' = (\d+)", reason)
    if m:
        code = int(m.group(1))
        known = code in onnx.TensorProto.DataType.values()
        return [f"Cast to {onnx.TensorProto.DataType.Name(code).lower() if known else code}"]
    if "segmented tensors" in reason:
        return ["sequence/optional values"]
    return [reason.rsplit(": ", 1)[-1]]


def error_reason(rc, stderr):
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        return f"crashed ({sig})" + (f": {lines[-1]}" if lines else "")
    return f"exit {rc}: " + (lines[-1] if lines else "(no message)")


def run_case(case, tool, backend, timeout, scratch):
    """(status, reason) for one test."""
    for ds in case.data_sets:
        ds_dir = os.path.join(case.path, ds)
        n_in = len([f for f in os.listdir(ds_dir) if f.startswith("input_")])
        if n_in != len(case.inputs):
            return "failed", f"{ds}: {n_in} input files for {len(case.inputs)} graph inputs"
        out_dir = tempfile.mkdtemp(prefix=case.name + ".", dir=scratch)
        try:
            model_path = os.path.join(case.path, "model.onnx")
            if case.frozen or case.patched:
                model_path = freeze_inputs(case, ds_dir, out_dir)
            cmd = [tool, model_path, f"--backend={backend}", "--output-dir", out_dir]
            for j, name in enumerate(case.inputs):
                if name not in case.frozen:
                    cmd += ["--input", f"{name}={os.path.join(ds_dir, f'input_{j}.pb')}"]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                      errors="replace")
            except subprocess.TimeoutExpired:
                return "failed", f"timed out after {timeout}s"
            if proc.returncode != 0:
                # Paths inside the data folder only make the reasons long.
                stderr = proc.stderr.replace(model_path, f"{case.name}/model.onnx")
                stderr = stderr.replace(os.path.dirname(case.path) + os.sep, "")
                msg = unsupported_line(stderr)
                if msg and proc.returncode > 0:
                    return "unsupported", msg
                return "failed", error_reason(proc.returncode, stderr)
            for j, name in enumerate(case.outputs):
                want_pb = onnx.TensorProto()
                with open(os.path.join(ds_dir, f"output_{j}.pb"), "rb") as f:
                    want_pb.ParseFromString(f.read())
                want = numpy_helper.to_array(want_pb)
                # adjoint-run's file naming: other characters become '_'.
                got_path = os.path.join(out_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy")
                if not os.path.exists(got_path):
                    return "failed", f"no output file for graph output '{name}'"
                try:
                    got = np.load(got_path, allow_pickle=False)
                except Exception as e:  # noqa: BLE001 - a malformed .npy is a test failure
                    return "failed", f"output '{name}': unreadable .npy ({e})"
                why = compare(name, got, want)
                if why:
                    return "failed", (f"{ds}: {why}" if len(case.data_sets) > 1 else why)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
    return "passed", ""


def run_all(cases, tool, backend, timeout, jobs, scratch):
    results = {}
    lock = threading.Lock()
    total = len(cases)
    step = max(1, min(50, total // 10 or 1))

    def one(case):
        try:
            res = run_case(case, tool, backend, timeout, scratch)
        except Exception as e:  # noqa: BLE001 - a harness error fails the test, not the run
            res = ("failed", f"harness error: {type(e).__name__}: {e}")
        with lock:
            results[case.name] = res
            done = len(results)
            if done % step == 0 or done == total:
                counts = tally(results)
                log(f"progress: {done}/{total} run ({counts['passed']} passed, "
                    f"{counts['failed']} failed, {counts['unsupported']} unsupported)")

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, cases))
    return results


def tally(results):
    counts = {"passed": 0, "failed": 0, "unsupported": 0}
    for status, _ in results.values():
        counts[status] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# The must-pass list


def read_list(path):
    """(test names, {excluded test: reason}, comment lines) of a must-pass list."""
    names, excluded, comments = [], {}, []
    if not os.path.exists(path):
        return names, excluded, comments
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                comments.append(line)
                m = EXCLUDE_RE.match(stripped)
                if m:
                    excluded[m.group(1)] = m.group(2)
                continue
            names.append(stripped.split("#", 1)[0].strip())
    return names, excluded, comments


def write_list(path, passing, comments):
    with open(path + ".tmp", "w") as f:
        for c in comments:
            f.write(c + "\n")
        for n in sorted(passing):
            f.write(n + "\n")
    os.replace(path + ".tmp", path)


def print_exclusions(cases):
    """`# exclude` lines for the op-set tests that cannot pass, to paste into the list."""
    for c in cases:
        if c.in_op_set:
            why = opset.exclusion_reason(c.name, c.model)
            if why:
                log(f"# exclude {c.name}: {why}")


def report_missing(cases, results, excluded):
    """Op-set tests neither passing nor excluded, grouped by op, with the reason."""
    by_op = {}
    for c in cases:
        if not c.in_op_set or c.name in excluded:
            continue
        status, reason = results.get(c.name, ("failed", "not run"))
        if status != "passed":
            by_op.setdefault(c.op(), []).append((c.name, status, reason))
    n = sum(len(v) for v in by_op.values())
    log(f"== {n} tests of the op set neither pass nor are excluded ==")
    for op in sorted(by_op):
        log(f"{op}:")
        for name, status, reason in by_op[op]:
            log(f"  {name}: {status}: {reason}")
    return n


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--filter", help="run only tests whose name matches this regex")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=120, help="seconds per test")
    ap.add_argument("--list-file", default=DEFAULT_LIST)
    ap.add_argument("--update-list", action="store_true",
                    help="rewrite the list with the tests that pass now (keeps comments)")
    ap.add_argument("--report-missing", action="store_true",
                    help="run the op-set tests and print those neither passing nor excluded")
    ap.add_argument("--print-exclusions", action="store_true",
                    help="print `# exclude` lines for op-set tests that cannot pass")
    ap.add_argument("--op-set-only", action="store_true", help="run only the op-set tests")
    ap.add_argument("--verbose", action="store_true", help="also list each unsupported test")
    ap.add_argument("--adjoint-run", help="the tool (default BUILD/bin/adjoint-run)")
    args = ap.parse_args()

    build_dir = os.path.abspath(args.build_dir)
    node_dir = ensure_data(build_dir)
    simple_dir = ensure_data(build_dir, "generate_simple.py", "conformance-data-simple", "simple")
    cases = load_cases(node_dir, args.filter) + load_cases(simple_dir, args.filter)
    if args.op_set_only or args.report_missing:
        cases = [c for c in cases if c.in_op_set]
    if args.print_exclusions:
        print_exclusions(cases)
        return 0

    tool = args.adjoint_run or os.path.join(build_dir, "bin", "adjoint-run")
    if not os.access(tool, os.X_OK):
        log(f"error: {tool} not found or not executable (build the adjoint-run target)")
        return 2

    must, excluded, comments = read_list(args.list_file)
    for name in sorted(set(must) & set(excluded)):
        log(f"warning: {name} is both on the must-pass list and excluded")
    scratch = os.path.join(build_dir, "conformance-scratch")
    os.makedirs(scratch, exist_ok=True)
    log(f"running {len(cases)} ONNX node and simple model tests with {tool} "
        f"--backend={args.backend} ({args.jobs} jobs)")
    results = run_all(cases, tool, args.backend, args.timeout, args.jobs, scratch)

    with open(os.path.join(build_dir, "conformance-results.json"), "w") as f:
        json.dump({n: {"status": s, "reason": r} for n, (s, r) in sorted(results.items())}, f,
                  indent=1)

    unsupported = {}
    for name in sorted(results):
        status, reason = results[name]
        if status == "failed":
            log(f"FAILED {name}: {reason}")
        elif status == "unsupported":
            for cause in unsupported_causes(reason):
                unsupported[cause] = unsupported.get(cause, 0) + 1
            if args.verbose:
                log(f"UNSUPPORTED {name}: {reason}")
    if unsupported:
        causes = sorted(unsupported, key=lambda c: (-unsupported[c], c))
        text = "unsupported, by cause (tests): " + ", ".join(
            f"{c} ({unsupported[c]})" for c in causes)
        for line in textwrap.wrap(text, 100, subsequent_indent="  ", break_long_words=False):
            log(line)

    if args.report_missing:
        report_missing(cases, results, excluded)

    if args.update_list:
        passing = [n for n, (s, _) in results.items() if s == "passed"]
        if args.filter or args.op_set_only or args.report_missing:
            # A partial run keeps the listed tests it did not run.
            passing += [n for n in must if n not in results]
        write_list(args.list_file, set(passing), comments)
        log(f"wrote {len(set(passing))} tests to {args.list_file}")

    regressions = []
    if not args.update_list:
        known = set(os.listdir(node_dir)) | set(os.listdir(simple_dir))
        for name in must:
            if name not in known:
                regressions.append(f"{name}: no such test")
            elif name in results and results[name][0] != "passed":
                regressions.append(f"{name}: {results[name][0]}")
    if regressions:
        log(f"{len(regressions)} tests on the must-pass list {os.path.basename(args.list_file)} "
            f"did not pass:")
        for r in regressions:
            log(f"  MUST-PASS {r}")

    counts = tally(results)
    log(f"{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['unsupported']} unsupported")
    if args.report_missing:
        return 0
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
