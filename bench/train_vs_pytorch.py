#!/usr/bin/python3
"""adjoint-train against PyTorch, side by side, on the same training.

Both start from the same initial weights (the model file's initializers, loaded into the
PyTorch module its models/export_*.py script builds), see the same examples in the same order
(adjoint-train's per-epoch shuffle, SplitMix64 + Fisher-Yates, replayed here), with the same
normalisation (x/255), loss (cross-entropy, batch mean), optimizer and hyperparameters. The script
runs adjoint-train, then the same loop in PyTorch, and prints the test accuracy and loss after
every epoch for both, and the difference. Not a test: it prints, it asserts nothing.

  bench/train_vs_pytorch.py --model mlp --epochs 1
  bench/train_vs_pytorch.py --model lenet5 --epochs 2 --train 20000
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))

MODELS = {  # name -> (export script module, checked-in file)
    "mlp": ("export_mlp", "fashion_mlp.onnx"),
    "lenet5": ("export_lenet5", "lenet5.onnx"),
    "cnn_bn": ("export_cnn_bn", "fashion_cnn_bn.onnx"),
}
FASHION = "/usr/share/datasets/fashion-mnist"
M64 = (1 << 64) - 1


# ---- adjoint-train's data order (runtime/data/Shuffle.cpp)

def _splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def _stream_seed(seed, stream):
    return _splitmix(seed ^ ((stream * 0xD1B54A32D192ED03) & M64))[1]


def epoch_order(n, seed, epoch):
    state = _stream_seed(seed, 1000 + epoch)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        bound = i + 1
        limit = M64 - M64 % bound
        while True:
            state, v = _splitmix(state)
            if v < limit:
                break
        j = v % bound
        order[i], order[j] = order[j], order[i]
    return order


# ---- data and model

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(train_limit, test_limit):
    xs = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz")[:train_limit]
    ys = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz")[:train_limit]
    xt = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz")[:test_limit]
    yt = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")[:test_limit]
    return xs, ys.astype(np.int64), xt, yt.astype(np.int64)


def torch_module(name, onnx_path):
    script = __import__(MODELS[name][0])
    module = script.build(0).module
    model = onnx.load(onnx_path)
    inits = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy())
             for t in model.graph.initializer}
    state = module.state_dict()
    missing = [k for k in state if k not in inits and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"{onnx_path} lacks initializers for {missing}")
    module.load_state_dict({k: inits.get(k, v) for k, v in state.items()})
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    return module, shape


def evaluate(module, xt, yt, shape, batch):
    module.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for b in range(0, len(xt), batch):
            x = torch.from_numpy(xt[b:b + batch].astype(np.float32) / 255).reshape(-1, *shape)
            y = torch.from_numpy(yt[b:b + batch])
            out = module(x)
            loss_sum += torch.nn.functional.cross_entropy(out, y).item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
    return loss_sum / len(xt), correct / len(xt)


def make_optimizer(args, params):
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr)
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)
    sys.exit(f"unsupported optimizer {args.optimizer}")


def train_pytorch(args, onnx_path, data):
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    xs, ys, xt, yt = data
    module, shape = torch_module(args.model, onnx_path)
    opt = make_optimizer(args, module.parameters())
    results = []
    start = time.time()
    for epoch in range(args.epochs):
        module.train()
        order = np.array(epoch_order(len(xs), args.seed, epoch))
        for b in range(0, len(order), args.batch):
            idx = order[b:b + args.batch]
            x = torch.from_numpy(xs[idx].astype(np.float32) / 255).reshape(-1, *shape)
            loss = torch.nn.functional.cross_entropy(module(x), torch.from_numpy(ys[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        results.append(evaluate(module, xt, yt, shape, args.batch))
    return results, time.time() - start


def train_adjoint(args, onnx_path):
    tool = os.path.join(args.build_dir, "bin", "adjoint-train")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        cmd = [tool, onnx_path, f"--data=fashion-mnist,train={args.train},test={args.test}",
               f"--epochs={args.epochs}", f"--batch={args.batch}", f"--optimizer={args.optimizer}",
               f"--lr={args.lr}", f"--seed={args.seed}", f"--threads={args.threads}",
               "--progress=none", f"--log={log}"]
        if args.optimizer == "sgd" and args.momentum:
            cmd.append(f"--momentum={args.momentum}")
        start = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        seconds = time.time() - start
        with open(log) as f:
            tests = [json.loads(line) for line in f if '"type":"test"' in line]
    return [(t["loss"], t["accuracy"]) for t in tests], seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="mlp")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=60000, help="first N training examples")
    ap.add_argument("--test", type=int, default=10000, help="first N test examples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()

    onnx_path = os.path.join(ROOT, "models", MODELS[args.model][1])
    data = load_fashion(args.train, args.test)
    ours, ours_s = train_adjoint(args, onnx_path)
    theirs, theirs_s = train_pytorch(args, onnx_path, data)
    print(f"{args.model}: {args.optimizer} lr {args.lr}, batch {args.batch}, "
          f"{len(data[0])} training / {len(data[2])} test examples, seed {args.seed}")
    print(f"{'epoch':>5}  {'adjoint-train':>20}  {'pytorch':>20}  {'accuracy diff':>13}")
    for e, ((la, aa), (lp, ap_)) in enumerate(zip(ours, theirs), 1):
        print(f"{e:>5}  {100 * aa:>8.2f}%  loss {la:.4f}  {100 * ap_:>8.2f}%  loss {lp:.4f}"
              f"  {100 * (aa - ap_):>+10.2f} pp")
    print(f"wall time: adjoint-train {ours_s:.1f} s (process, compile and evaluation included), "
          f"pytorch {theirs_s:.1f} s ({args.threads} threads)")


if __name__ == "__main__":
    main()
