"""Real-data statistics for FID / KID, cached on disk.

A stats file (`.npz`) holds the float64 mean and covariance of the real images' Inception
pool features, a capped random subset of the features themselves (for KID), and the
protocol that produced them: dataset spec, resolution, sample count, Inception weights
hash, resize mode, format version. The cache file name is a hash of that protocol, and a
loaded file's stored protocol is compared again, so changing any part of it (other
weights, another resolution, more samples, a new format) recomputes instead of silently
reusing stale numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ..atomic import atomic_write_bytes
from ..cache import cache_root
from ..errors import GccGanError
from .inception import Inception
from .features import extract
from .metric_fid import Gaussian, statistics
from .protocol import RESIZE_NAMES

VERSION = 1
KID_CAP = 5000  # real features kept for KID (5000 × 2048 float32 = 40 MB)
DEFAULT_REAL_SAMPLES = 50_000
SUBSET_SEED = 0  # which real images form the sample when the dataset is larger than n


@dataclass
class RealStats:
    gaussian: Gaussian
    kid_features: np.ndarray  # (≤ KID_CAP, 2048) float32, a seeded random subset (KID and PRDC use it)
    protocol: dict[str, Any]
    dataset_size: int | None = None  # images in the real set (n < dataset_size: a subsample)
    file: Path | None = None  # the stats file read or cached

    @property
    def subsampled(self) -> bool:
        return self.dataset_size is not None and self.gaussian.n < self.dataset_size


def protocol(dataset: str, size: int, n: int, inception: Inception, fid_mode: str = "legacy-tf",
             subset_seed: int = SUBSET_SEED) -> dict[str, Any]:
    p = {"version": VERSION, "dataset": dataset, "size": int(size), "num_samples": int(n),
         "inception_sha256": inception.sha256, "resize": RESIZE_NAMES[fid_mode], "features": "pool3-2048",
         "kid_cap": KID_CAP, "dtype": "float64"}
    if subset_seed != SUBSET_SEED:  # only then: the default's cache keys stay as they were
        p["subset_seed"] = int(subset_seed)
    return p


def protocol_key(p: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """Where stats files are cached: `stats/` in the gcc-gan cache directory."""
    return cache_root("stats")


def cache_path(p: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", p["dataset"]).strip("_")[:60] or "data"
    return Path(cache_dir or default_cache_dir()) / f"{slug}-{p['size']}px-{p['num_samples']}-{protocol_key(p)}.npz"


def save_stats(path: str | os.PathLike[str], s: RealStats) -> None:
    """Atomic: a killed run never leaves a truncated stats file for the next run to trust."""
    buf = io.BytesIO()
    np.savez(buf, mu=s.gaussian.mu, sigma=s.gaussian.sigma, n=np.int64(s.gaussian.n),
             kid_features=s.kid_features, protocol=np.array(json.dumps(s.protocol, sort_keys=True)),
             **({} if s.dataset_size is None else {"dataset_size": np.int64(s.dataset_size)}))
    atomic_write_bytes(path, buf.getvalue())


def load_stats(path: str | os.PathLike[str]) -> RealStats:
    p = Path(path)
    if not p.is_file():
        raise GccGanError(f"{p}: no such stats file (make one with: gcc-gan stats DATASPEC -o {p.name})")
    try:
        with np.load(p, allow_pickle=False) as z:
            mu, sigma, n = z["mu"], z["sigma"], int(z["n"])
            kf = z["kid_features"]
            proto = json.loads(str(z["protocol"]))
            total = int(z["dataset_size"]) if "dataset_size" in z.files else None
    except KeyError as e:
        raise GccGanError(f"{p}: not a gcc-gan stats file (no {e} array); "
                          "make one with: gcc-gan stats DATASPEC -o FILE") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        raise GccGanError(f"{p}: not a gcc-gan stats file (expected an .npz archive of mu, sigma, kid_features, "
                          "protocol); make one with: gcc-gan stats DATASPEC -o FILE") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]) or kf.ndim != 2 or kf.shape[1] != mu.shape[0]:
        raise GccGanError(f"{p}: inconsistent shapes in stats file (mu {mu.shape}, sigma {sigma.shape}, "
                          f"kid_features {kf.shape})")
    if not isinstance(proto, dict):
        raise GccGanError(f"{p}: stats file has no protocol record")
    return RealStats(Gaussian(mu.astype(np.float64), sigma.astype(np.float64), n), kf, proto, total, p)


def real_batches(dataset: Any, indices: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """uint8 (B, 3, H, W) batches of the dataset's images at `indices`."""
    images = getattr(dataset, "images", None)  # in-memory uint8: no float round trip
    for start in range(0, len(indices), batch_size):
        idx = indices[start:start + batch_size]
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            yield images[torch.from_numpy(idx)]
        else:
            x = dataset.batch(idx)
            yield x.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def compute_real_stats(spec: str, size: int, n: int | None, inception: Inception, batch_size: int = 64,
                       progress: bool = True, dataset: Any = None, fid_mode: str = "legacy-tf",
                       subset_seed: int = SUBSET_SEED) -> RealStats:
    """Statistics of `n` real images of `spec` (all of them when it has fewer) at `size`;
    which `n` (and which go to KID / PRDC) is drawn with `subset_seed`."""
    from ..train.data import load_dataset

    ds = dataset if dataset is not None else load_dataset(spec, size)
    total = len(ds)
    n = min(total, n if n is not None else DEFAULT_REAL_SAMPLES)
    if n < 2:
        raise GccGanError(f"{spec}: need at least 2 real images, the dataset has {total}")
    # shuffled even when all images are used: the KID / PRDC subset must not be the first
    # files of a class-sorted folder
    order = np.random.RandomState(subset_seed).permutation(total)[:n]
    feats = extract(inception, real_batches(ds, order, batch_size), n, f"real images ({n})", progress, fid_mode)
    return RealStats(statistics(feats.pool), feats.pool[:KID_CAP].copy(),
                     protocol(spec, size, n, inception, fid_mode, subset_seed), total)


