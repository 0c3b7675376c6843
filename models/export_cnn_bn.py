#!/usr/bin/python3
"""fashion_cnn_bn: a small CNN with BatchNormalization for 1x28x28 Fashion-MNIST images.

Conv(1->16, 3x3, pad 1)-BN-ReLU-MaxPool(2)-Conv(16->32, 3x3, pad 1)-BN-ReLU-MaxPool(2)-Flatten-
Linear(32*7*7 -> 10); input `input` f32[batch,1,28,28] (dynamic batch), output `logits`. About
21k parameters (85 KB). Exported at opset 15 in eval mode with the BatchNormalization nodes kept
(export_common.export), so adjoint-train's training step switches them to batch statistics and
updates the running statistics (momentum 0.1, as PyTorch). BatchNorm's constant initial
weights, biases and statistics are perturbed with seeded noise (make_parameters_distinct):
otherwise the export would merge, say, bn1.weight and bn1.running_var (both 16 ones) into one
initializer.
"""
import os
import sys

import numpy as np
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import ModelSpec, main, make_parameters_distinct, seed_everything  # noqa: E402


def build(seed=0):
    seed_everything(seed)
    module = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    make_parameters_distinct(module, seed)

    def make_inputs(batch, input_seed):
        rng = np.random.default_rng(input_seed)
        return [rng.random((batch, 1, 28, 28), dtype=np.float32)]

    return ModelSpec(module, make_inputs, ["input"], ["logits"],
                     {"input": {0: "batch"}, "logits": {0: "batch"}},
                     opset=15, constant_folding=True)


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0],
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_cnn_bn.onnx"))
