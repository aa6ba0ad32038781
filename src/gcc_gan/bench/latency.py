"""Latency and throughput of several implementations of one network, measured fairly.

Each candidate is a callable taking a batch size and running one forward pass on inputs
prepared beforehand, timed by `gcc_gan.timing.time_interleaved` (the candidates' repeats
interleaved round by round in a rotating order, median and interquartile range).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..genotype_dsl.ops import Shape
from ..timing import Runner, Timing, time_interleaved


def torch_runner(module: nn.Module | Callable[..., Any], input_shapes: Mapping[str, Shape], batch: int,
                 device: torch.device, seed: int = 0) -> Runner:
    g = torch.Generator().manual_seed(seed)
    xs = tuple(torch.randn(batch, *s, generator=g).to(device) for s in input_shapes.values())

    def run() -> Any:
        with torch.inference_mode():
            return module(*xs)

    return run


def onnx_session(path: str, device: torch.device) -> Any:
    import onnxruntime as ort

    from ..export.onnx_export import onnx_providers

    from ..errors import GccGanError

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = onnx_providers(device.type == "cuda")
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign file is reported, not a traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GccGanError(f"onnxruntime cannot load {path}: {first}") from None


def onnx_runner(session: Any, input_shapes: Mapping[str, Shape], batch: int, seed: int = 0) -> Runner:
    rng = np.random.default_rng(seed)
    feeds = {i.name: rng.standard_normal((batch, *s)).astype(np.float32)
             for i, s in zip(session.get_inputs(), input_shapes.values(), strict=True)}
    return lambda: session.run(None, feeds)


def measure(candidates: Mapping[str, Callable[[int], Runner]], batches: Sequence[int] = (1, 64),
            repeats: int | None = None, device: torch.device = torch.device("cpu"),
            warmup: int | None = None) -> dict[str, dict[int, Timing]]:
    """{candidate: {batch: Timing}}; `candidates` map a name to a factory of runners for a
    batch. Default warm-up: 3 calls at batch 1 (cheap, and first calls pick kernels), 1 at
    larger batches (one call already warms every kernel and costs seconds at full width)."""
    out: dict[str, dict[int, Timing]] = {n: {} for n in candidates}
    for b in batches:
        runners = {n: make(b) for n, make in candidates.items()}
        w = warmup if warmup is not None else (3 if b == 1 else 1)
        for n, t in time_interleaved(runners, b, warmup=w, repeats=repeats, device=device).items():
            out[n][b] = t
    return out
