#!/usr/bin/python3
"""A small transformer encoder classifier over token sequences.

Token ids `tokens` i64[batch,64] (dynamic batch) -> nn.Embedding(1000, 128) (a Gather) + a
learned positional embedding -> 2 x nn.TransformerEncoderLayer(d_model=128, nhead=4,
dim_feedforward=256, dropout=0, batch_first) -> mean over the sequence -> Linear to 10 `logits`.
Exported in eval mode at opset 17 (nn.LayerNorm becomes LayerNormalization).

torch 1.13's TransformerEncoderLayer takes a fused "fast path" (aten::_transformer_encoder_
layer_fwd, which the exporter cannot express) in eval mode under no_grad; the export runs with
grad enabled so the layers trace through their ordinary ops instead.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_common import ModelSpec, main, make_parameters_distinct, seed_everything  # noqa: E402

VOCAB, SEQ, D_MODEL, HEADS, FF, LAYERS, CLASSES = 1000, 64, 128, 4, 256, 2, 10


class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.randn(1, SEQ, D_MODEL) * 0.02)
        layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, dim_feedforward=FF, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.head = nn.Linear(D_MODEL, CLASSES)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


def build(seed=0):
    seed_everything(seed)
    module = TransformerClassifier()
    # The encoder deep-copies one layer, so without this both layers (and every LayerNorm)
    # would hold equal values and the export would tie them into one parameter set.
    make_parameters_distinct(module, seed)

    def make_inputs(batch, input_seed):
        rng = np.random.default_rng(input_seed)
        return [rng.integers(0, VOCAB, (batch, SEQ), dtype=np.int64)]

    return ModelSpec(module, make_inputs, ["tokens"], ["logits"],
                     {"tokens": {0: "batch"}, "logits": {0: "batch"}},
                     opset=17, constant_folding=True)


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0], "transformer.onnx")
