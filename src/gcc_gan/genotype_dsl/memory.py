"""Memory a network needs, estimated from shape inference before anything is allocated.

Every command that builds a network (the interpreter is the one place networks are
built: compile, train, search, bench, scale) checks the estimate against a limit and
refuses, with the figure and the limit, instead of dying in the allocator. The limit is
`--max-memory SIZE` on those commands, else `$GCC_GAN_MAX_MEMORY`, else 8 GB.

The estimate is float32 parameters plus every intermediate tensor of one forward pass
(inputs, each op's output, each node) at the given batch, none freed early: an upper
bound of what a forward allocates, and about what training keeps for backward (the
gradients of activations are transient). Training counts parameters four times
(weights, gradients, two Adam moments).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import GccGanError
from ..units import Units
from .analysis import NetInfo

ENV = "GCC_GAN_MAX_MEMORY"
DEFAULT_LIMIT = 8 * 10**9
BYTES_PER_VALUE = 4  # float32
SIZE = Units("size", "8GB, 512MB or 1.5GiB",
             {"": 1, "B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12})


def parse_size(text: str, flag: str | None = None) -> int:
    """Bytes of a size such as `8GB`, `512MB`, `1.5GiB` or `1000000` (decimal units as
    `show` prints them; KiB/MiB/GiB/TiB binary). A `QuantityError` (a `ValueError` and a
    `GccGanError`) naming `flag`, where given, otherwise."""
    return SIZE.parse_int(text, flag)


def fmt_bytes(n: float) -> str:
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def memory_limit() -> int:
    """The limit in bytes: `$GCC_GAN_MAX_MEMORY` (set by `--max-memory`) or 8 GB."""
    raw = os.environ.get(ENV)
    if not raw:
        return DEFAULT_LIMIT
    return parse_size(raw, f"${ENV}")


@dataclass(frozen=True)
class MemoryEstimate:
    params_bytes: int
    activation_bytes: int
    batch: int
    training: bool

    @property
    def total(self) -> int:
        return self.params_bytes + self.activation_bytes

    def describe(self) -> str:
        what = "parameters, gradients and optimiser state" if self.training else "parameters"
        return (f"{fmt_bytes(self.total)} ({fmt_bytes(self.params_bytes)} of {what} + "
                f"{fmt_bytes(self.activation_bytes)} of activations at batch {self.batch})")


def activation_values(info: NetInfo) -> int:
    """Values of every tensor one sample's forward pass creates (none freed)."""
    nodes = sum(math.prod(s) for s in info.shapes.values())
    ops = sum(math.prod(o.out_shape) for e in info.edges for o in e.ops)
    return nodes + ops


def estimate_memory(info: NetInfo, batch: int = 1, training: bool = False) -> MemoryEstimate:
    params = BYTES_PER_VALUE * info.params * (4 if training else 1)
    acts = BYTES_PER_VALUE * batch * activation_values(info)
    return MemoryEstimate(params, acts, batch, training)


def check_memory(info: NetInfo, batch: int = 1, training: bool = False, what: str | None = None) -> MemoryEstimate:
    """The estimate, or a GccGanError when it exceeds the limit (nothing allocated yet)."""
    est = estimate_memory(info, batch, training)
    limit = memory_limit()
    if est.total > limit:
        name = what or info.where
        raise GccGanError(f"the {name} needs an estimated {est.describe()}, more than the memory limit of "
                          f"{fmt_bytes(limit)}; make it smaller (base_width, widths, sizes) or raise the limit "
                          f"with --max-memory SIZE or {ENV}=SIZE")
    return est
