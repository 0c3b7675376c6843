"""Shared plumbing of the export_*.py scripts: arguments, seeding and a deterministic export.

Each script defines build(seed) -> ModelSpec; test/parity/check_parity.py imports the same
function to run the PyTorch reference of exactly the model it exported.
"""
import argparse
import dataclasses
import os
import random
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np
import torch


@dataclasses.dataclass
class ModelSpec:
    module: torch.nn.Module
    # Makes a seeded input batch (numpy arrays, in input_names order) of the given batch size.
    make_inputs: Callable[[int, int], List[np.ndarray]]
    input_names: List[str]
    output_names: List[str]
    dynamic_axes: Optional[Dict[str, Dict[int, str]]]
    opset: int
    # False keeps PyTorch's Shape/Gather/Concat chains in the file for the importer to fold.
    constant_folding: bool
    export_batch: int = 2


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_parameters_distinct(module, seed, scale=0.05):
    """Perturbs every float parameter and buffer with seeded noise.

    torch.onnx deduplicates initializers of equal value in eval-mode exports, so PyTorch's
    constant initializations (LayerNorm/BatchNorm weights of 1, zero biases, running stats) and
    nn.TransformerEncoder's deep-copied layers would come out as ONE parameter shared through
    Identity nodes: the trainer would then tie weights that PyTorch trains separately. Trained
    models have no equal parameters, and nontrivial norm statistics make the parity checks
    meaningful too.
    """
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=gen, dtype=t.dtype)
            if name.endswith("running_var"):
                t.mul_(torch.exp(scale * noise))  # stays positive
            else:
                t.add_(scale * noise)


def export(spec, out_path, constant_folding=None, opset=None):
    spec.module.eval()
    example = tuple(torch.from_numpy(x) for x in spec.make_inputs(spec.export_batch, 0))
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = f"{out_path}.{os.getpid()}.tmp"
    # Not under no_grad: torch 1.13's TransformerEncoderLayer would then take its fused fast
    # path (aten::_transformer_encoder_layer_fwd), which has no ONNX form.
    with warnings.catch_warnings():
        # It warns of constant folding under PRESERVE for modules in training mode; ours is not.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding")
        _export(spec, example, tmp, constant_folding, opset)
    os.replace(tmp, out_path)  # a half-written model never sits at out_path


def _export(spec, example, tmp, constant_folding, opset):
    torch.onnx.export(
        spec.module, example, tmp,
        input_names=spec.input_names, output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes,
        opset_version=opset or spec.opset,
        do_constant_folding=spec.constant_folding if constant_folding is None
        else constant_folding,
        # PRESERVE of an eval-mode module: eval semantics without the EVAL-only peephole that
        # folds BatchNormalization into Conv (a training compiler needs the BN nodes).
        training=torch.onnx.TrainingMode.PRESERVE,
        export_params=True)


def main(build, description, default_out):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=default_out, help="where to write the .onnx file")
    ap.add_argument("--seed", type=int, default=0, help="seed of the parameter initialization")
    ap.add_argument("--opset", type=int, choices=range(13, 18), metavar="13..17",
                    help="ONNX opset (default: the model's own)")
    ap.add_argument("--constant-folding", choices=["on", "off"],
                    help="torch.onnx do_constant_folding (default: the model's own)")
    args = ap.parse_args()
    spec = build(args.seed)
    folding = None if args.constant_folding is None else args.constant_folding == "on"
    export(spec, args.out, constant_folding=folding, opset=args.opset)
    print(f"wrote {args.out}")
