"""Width search: the integer base width whose generator has the target parameter count.

Parameters grow about quadratically with the base width (every conv's in × out channels
scale together), and strictly monotonically for any network whose nodes are sized in
multiples of the base width. So: double until the count passes the target, bisect for the
smallest width at or above it, and take whichever of it and its predecessor is closer. The
result is the best an integer base width can do; the relative error is at most about
1/base_width (≈ 0.5 % at the papers' widths, a few % for sub-million-parameter targets).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import GccGanError, GenotypeError
from ..genotype_dsl.analysis import analyze
from ..genotype_dsl.model import Network

MAX_BASE_WIDTH = 1 << 16


@dataclass(frozen=True)
class WidthFit:
    target: int  # parameters asked for
    base_width: int  # the chosen integer base width
    mult: float  # base_width / the genotype's own base width (what `train --width` takes)
    params: int  # achieved
    macs: int  # per image, at that width

    @property
    def rel_error(self) -> float:
        return (self.params - self.target) / self.target


def scaled_to(net: Network, base_width: int) -> Network:
    """`net` at an integer base width, through `Network.scaled` (as the trainer scales it)."""
    return net.scaled(base_width / net.base_width)


def fit_width(net: Network, target_params: int, where: str = "generator") -> WidthFit:
    """The integer base width whose parameter count is closest to `target_params`.
    A target below the smallest network (base width 1) is a user error."""
    if target_params < 1:
        raise GccGanError(f"{where}: target size must be positive")

    @lru_cache(maxsize=None)
    def count(bw: int) -> tuple[int, int]:
        try:
            info = analyze(scaled_to(net, bw), "generator", role="generator")
        except GenotypeError as e:
            raise GccGanError(f"{where}: invalid at base width {bw} (width scaling breaks it): {e}") from None
        return info.params, info.macs

    p1 = count(1)[0]
    if target_params < p1:
        raise GccGanError(f"{where}: a target of {target_params / 1e6:g} M parameters is below this genotype's "
                          f"minimum, {p1 / 1e6:.4g} M at base width 1; choose larger --sizes")
    lo, hi = 1, 2
    while count(hi)[0] < target_params:
        if count(hi)[0] <= count(lo)[0]:
            raise GccGanError(f"{where}: its parameter count does not grow with the base width (nodes with "
                              "absolute channel counts?), so no width reaches the target size")
        lo, hi = hi, hi * 2
        if hi > MAX_BASE_WIDTH:
            raise GccGanError(f"{where}: {target_params / 1e6:g} M parameters needs a base width above "
                              f"{MAX_BASE_WIDTH}; choose smaller --sizes")
    # invariant: count(lo) < target <= count(hi)  (or lo == 1 with count(1) == target)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(mid)[0] < target_params:
            lo = mid
        else:
            hi = mid
    best = hi if count(1)[0] >= target_params else min(
        (lo, hi), key=lambda b: (abs(count(b)[0] - target_params), b))
    params, macs = count(best)
    return WidthFit(target_params, best, best / net.base_width, params, macs)
