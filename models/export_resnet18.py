#!/usr/bin/python3
"""torchvision ResNet-18 with 10 classes for 3x32x32 (CIFAR-sized) input.

Input `input` f32[batch,3,32,32] (dynamic batch), output `logits`. About 45 MB, so it is
generated into the build tree at test time rather than checked in. Exported at opset 15 in eval
mode with constant folding; the BatchNormalization nodes stay (see export_common.export), and
the BatchNorm weights and statistics are perturbed so that none are equal
(make_parameters_distinct).
"""
import os
import sys

import numpy as np
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import ModelSpec, main, make_parameters_distinct, seed_everything  # noqa: E402


def build(seed=0):
    seed_everything(seed)
    module = torchvision.models.resnet18(weights=None, num_classes=10)
    make_parameters_distinct(module, seed)

    def make_inputs(batch, input_seed):
        rng = np.random.default_rng(input_seed)
        return [rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)]

    return ModelSpec(module, make_inputs, ["input"], ["logits"],
                     {"input": {0: "batch"}, "logits": {0: "batch"}},
                     opset=15, constant_folding=True)


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0], "resnet18.onnx")
