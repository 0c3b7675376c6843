#!/usr/bin/python3
"""usage: allclose.py GOT_DIR EXPECTED_DIR [--rtol R] [--atol A]

Compares every EXPECTED_DIR/<name>.npy with GOT_DIR/<name>.npy (same shape and dtype, values
close); prints one line per output and exits non-zero on any difference.
"""
import argparse
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("got")
    ap.add_argument("expected")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--atol", type=float, default=1e-6)
    args = ap.parse_args()
    ok = True
    for name in sorted(os.listdir(args.expected)):
        want = np.load(os.path.join(args.expected, name))
        path = os.path.join(args.got, name)
        if not os.path.exists(path):
            print("%s: missing" % name)
            ok = False
            continue
        got = np.load(path)
        if got.shape != want.shape or got.dtype != want.dtype:
            print("%s: got %s%s, expected %s%s" % (name, got.dtype, got.shape, want.dtype,
                                                   want.shape))
            ok = False
        elif not np.allclose(got, want, rtol=args.rtol, atol=args.atol):
            print("%s: max abs difference %g" % (name, np.abs(got - want).max()))
            ok = False
        else:
            print("%s: ok" % name)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
