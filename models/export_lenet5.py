#!/usr/bin/python3
"""LeNet-5 for 1x28x28 Fashion-MNIST images.

Conv(1->6, 5x5, pad 2)-ReLU-AvgPool-Conv(6->16, 5x5)-ReLU-AvgPool-Flatten-120-84-10, input
`input` f32[batch,1,28,28] (dynamic batch), output `logits`. Exported WITHOUT constant folding:
the flatten is `x.view(x.size(0), -1)`, which leaves a Shape->Gather->Unsqueeze->Concat->Reshape
chain in the file, so the importer's shape folding is exercised. The pools say
count_include_pad=False (the same result without padding) because PyTorch otherwise emits an
explicit Pad, which is outside Adjoint's op set.
"""
import os
import sys

import numpy as np
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import ModelSpec, main, seed_everything  # noqa: E402


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2, count_include_pad=False),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2, count_include_pad=False))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def build(seed=0):
    seed_everything(seed)
    module = LeNet5()

    def make_inputs(batch, input_seed):
        rng = np.random.default_rng(input_seed)
        return [rng.random((batch, 1, 28, 28), dtype=np.float32)]

    return ModelSpec(module, make_inputs, ["input"], ["logits"],
                     {"input": {0: "batch"}, "logits": {0: "batch"}},
                     opset=13, constant_folding=False)


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0],
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "lenet5.onnx"))
