"""Latency and throughput of several implementations of one network, measured fairly.

Each candidate is a callable taking a batch size and running one forward pass on inputs
prepared beforehand. After warm-up, the candidates' repeats are interleaved round by round
(in a rotating order), so a burst of machine noise hits all of them alike instead of
whichever happened to run at that moment; each reports the median and the interquartile
range of its per-call times.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..genotype_dsl.ops import Shape

Runner = Callable[[], Any]  # one forward pass on fixed inputs


@dataclass
class Timing:
    batch: int
    median_ms: float
    iqr_ms: float  # 75th − 25th percentile
    repeats: int

    @property
    def images_per_s(self) -> float:
        return self.batch / (self.median_ms / 1e3) if self.median_ms > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "median_ms": self.median_ms, "iqr_ms": self.iqr_ms, "repeats": self.repeats,
                "images_per_s": self.images_per_s}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(runners: Mapping[str, Runner], batch: int, warmup: int = 1, repeats: int | None = None,
                     budget_s: float = 3.0, max_repeats: int = 30, min_repeats: int = 3,
                     device: torch.device = torch.device("cpu")) -> dict[str, Timing]:
    """Time each runner; `repeats=None` picks as many rounds as fit in `budget_s` (from the
    warm-up's cost), clamped to [min_repeats, max_repeats]."""
    names = list(runners)
    first: dict[str, float] = {}
    for name in names:
        for _ in range(max(1, warmup)):
            t0 = time.perf_counter()
            runners[name]()
            _sync(device)
            first[name] = time.perf_counter() - t0
    if repeats is None:
        per_round = max(sum(first.values()), 1e-6)
        repeats = int(min(max_repeats, max(min_repeats, math.floor(budget_s / per_round))))
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            _sync(device)
            t0 = time.perf_counter()
            runners[name]()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    out = {}
    for name, ts in times.items():
        a = np.asarray(ts) * 1e3
        q25, q50, q75 = np.percentile(a, [25, 50, 75])
        out[name] = Timing(batch, float(q50), float(q75 - q25), len(ts))
    return out


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
