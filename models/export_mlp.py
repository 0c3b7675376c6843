#!/usr/bin/python3
"""fashion_mlp: a 784-512-256-10 ReLU MLP for flattened 28x28 Fashion-MNIST images.

Input `input` f32[batch,784] (dynamic batch), output `logits` f32[batch,10]. Parameters are
PyTorch's default initialization under --seed (the model is trained by Adjoint, not here).
"""
import os
import sys

import numpy as np
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import ModelSpec, main, seed_everything  # noqa: E402


def build(seed=0):
    seed_everything(seed)
    module = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 256), nn.ReLU(),
        nn.Linear(256, 10))

    def make_inputs(batch, input_seed):
        rng = np.random.default_rng(input_seed)
        return [rng.random((batch, 784), dtype=np.float32)]

    return ModelSpec(module, make_inputs, ["input"], ["logits"],
                     {"input": {0: "batch"}, "logits": {0: "batch"}},
                     opset=13, constant_folding=True)


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0],
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_mlp.onnx"))
