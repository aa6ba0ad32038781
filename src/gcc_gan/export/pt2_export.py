"""torch.export `.pt2` programs with a dynamic batch dimension, loadable with
`torch.export.load(path).module()` without gcc-gan installed."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..errors import GccGanError
from .onnx_export import (ReferenceOutputs, Shape, _quiet, baked_copy, check_batches, example_inputs,
                          named_module, run_module)

MAX_BATCH = 1 << 20


def export_pt2(module: nn.Module, input_shapes: Mapping[str, Shape], path: str | os.PathLike[str]) -> None:
    """Export `module` (eval mode, parametrizations baked) with `torch.export.export` and a
    dynamic batch dimension, and save it with `torch.export.save`. Failures are GccGanError."""
    m = named_module(baked_copy(module), list(input_shapes))
    # An example batch of 1 would specialise the batch dim to 1; 2 keeps it symbolic, and
    # min=1 still admits single images at run time.
    example = example_inputs(input_shapes, batch=2)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    dest = Path(path)
    tmp = dest.with_name(f".{dest.stem}.tmp.pt2")  # torch.export.save wants .pt2
    try:
        with _quiet():
            ep = torch.export.export(m, example, dynamic_shapes=tuple({0: batch} for _ in input_shapes))
            torch.export.save(ep, str(tmp))
        os.replace(tmp, dest)
    except Exception as e:  # noqa: BLE001 - an exporter failure is reported, never a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GccGanError(f".pt2 export to {dest} failed: {type(e).__name__}: {msg}") from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def verify_pt2(path: str | os.PathLike[str], module: nn.Module, input_shapes: Mapping[str, Shape],
               batches: Sequence[int] = (1, 3, 64), atol: float = 1e-5, seed: int = 0,
               reference: ReferenceOutputs | None = None) -> dict[str, Any]:
    """Load the saved program and compare `.module()(x)` with `module(x)` at each batch
    size; return {"atol", "max_abs_err": {batch: err}}; above `atol` is a GccGanError."""
    ref = reference or ReferenceOutputs(module, input_shapes, seed)
    try:
        with _quiet():
            loaded = torch.export.load(str(path)).module()
    except Exception as e:  # noqa: BLE001
        raise GccGanError(f"cannot load {path} with torch.export.load: {str(e).strip().splitlines()[0]}") from e
    errs = check_batches(lambda xs: run_module(loaded, xs), ref, batches, atol,
                         f"the program in {path} failed", f".pt2 verification failed for {path}")
    return {"atol": atol, "max_abs_err": errs}
