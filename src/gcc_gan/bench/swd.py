"""ProGAN's multi-scale sliced Wasserstein distance (Karras et al. 2018, §5 and appendix D;
`metrics/sliced_wasserstein.py` of progressive_growing_of_gans), needing no weights.

Each image set becomes a Laplacian pyramid (5-tap binomial filter) from its resolution down
to 16×16; at every level, `nhoods` random 7×7×3 neighbourhoods per image are descriptors,
normalised per colour channel over the whole set; the distance between two descriptor
sets is the mean over `repeats` × `dirs` random unit directions of the mean absolute
difference of the sorted projections. Reported ×1e3 per level and averaged over levels, as
ProGAN's tables do; lower is better. Unlike ProGAN, the neighbourhood positions are drawn
once and used for image i of both sets, so SWD(x, x) = 0 exactly. Images smaller than 16×16 (the search's early stages)
have a single level: the image itself. All randomness comes from `seed`.

`norm="real"` (the search reward `swd-real`, search/rewards.py): both descriptor sets are
normalised by the REAL set's per-channel mean and std instead of each by its own, so a
generator whose colours or contrast are wrong — a flat single-colour image in the
extreme — is far from the data; ProGAN's own-set normalisation removes exactly those
errors (a collapsed generator can score better than a healthy one). Same unit (×1e3), same
positions and directions as `norm="own"` for one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import GccGanError

NHOOD = 7
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128
MIN_RES = 16
MAX_IMAGES = 16_384  # ProGAN's "swd-16k" protocol
# `gcc-gan bench` without --num-samples: seconds per generator on one CPU core, not the ~10
# minutes of 16k images (the cost is linear in the count: 128 descriptors per image, each
# projected on 512 directions and sorted). Values at different counts are not comparable: a
# smaller count reads higher (finite-sample noise), so the count is reported with the value.
SWD_SAMPLES = 256


@dataclass(frozen=True)
class SwdResult:
    levels: dict[int, float]  # resolution -> SWD × 1e3

    @property
    def mean(self) -> float:
        return sum(self.levels.values()) / len(self.levels)

    def to_json(self) -> dict[str, object]:
        return {"mean": self.mean, "levels": {str(k): v for k, v in self.levels.items()}}


def _kernel(channels: int, device: torch.device) -> Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device)
    k2 = torch.outer(k, k) / 256.0
    return k2.expand(channels, 1, 5, 5).contiguous()


def _down(x: Tensor) -> Tensor:
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), _kernel(x.shape[1], x.device), stride=2,
                    groups=x.shape[1])


def _up(x: Tensor) -> Tensor:
    n, c, h, w = x.shape
    z = x.new_zeros(n, c, 2 * h, 2 * w)
    z[:, :, ::2, ::2] = x
    return F.conv2d(F.pad(z, (2, 2, 2, 2), mode="reflect"), _kernel(c, x.device) * 4.0, groups=c)


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """Finest first; the last entry is the coarsest Gaussian level."""
    out: list[Tensor] = []
    for _ in range(levels - 1):
        small = _down(x)
        out.append(x - _up(small))
        x = small
    out.append(x)
    return out


def n_levels(size: int) -> int:
    n, res = 0, size
    while res >= MIN_RES:
        n, res = n + 1, res // 2
    return max(n, 1)


def positions(n: int, h: int, w: int, nhoods: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    k = min(NHOOD, h, w)
    return (torch.randint(0, h - k + 1, (n, nhoods), generator=gen),
            torch.randint(0, w - k + 1, (n, nhoods), generator=gen))


def descriptors(level: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """(N · nhoods, C · 7 · 7) neighbourhoods at (ys, xs) (the whole map when smaller than 7×7)."""
    n, c, h, w = level.shape
    nhoods = ys.shape[1]
    k = min(NHOOD, h, w)
    off = torch.arange(k)
    rows = (ys[..., None] + off).to(level.device)  # (n, nh, k)
    cols = (xs[..., None] + off).to(level.device)
    img = torch.arange(n, device=level.device)[:, None, None, None, None]
    ch = torch.arange(c, device=level.device)[None, None, :, None, None]
    patches = level[img, ch, rows[:, :, None, :, None], cols[:, :, None, None, :]]  # (n, nh, c, k, k)
    return patches.reshape(n * nhoods, c * k * k)


NORMS = ("own", "real")


def _moments(d: Tensor) -> tuple[Tensor, Tensor]:
    """Per colour channel mean and std over all descriptors and positions."""
    d = d.reshape(d.shape[0], 3 if d.shape[1] % 3 == 0 else 1, -1)
    return d.mean(dim=(0, 2), keepdim=True), d.std(dim=(0, 2), keepdim=True).clamp_min(1e-12)


def _normalize(d: Tensor, by: Tensor | None = None) -> Tensor:
    """Per colour channel, over all descriptors and positions (ProGAN's finalize_descriptors),
    with the moments of `by` (default: `d` itself)."""
    n = d.shape[0]
    mean, std = _moments(d if by is None else by)
    return ((d.reshape(n, mean.shape[1], -1) - mean) / std).reshape(n, -1)


def _sort_rows(x: np.ndarray) -> None:
    """Sort each row in place, rows split over torch's CPU threads (numpy's sort releases the
    GIL; it is most of SWD's time)."""
    workers = min(torch.get_num_threads(), len(x))
    if workers <= 1:
        x.sort(axis=1)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda part: part.sort(axis=1), np.array_split(x, workers)))


