#!/usr/bin/python3
"""Runs the hostile-model corpus (make_hostile.py) through the tools and checks each answer:
exit status 1 (an error, not a signal or a sanitizer abort), exactly one "TOOL: error:" line on
stderr, which names the file and matches the case's expected message, and nothing from a
sanitizer; the few valid cases (status 0) must succeed. usage: run_hostile.py --build-dir BUILD"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hostile  # noqa: E402


def check(case, bin_dir, case_dir):
    tool = case["tool"]
    args = [a.replace("{dir}", case_dir) for a in case["args"]]
    try:
        r = subprocess.run([os.path.join(bin_dir, tool)] + args, capture_output=True, text=True,
                           timeout=120, cwd=case_dir)
    except subprocess.TimeoutExpired:
        return "timed out after 120 s"
    err = r.stderr
    if r.returncode < 0:
        return f"killed by signal {-r.returncode}\n{err}"
    if r.returncode != case["status"]:
        return f"exit status {r.returncode}, expected {case['status']}\n{err}"
    if "Sanitizer" in err or "runtime error:" in err:
        return f"sanitizer report\n{err}"
    if case["status"] == 0:
        return None
    errors = [line for line in err.splitlines() if f"{tool}: error:" in line]
    if len(errors) != 1:
        return f"expected one '{tool}: error:' line, got {len(errors)}\n{err}"
    line = errors[0]
    if not re.search(case["expect"], line):
        return f"message does not match /{case['expect']}/:\n{line}"
    if case["names_file"] not in line:
        return f"message does not name {case['names_file']}:\n{line}"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    opts = ap.parse_args()
    build = os.path.abspath(opts.build_dir)
    out = os.path.join(build, "hostile")
    cases = make_hostile.write(out)
    failures = 0
    for c in cases:
        problem = check(c, os.path.join(build, "bin"), os.path.join(out, c["name"]))
        print(f"{'FAIL' if problem else 'ok  '} {c['name']}")
        if problem:
            failures += 1
            print("  " + problem.replace("\n", "\n  "))
    print(f"hostile: {len(cases) - failures} of {len(cases)} cases answered as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
