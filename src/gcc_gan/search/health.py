"""Candidate health: the one rule every searcher and evaluator applies before a candidate
may be selected, kept in a top-K, grow children, or stand on a Pareto front.

A candidate is

* `diverged` when a training loss is non-finite or |loss| > `LOSS_BOUND` (1e6: the GAN
  and GLO losses of a healthy run are O(1)–O(100); a loss of a million means the weights
  blew up), when its weights are non-finite, or when its score is non-finite or beyond
  the bound its metric allows (`SCORE_BOUNDS`);
* `collapsed` when its samples have lost their diversity: the mean over pixels and
  channels of the per-pixel standard deviation over a fixed latent batch (`diversity`, on
  the 0–255 scale) is below `COLLAPSE_RATIO` (a quarter) of the same statistic of real
  images at the same resolution. A mode-collapsed GAN maps every latent to (nearly) one
  image: its per-pixel std is a few grey levels (the issue's flat-green DGGAN winner: 2.7
  against the data's 46, a ratio of 0.06), while a healthy tiny-preset generator keeps
  well over half of the data's;
* `ok` otherwise.

Checked in this order (a flat generator whose ProGAN SWD blew up reads `collapsed`, the
cause, rather than `diverged`, the symptom). Bad candidates are kept in history, tables
and provenance with their status, and drawn apart in the plots; if none is `ok` the run
ends with `no_healthy_candidate`'s error.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import GccGanError

OK, DIVERGED, COLLAPSED = "ok", "diverged", "collapsed"
BAD = (DIVERGED, COLLAPSED)
LOSS_BOUND = 1e6
COLLAPSE_RATIO = 0.25
HEALTH_IMAGES = 64  # the fixed latent batch of a collapse check where no reward batch is at hand
# The largest value a healthy candidate's score can take, per metric (SWD in the one unit, ×1e3):
# * swd (ProGAN): each 7×7×3 descriptor set is normalised to unit variance per channel, so
#   E|d·x| <= sqrt(E|x|²) = sqrt(147) for a unit direction d, and a level's SWD is at most
#   1e3 · 2·sqrt(147) ≈ 24,249 (a flat image set hits float round-off in its own std and
#   reads ~1e12: that is how the 8.1e12 'ok' score arose);
# * swd-real: descriptors in units of the real set's std; 1e6 is a mean projected distance
#   of 1,000 real standard deviations, unreachable by images in 0..255 unless the data is
#   nearly constant;
# * fid: 1e6 (real Inception FIDs stay below ~600; random-weight test Inceptions below ~1e4);
# * is: the Inception Score is at most its number of classes, 1008.
SCORE_BOUNDS: dict[str, float] = {"swd": 2e3 * math.sqrt(147), "swd-real": 1e6, "fid": 1e6, "is": 1008.0}


@dataclass(frozen=True)
class Health:
    status: str = OK
    reason: str = ""
    diversity: float | None = None  # the samples' per-pixel std / the data's (None: not measured)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.diversity is not None:
            out["diversity"] = round(self.diversity, 4)
        return out


def loss_health(losses: Mapping[str, float]) -> Health:
    """`diverged` on the first non-finite or exploding loss."""
    for k, v in losses.items():
        if not math.isfinite(v) or abs(v) > LOSS_BOUND:
            return Health(DIVERGED, f"{k} = {v:.4g} (non-finite or |loss| > {LOSS_BOUND:g})")
    return Health()


def score_health(metric: str, value: float | None) -> Health:
    """`diverged` when the score is missing, non-finite or beyond `SCORE_BOUNDS[metric]`."""
    if value is None or not math.isfinite(value):
        return Health(DIVERGED, f"{metric} = {value} (non-finite)")
    bound = SCORE_BOUNDS[metric]
    if value > bound or (metric != "is" and value < -1e-6 * bound):
        return Health(DIVERGED, f"{metric} = {value:.4g} (beyond the metric's bound {bound:.4g})")
    return Health()


def to_255(images: Tensor) -> Tensor:
    """Images as float on the 0–255 scale: uint8 as is, float in [-1, 1] (clamped, as
    `gcc_gan.pixels.to_uint8` converts them)."""
    if images.dtype == torch.uint8:
        return images.float()
    return images.detach().float().clamp(-1, 1).mul(127.5).add(127.5)


def diversity(images: Tensor) -> float:
    """Mean over pixels and channels of the per-pixel std over the batch, 0–255 scale."""
    x = to_255(images)
    if x.shape[0] < 2:
        raise ValueError("the diversity of fewer than 2 images is undefined")
    return float(x.std(dim=0).mean())


def collapse_health(fake: Tensor, real: Tensor | float, min_ratio: float | None = None) -> Health:
    """`collapsed` when `diversity(fake)` < `min_ratio` (default COLLAPSE_RATIO; the search
    setting `min_diversity`, 0 turns the check off) × the data's (`real`: images at the
    same resolution, or their diversity). A non-finite sample is `diverged`."""
    threshold = COLLAPSE_RATIO if min_ratio is None else min_ratio
    x = to_255(fake) if fake.dtype == torch.uint8 else fake.detach().float()
    if not bool(torch.isfinite(x).all()):
        return Health(DIVERGED, "non-finite samples")
    ref = real if isinstance(real, float) else diversity(real)
    ratio = diversity(fake) / max(ref, 1e-12)
    if ratio < threshold:
        return Health(COLLAPSED, f"per-pixel std over the latents {ratio * ref:.3g} (0-255) is {ratio:.3f} of the "
                      f"data's {ref:.3g}, below {threshold:g}", ratio)
    return Health(OK, "", ratio)


def weights_health(params: Iterable[Tensor]) -> Health:
    for p in params:
        if not bool(torch.isfinite(p).all()):
            return Health(DIVERGED, "non-finite weights")
    return Health()


def combine(*checks: Health) -> Health:
    """The first bad check (in the order given); else ok, with the measured diversity."""
    div = next((h.diversity for h in checks if h.diversity is not None), None)
    for h in checks:
        if not h.ok:
            return Health(h.status, h.reason, div if h.diversity is None else h.diversity)
    return Health(OK, "", div)


def counts(statuses: Iterable[str]) -> Counter[str]:
    return Counter(statuses)


def summary(statuses: Iterable[str], what: str = "candidates") -> str:
    """'33 candidates: 30 ok, 2 collapsed, 1 diverged' (other statuses, e.g. failed, too)."""
    c = counts(statuses)
    n = sum(c.values())
    parts = [f"{c[OK]} ok"] + [f"{v} {k}" for k, v in sorted(c.items()) if k != OK]
    return f"{n} {what}: " + ", ".join(parts)


class UnhealthyResult(GccGanError):
    """No healthy candidate (or a collapsed / diverged final generator): the run ends with
    this error (exit 1) and writes no genotype; its search.json status is 'unhealthy'."""


def no_healthy_candidate(statuses: Iterable[str], what: str = "candidates", hint: str = "") -> UnhealthyResult:
    """The run's error when no candidate is healthy: says how many of which kind, and what to try."""
    try_ = hint or ("try another --seed, more iterations (a larger preset), or lower learning rates; "
                    "with --reward swd or is, --reward fid (Inception weights) ranks candidates differently")
    return UnhealthyResult(f"no healthy candidate: {summary(statuses, what)} (a collapsed generator makes near-identical "
                       f"images: per-pixel std below a set fraction (default {COLLAPSE_RATIO}) of the data's; a diverged one has a non-finite "
                       f"or exploding loss or score). No genotype was written; {try_}")