def cached_real_stats(spec: str, size: int, n: int | None, inception: Inception,
                      cache_dir: str | os.PathLike[str] | None = None, batch_size: int = 64,
                      progress: bool = True, fid_mode: str = "legacy-tf",
                      subset_seed: int = SUBSET_SEED) -> tuple[RealStats, bool]:
    """(stats, cache hit?). Keyed by the requested sample count, so a hit never touches
    the dataset at all (listing a large folder or LSUN lmdb is not free)."""
    want = protocol(spec, size, n if n is not None else DEFAULT_REAL_SAMPLES, inception, fid_mode, subset_seed)
    path = cache_path(want, cache_dir)
    if path.is_file():
        try:
            s = load_stats(path)
            if s.protocol == want:
                return s, True
        except GccGanError:
            pass  # a corrupt cache entry is recomputed, not trusted
    s = compute_real_stats(spec, size, want["num_samples"], inception, batch_size, progress,
                           fid_mode=fid_mode, subset_seed=subset_seed)
    s.protocol = want
    save_stats(path, s)
    s.file = path
    return s, False


def check_compatible(s: RealStats, inception: Inception, source: str, fid_mode: str = "legacy-tf") -> None:
    """A stats file must come from the same Inception weights and protocol version."""
    p = s.protocol
    if p.get("version") != VERSION:
        raise GccGanError(f"{source}: stats format version {p.get('version')} (this gcc-gan writes {VERSION}); "
                          "recompute with gcc-gan stats")
    if p.get("inception_sha256") != inception.sha256:
        raise GccGanError(f"{source}: computed with other Inception weights "
                          f"(sha256 {str(p.get('inception_sha256'))[:12]}…, "
                          f"now {inception.sha256[:12]}… from {inception.path}); recompute with gcc-gan stats")
    want = RESIZE_NAMES[fid_mode]
    if p.get("resize") != want:
        raise GccGanError(f"{source}: computed with resize {p.get('resize')!r}, not {want!r} (--fid-mode "
                          f"{fid_mode}); recompute with gcc-gan stats --fid-mode {fid_mode}")


def resolve_real(real: str, size: int, n: int | None, inception: Inception,
                 cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                 fid_mode: str = "legacy-tf", subset_seed: int = SUBSET_SEED) -> RealStats:
    """`--real`: a stats `.npz` file, or a data spec (statistics cached; `subset_seed`
    draws which images where the set has more than `n`)."""
    if real.endswith(".npz"):
        s = load_stats(real)
        check_compatible(s, inception, real, fid_mode)
        return s
    return cached_real_stats(real, size, n, inception, cache_dir, progress=progress, fid_mode=fid_mode,
                             subset_seed=subset_seed)[0]