def sliced_wasserstein(a: Tensor, b: Tensor, repeats: int, dirs: int, gen: torch.Generator) -> float:
    """Mean over random unit directions of mean |sorted(a·d) − sorted(b·d)| (equal counts)."""
    total = 0.0
    for _ in range(repeats):
        d = torch.randn(a.shape[1], dirs, generator=gen, dtype=torch.float64).to(a.device, a.dtype)
        d = d / d.norm(dim=0, keepdim=True)
        # (dirs, N) rows, fresh arrays sorted in place along the contiguous axis with numpy
        # (3x faster than torch.sort)
        pa = (d.T @ a.T).cpu().numpy()
        pb = (d.T @ b.T).cpu().numpy()
        _sort_rows(pa)
        _sort_rows(pb)
        np.subtract(pa, pb, out=pa)
        np.abs(pa, out=pa)
        total += float(pa.mean(dtype=np.float64))
    return total / repeats


def _as_float(images: Tensor) -> Tensor:
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise GccGanError(f"SWD needs image batches (N, 3, H, W), got shape {tuple(images.shape)}")
    return images.float() if images.dtype == torch.uint8 else images.float().mul(127.5).add(127.5)


def swd(fake: Tensor, real: Tensor, seed: int = 0, nhoods: int = NHOODS_PER_IMAGE, repeats: int = DIR_REPEATS,
        dirs: int = DIRS_PER_REPEAT, norm: str = "own") -> SwdResult:
    """Multi-scale SWD between two image sets of one resolution: uint8 (0..255) or float in
    [-1, 1]. The sets may differ in size; the larger one is cut to the smaller's count.
    `norm`: "own" (ProGAN: each set by its own descriptor moments) or "real" (both by the
    second set's: `swd-real`)."""
    if norm not in NORMS:
        raise ValueError(f"norm {norm!r}: expected one of {NORMS}")
    fake, real = _as_float(fake), _as_float(real)
    if fake.shape[1:] != real.shape[1:]:
        raise GccGanError(f"SWD compares images of one shape: {tuple(fake.shape[1:])} vs {tuple(real.shape[1:])}")
    n = min(len(fake), len(real))
    if n < 2:
        raise GccGanError("SWD needs at least 2 images in each set")
    fake, real = fake[:n], real[:n]
    size = fake.shape[-1]
    levels = n_levels(min(fake.shape[-2:]))
    gen = torch.Generator().manual_seed(seed)
    pyr_f, pyr_r = laplacian_pyramid(fake, levels), laplacian_pyramid(real, levels)
    out: dict[int, float] = {}
    for lvl, (lf, lr) in enumerate(zip(pyr_f, pyr_r)):
        # one set of positions for both sets (image i of each): SWD(x, x) is exactly 0
        ys, xs = positions(n, lf.shape[-2], lf.shape[-1], nhoods, gen)
        raw_r = descriptors(lr, ys, xs)
        df = _normalize(descriptors(lf, ys, xs), raw_r if norm == "real" else None)
        dr = _normalize(raw_r)
        out[size >> lvl] = 1e3 * sliced_wasserstein(df, dr, repeats, dirs, gen)
    return SwdResult(out)
