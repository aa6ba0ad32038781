"""Budgets on the compiled generator: the user's limits (`--max-macs / --max-params /
--max-latency`) and what a network costs against them.

MACs and stored parameters come from the compiler's weightless cost model
(`compiler.cost.compiled_cost`); latency is measured, so it lives here, with the
measurements: `measure_latency` times the compiled network on a backend (`torch`, or
`onnxruntime` on its ONNX export) the way `gcc-gan bench` times it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..compiler.cost import Cost, compiled_cost
from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo, analyze
from ..genotype_dsl.model import Network
from ..timing import time_interleaved

LATENCY_BACKENDS = ("torch", "onnxruntime")


def measure_latency(net: Network | NetInfo, backend: str = "torch", batch: int = 1, budget_s: float = 1.0) -> float:
    """Median milliseconds of one forward pass of the compiled network (fresh weights) on
    `backend`, timed like `gcc-gan bench` (gcc_gan.timing)."""
    from ..compiler.pipeline import compile_network

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
