"""The compiler's cost model: what a network costs once compiled, without its weights.

`compiled_cost(net)` lowers the network to a weightless IR (fresh meta tensors: shapes
only, no memory, no initialisation, no interpreter built) and runs the same pass pipeline
as `compile_network`. The passes decide only from shapes and op parameters, except CSE,
which shares a computation only between ops with identical weights: a meta tensor has no
values, so here only ops without weights (upsampling, ReLU, ...) are ever shared — the
answer for generic (e.g. trained) weights, which is what a deployed network has. MACs and
stored parameters are therefore exactly those `gcc-gan compile` reports for any trained
weights of the network.

`Budget` is the user's limit (`--max-macs / --max-params / --max-latency`), and
`measure_latency` times the compiled network on a backend (`torch` or `onnxruntime`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import torch

from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo, analyze
from ..genotype_dsl.model import Network
from ..units import Units
from .ir import lower
from .passes import run_passes

LATENCY_BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class Cost:
    macs: int  # compiled MACs per sample
    params: int  # stored parameters of the compiled network
    macs_source: int = 0  # MACs of the genotype as written (before the passes)
    latency_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"macs": self.macs, "params": self.params, "macs_source": self.macs_source}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 4)
        return out


_CACHE: dict[str, Cost] = {}


def compiled_cost(net: Network | NetInfo, role: str = "generator") -> Cost:
    """Compiled MACs and stored parameters of a network (cached by the network's JSON)."""
    network = net.net if isinstance(net, NetInfo) else net
    key = role + network.model_dump_json()
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    info = net if isinstance(net, NetInfo) else analyze(network, role)
    g = lower(info, None, role)  # weightless: no interpreter is built (see `lower`)
    before = g.macs
    run_passes(g, trace=False)
    cost = Cost(macs=g.macs, params=g.n_params, macs_source=before)
    if len(_CACHE) > 50_000:
        _CACHE.clear()
    _CACHE[key] = cost
    return cost


def measure_latency(net: Network | NetInfo, backend: str = "torch", batch: int = 1, budget_s: float = 1.0) -> float:
    """Median milliseconds of one forward pass of the compiled network (fresh weights) on
    `backend`, timed like `gcc-gan bench` (bench.latency)."""
    from ..bench.latency import time_interleaved
    from .pipeline import compile_network

    if backend not in LATENCY_BACKENDS:
        raise GccGanError(f"--latency-backend {backend!r}: expected one of {', '.join(LATENCY_BACKENDS)}")
    info = net if isinstance(net, NetInfo) else analyze(net)
    compiled = compile_network(info, batch=max(batch, 1))
    inputs = [torch.randn(batch, *s) for s in compiled.input_shapes.values()]
    if backend == "torch":
        module = compiled.instantiate()

        def run() -> object:
            with torch.no_grad():
                return module(*inputs)
    else:
        import tempfile
        from pathlib import Path

        import onnxruntime as ort

        from ..export.onnx_export import export_onnx

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "g.onnx"
            export_onnx(compiled.instantiate(), compiled.input_shapes, path)
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {i.name: x.numpy() for i, x in zip(sess.get_inputs(), inputs)}

        def run() -> object:
            return sess.run(None, feed)
    return time_interleaved({"net": run}, batch, budget_s=budget_s)["net"].median_ms


# --------------------------------------------------------------------------- budgets

COUNT = Units("count", "800M, 3M, 1.5G or 12000", {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12},
              scientific=True)
TIME_MS = Units("time", "5ms, 0.5s or 200us (a bare number is ms)",
                {"": 1, "ms": 1, "s": 1000, "us": Decimal("0.001")})


def parse_count(text: str | None, flag: str) -> int | None:
    """'800M', '3M', '1.5G', '12000' → an integer count (None passes through)."""
    return None if text is None else COUNT.parse_int(text, flag)


def parse_ms(text: str | None, flag: str) -> float | None:
    """'5ms', '5', '0.5s' → milliseconds (None passes through)."""
    return None if text is None else TIME_MS.parse_float(text, flag)


@dataclass(frozen=True)
class Budget:
    """Limits on the compiled generator; None = unlimited."""

    max_macs: int | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None
    latency_backend: str = "torch"

    @property
    def active(self) -> bool:
        return self.max_macs is not None or self.max_params is not None or self.max_latency_ms is not None

    def cost(self, net: Network | NetInfo) -> Cost:
        """The compiled cost, with latency measured only when a latency limit is set."""
        c = compiled_cost(net)
        if self.max_latency_ms is not None:
            c = Cost(c.macs, c.params, c.macs_source, measure_latency(net, self.latency_backend))
        return c

    def fits(self, c: Cost) -> bool:
        return ((self.max_macs is None or c.macs <= self.max_macs)
                and (self.max_params is None or c.params <= self.max_params)
                and (self.max_latency_ms is None or (c.latency_ms is not None and c.latency_ms <= self.max_latency_ms)))

    def excess(self, c: Cost) -> float:
        """How far over budget, as the largest relative overshoot (0 when within)."""
        over = [0.0]
        if self.max_macs is not None:
            over.append(c.macs / self.max_macs - 1)
        if self.max_params is not None:
            over.append(c.params / self.max_params - 1)
        if self.max_latency_ms is not None and c.latency_ms is not None:
            over.append(c.latency_ms / self.max_latency_ms - 1)
        return max(over)

    def describe(self) -> str:
        parts = []
        if self.max_macs is not None:
            parts.append(f"MACs ≤ {self.max_macs:,}")
        if self.max_params is not None:
            parts.append(f"params ≤ {self.max_params:,}")
        if self.max_latency_ms is not None:
            parts.append(f"latency ≤ {self.max_latency_ms:g} ms ({self.latency_backend})")
        return ", ".join(parts) or "none"

    def to_json(self) -> dict[str, Any]:
        return {"max_macs": self.max_macs, "max_params": self.max_params, "max_latency_ms": self.max_latency_ms,
                "latency_backend": self.latency_backend}
