"""Size and compute of a network: parameters, fp32 bytes, MACs and FLOPs per image.

Counts come from the IR (the op registry's `n_params` / `macs`), with the MAC convention
of the AutoGAN / AdversarialNAS papers: one multiply-accumulate per weight use in conv,
transposed conv and linear layers, plus one per output element for a bias add. FLOPs are
2 × MACs. The count is cross-checked by running the module under
`torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOPs per weight
multiply-accumulate of convolutions and matmuls but nothing for the bias add; so
`counted FLOPs / 2 == IR MACs − bias adds` must hold exactly.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

import torch
from torch import nn

from ..genotype_dsl.ops import OpCtx, Shape


class CostedOp(Protocol):
    """An op with its context: analysis `OpInfo` and compiler `IROp` both fit."""

    @property
    def call(self) -> Any: ...

    @property
    def ctx(self) -> OpCtx: ...

    @property
    def out_shape(self) -> Shape: ...


def bias_adds(ops: Iterable[CostedOp]) -> int:
    """The bias-add part of the MAC count: each op's MACs minus its MACs without bias, both
    from the registry (so this never restates an op's cost formula)."""
    total = 0
    for o in ops:
        p = o.call.params
        if getattr(p, "bias", False):
            spec = o.call.spec
            total += spec.macs(p, o.ctx, o.out_shape) - spec.macs(p.model_copy(update={"bias": False}), o.ctx,
                                                                  o.out_shape)
    return total


def counted_flops(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """FLOPs `FlopCounterMode` counts for one forward pass (no grad, eval mode)."""
    from torch.utils.flop_counter import FlopCounterMode

    was = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            module(*inputs)
    finally:
        module.train(was)
    return int(fc.get_total_flops())


@dataclass
class FlopCheck:
    module: str  # which module was counted ("interpreter", "compiled")
    ir_macs: int  # per image, with bias adds
    ir_bias_adds: int
    counter_flops: int  # per image, from FlopCounterMode
    agrees: bool  # counter_flops == 2 * (ir_macs - ir_bias_adds)


def flop_check(module: nn.Module, input_shapes: dict[str, Shape], ops: Iterable[CostedOp], name: str,
               batch: int = 2) -> FlopCheck:
    ops = list(ops)
    macs = sum(o.call.spec.macs(o.call.params, o.ctx, o.out_shape) for o in ops)
    bias = bias_adds(ops)
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    xs = tuple(torch.randn(batch, *s, device=dev) for s in input_shapes.values())
    total = counted_flops(module, xs)
    per_image = total // batch
    return FlopCheck(name, macs, bias, per_image, total == batch * 2 * (macs - bias))


@dataclass
class SizeReport:
    params: int
    fp32_bytes: int
    macs: int  # per image (the papers' "FLOPs")
    flops: int  # 2 × macs
    onnx_bytes: int | None = None
    checks: list[FlopCheck] | None = None

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def macs_g(self) -> float:
        return self.macs / 1e9

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["params_m"], d["macs_g"], d["flops_g"] = self.params_m, self.macs_g, self.flops / 1e9
        return d


def size_report(params: int, macs: int, onnx: str | os.PathLike[str] | None = None,
                checks: list[FlopCheck] | None = None) -> SizeReport:
    onnx_bytes = Path(onnx).stat().st_size if onnx is not None and Path(onnx).is_file() else None
    return SizeReport(params, 4 * params, macs, 2 * macs, onnx_bytes, checks)
