"""torch.export `.pt2` programs with a dynamic batch dimension, loadable with
`torch.export.load(path).module()` without gcc-gan installed."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..errors import GccGanError
from .onnx_export import ReferenceOutputs, Shape, baked_copy, check_batches, example_inputs, named_module, run_module
from .standalone import EXAMPLE_BATCH, export_program, first_line, quiet


def export_pt2(module: nn.Module, input_shapes: Mapping[str, Shape], path: str | os.PathLike[str]) -> None:
    """Export `module` (eval mode, parametrizations baked) with `torch.export.export` and a
    dynamic batch dimension, and save it with `torch.export.save`. Failures are GccGanError."""
    m = named_module(baked_copy(module), list(input_shapes))
    try:
        export_program(m, example_inputs(input_shapes, batch=EXAMPLE_BATCH), path)
    except Exception as e:  # noqa: BLE001 - an exporter failure is reported, never a traceback
        raise GccGanError(f".pt2 export to {path} failed: {first_line(e)}") from e


def verify_pt2(path: str | os.PathLike[str], module: nn.Module, input_shapes: Mapping[str, Shape],
               batches: Sequence[int] = (1, 3, 64), atol: float = 1e-5, seed: int = 0,
               reference: ReferenceOutputs | None = None) -> dict[str, Any]:
    """Load the saved program and compare `.module()(x)` with `module(x)` at each batch
    size; return {"atol", "max_abs_err": {batch: err}}; above `atol` is a GccGanError."""
    ref = reference or ReferenceOutputs(module, input_shapes, seed)
    try:
        with quiet():
            loaded = torch.export.load(str(path)).module()
    except Exception as e:  # noqa: BLE001
        raise GccGanError(f"cannot load {path} with torch.export.load: {str(e).strip().splitlines()[0]}") from e
    errs = check_batches(lambda _b, xs: run_module(loaded, xs), ref, batches, atol,
                         f"the program in {path} failed", f".pt2 verification failed for {path}")
    return {"atol": atol, "max_abs_err": errs}
