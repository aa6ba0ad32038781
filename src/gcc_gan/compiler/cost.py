"""The compiler's cost model: what a network costs once compiled, without its weights.

`compiled_cost(net)` lowers the network to a weightless IR (fresh meta tensors: shapes
only, no memory, no initialisation, no interpreter built) and runs the same pass pipeline
as `compile_network`. The passes decide only from shapes and op parameters, except CSE,
which shares a computation only between ops with identical weights: a meta tensor has no
values, so here only ops without weights (upsampling, ReLU, ...) are ever shared — the
answer for generic (e.g. trained) weights, which is what a deployed network has. MACs and
stored parameters are therefore exactly those `gcc-gan compile` reports for any trained
weights of the network.

The user's limits (`--max-macs / --max-params / --max-latency`) are `bench.budget.Budget`:
a latency limit needs the network timed, which is the bench's job, above this layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..genotype_dsl.analysis import NetInfo, analyze
from ..genotype_dsl.model import Network
from ..units import Units
from .ir import lower
from .passes import run_passes


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


# --------------------------------------------------------------------------- limits as the user writes them

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
