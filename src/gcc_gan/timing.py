"""Timing several implementations of one computation fairly, side by side.

After warm-up, the candidates' repeats are interleaved round by round (in a rotating
order), so a burst of machine noise hits all of them alike instead of whichever happened to
run at that moment; each reports the median and the interquartile range of its per-call
times. A leaf module: the compiler's precision variants, the cost model's latency budget
and `gcc-gan bench` all time with it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch

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
