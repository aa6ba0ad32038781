"""IS / FID / KID / PRDC and SWD of one benchmark target over `repeats` latent seeds, each
number with the protocol that produced it (bench/protocol.py).

Repeat i draws latents with seed `seed + i` and, where the real set is larger than the
protocol's real count, another real subset (subset seed i). With one repeat, IS's ± is
over its splits and KID's over its subsets (as the papers report them); with several, ±
is the sample standard deviation (n − 1) over the repeats, and the split / subset spread
of each run is kept beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from ..console import progress as phase
from ..console import warn, warnings_once
from ..pixels import to_uint8
from .features import generated_batches, generator_features
from .metric_fid import fid
from .metric_is import inception_score
from .metric_kid import kid, kid_subset_size
from .metric_prdc import PRDC_MAX, prdc

if TYPE_CHECKING:
    from .inception import Inception
    from .protocol import Protocol
    from .stats import RealStats
    from .targets import Target

PRDC_KEYS = ("precision", "recall", "density", "coverage")


def spread(values: list[float]) -> dict[str, Any]:
    """Mean and sample std over repeats (std None for one run)."""
    v = [float(x) for x in values]
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            "std_of": "repeats" if len(v) > 1 else None, "values": v}


def spread_pairs(pairs: list[tuple[float, float]], inner: str) -> dict[str, Any]:
    """(mean, std over `inner`) per run -> one record: ± over `inner` for one run, over the
    repeats for several (each run's inner std kept as `{inner}_std`)."""
    means = [m for m, _ in pairs]
    if len(pairs) == 1:
        return {"mean": means[0], "std": pairs[0][1], "std_of": inner, "values": means}
    return {**spread(means), f"{inner}_std": [s for _, s in pairs]}


def real_record(source: str, reals: list[RealStats]) -> dict[str, Any]:
    """The real side of a protocol record: source, count, subsets, the stats file's sha256."""
    from .inception import file_sha256

    r0 = reals[0]
    rec: dict[str, Any] = {"source": source, "num_samples": r0.gaussian.n,
                           "dataset_size": r0.dataset_size, "subsampled": r0.subsampled,
                           "subset_seeds": sorted({int(r.protocol.get("subset_seed", 0)) for r in reals})}
    if r0.file is not None and r0.file.is_file():
        rec["file"] = str(r0.file)
        rec["file_kind"] = "stats file" if source.endswith(".npz") else "cached stats"
        rec["sha256"] = file_sha256(r0.file)
    return rec


def base_record(p: Protocol, seeds: list[int], inc: Inception) -> dict[str, Any]:
    """What every quality number's protocol record holds (bench rows, scale results)."""
    return {"preset": p.to_json(), "num_generated": p.num_samples, "latent_seeds": seeds, "repeats": len(seeds),
            "truncation": p.truncation,
            "inception": {"path": str(inc.path), "sha256": inc.sha256, "fid_inception": inc.verified}}


def quality_runs(session: Any, t: Target, real_of: Callable[[int], RealStats] | None) -> dict[str, Any]:
    """The row entries for IS / FID / KID / PRDC (`session`: a bench runner Session)."""
    o, p, inc = session.opts, session.protocol, session.inception
    m = set(o.metrics)
    runs: list[dict[str, Any]] = []
    reals: list[RealStats] = []
    seeds = [o.seed + i for i in range(o.repeats)]
    with warnings_once():  # the same small-sample warnings would come once per repeat
        for i, seed in enumerate(seeds):
            # real statistics before the long generation: a bad --real fails first
            real = real_of(i) if real_of is not None else None
            feats = generator_features(inc, t.module, t.latent_dims, p.num_samples, o.batch_size, seed, o.progress,
                                       p.fid_mode)
            r: dict[str, Any] = {}
            if "is" in m:
                r["is"] = inception_score(feats.logits, p.is_splits, seed=seed)
            if real is not None:
                reals.append(real)
                if "fid" in m:
                    r["fid"] = fid(feats, real.gaussian)
                if "kid" in m:
                    r["kid"] = kid(feats.pool, real.kid_features, p.kid_subsets, p.kid_subset_size, seed=seed)
                if "prdc" in m:
                    r["prdc"] = prdc(real.kid_features[:PRDC_MAX], feats.pool[:PRDC_MAX], p.prdc_k)
            runs.append(r)
    record = base_record(p, seeds, inc)
    out: dict[str, Any] = {"num_samples": p.num_samples}
    if "is" in m:
        record["is_splits"] = p.is_splits
        out["is"] = spread_pairs([r["is"] for r in runs], "splits")
    if reals:
        record["real"] = real_record(o.real, reals)
        out["real"] = {"source": o.real, "num_samples": reals[0].gaussian.n}
    if "fid" in runs[0]:
        out["fid"] = spread([r["fid"] for r in runs])
    if "kid" in runs[0]:
        size = kid_subset_size(p.kid_subset_size, p.num_samples, len(reals[0].kid_features))
        record["kid"] = {"subsets": p.kid_subsets, "subset_size": size, "requested": p.kid_subset_size}
        if size < p.kid_subset_size:
            t.notes.append(f"KID subsets reduced from {p.kid_subset_size} to {size} images (the smaller set)")
        out["kid"] = spread_pairs([r["kid"] for r in runs], "subsets")
    if "prdc" in runs[0]:
        record["prdc_k"] = p.prdc_k
        record["prdc_samples"] = {"generated": min(p.num_samples, PRDC_MAX),
                                  "real": min(len(reals[0].kid_features), PRDC_MAX)}
        out["prdc"] = {k: spread([r["prdc"][k] for r in runs]) for k in PRDC_KEYS}
    out["protocol"] = record
    return out


def swd_runs(session: Any, t: Target) -> dict[str, Any]:
    """SWD (bench/swd.py) over the repeats' latent seeds; repeat i also draws real images
    with seed `seed + i`."""
    from ..train.data import load_dataset
    from .swd import MAX_IMAGES, swd

    o = session.opts
    if o.swd_asked_more:
        warn(f"SWD uses at most {MAX_IMAGES} images (ProGAN's protocol), not --num-samples {o.num_samples}")
    data = load_dataset(o.real or "", t.image_size)
    n = min(o.swd_samples, len(data))
    seeds = [o.seed + i for i in range(o.repeats)]
    t.module.eval()
    results = []
    for seed in seeds:
        real = to_uint8(data.batch(np.random.RandomState(seed).choice(len(data), n, replace=False)))
        with phase(f"{t.label}: SWD, generating", n, enabled=o.progress, transient=True) as step:
            fake = []
            for x in generated_batches(t.module, t.latent_dims, n, o.batch_size, seed, session.device):
                fake.append(x.cpu())
                step.advance(len(x))
        with phase(f"{t.label}: SWD of {n} generated vs {n} real images", enabled=o.progress, transient=True):
            results.append(swd(torch.cat(fake), real, seed=seed).to_json())
    levels = {k: float(np.mean([r["levels"][k] for r in results])) for k in results[0]["levels"]}
    return {**spread([r["mean"] for r in results]), "levels": levels, "num_samples": n, "real": o.real,
            "protocol": {"num_generated": n, "num_real": n, "real": o.real, "latent_seeds": seeds,
                         "repeats": o.repeats, "resize": "none (native resolution)", "truncation": None,
                         "max_images": MAX_IMAGES}}
