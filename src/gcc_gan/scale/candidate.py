"""One sweep candidate, as an executor job: train a genotype's generator at one width
against the fixed discriminator, then (when Inception weights are available) evaluate IS
and FID of its EMA weights. Runs in a worker process; a deterministic function of its
arguments. Training goes through the trainer's public `train()` (its run directory under
the sweep's `runs/`), so a candidate killed mid-training continues from its last
checkpoint when the sweep resumes, ending with the weights an uninterrupted run has."""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GccGanError


@dataclass(frozen=True)
class EvalSpec:
    inception: str  # weights file
    random: bool  # random weights (smoke runs): numbers NOT comparable with the papers
    num_samples: int
    real: str  # data spec of the real images
    cache_dir: str | None = None  # real-statistics cache (None: the bench default)
    batch_size: int = 64


@dataclass(frozen=True)
class Candidate:
    key: str  # "<label>@<size>M": unique in the sweep
    label: str
    genotype: str  # FILE or zoo:NAME
    target_m: float
    base_width: int
    mult: float
    params: int
    macs: int
    run_dir: str
    data: str
    d: str
    preset: str | None
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    eval: EvalSpec | None = None
    device: str = "auto"


def _quiet() -> Any:
    from rich.console import Console

    return Console(quiet=True)  # the sweep shows one progress bar over candidates instead


def _train(c: Candidate) -> Any:
    from ..train.run import TrainRequest, train

    run = Path(c.run_dir)
    fresh = TrainRequest(out=run, genotype=c.genotype, data=c.data, d=c.d, preset=c.preset,
                         overrides=dict(c.overrides), force=True, device=c.device)
    if (run / "config.json").is_file() and (run / "genotype.json").is_file():
        # an earlier attempt got this far: continue it (settings come from its config.json)
        again = TrainRequest(out=run, genotype=c.genotype, data=c.data, d=c.d, preset=None,
                             overrides=dict(c.overrides), resume=True, device=c.device)
        try:
            return train(again, console=_quiet())
        except GccGanError as e:
            if not str(e).startswith("--resume"):
                raise
            shutil.rmtree(run)  # unusable leftovers of a killed attempt: start over
    elif run.exists():
        shutil.rmtree(run)  # killed before its first file: nothing worth keeping
    return train(fresh, console=_quiet())


def _last_losses(run: Path) -> tuple[float | None, float | None]:
    try:
        with open(run / "log.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return float(rows[-1]["d_loss"]), float(rows[-1]["g_loss"])
    except (OSError, IndexError, KeyError, TypeError, ValueError):
        return None, None


def evaluate(run: Path, ev: EvalSpec, device: str) -> dict[str, Any]:
    """IS and FID of a training run's final EMA generator (bench's metric path), with the
    protocol record bench keeps beside its numbers (kept in state.json's candidates)."""
    import torch
    from safetensors.torch import load_file

    from ..bench.inception import load_inception
    from ..bench.features import generator_features
    from ..bench.metric_fid import frechet_distance, frechet_distance_low_rank, statistics
    from ..bench.metric_is import inception_score
    from ..bench.stats import resolve_real
    from ..compiler.interpreter import Interpreter
    from ..genotype_dsl.analysis import analyze
    from ..genotype_dsl.io import load_genotype

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    g = load_genotype(str(run / "genotype.json"))
    assert g.generator is not None
    info = analyze(g.generator, "generator", role="generator")
    gen = Interpreter(info)
    gen.load_state_dict(load_file(str(run / "generator.safetensors")), strict=True)
    gen = gen.to(dev).eval()
    inc = load_inception(ev.inception, dev, warn_unverified=False)  # the sweep has said it once
    dims = [s[0] for s in info.input_shapes.values()]
    feats = generator_features(inc, gen, dims, ev.num_samples, ev.batch_size, progress=False)
    is_mean, is_std = inception_score(feats.logits)
    size = int(next(iter(info.output_shapes.values()))[-1])
    real = resolve_real(ev.real, size, ev.num_samples, inc, ev.cache_dir, progress=False)
    # bench's fid() without its per-call small-sample warning: the sweep warns once
    pool = feats.pool
    fid = (frechet_distance_low_rank(pool, real.gaussian) if len(pool) <= pool.shape[1]
           else frechet_distance(statistics(pool), real.gaussian))
    from ..bench.features import SEED
    from ..bench.metric_is import IS_SPLITS
    from ..bench.protocol import get_protocol
    from ..bench.quality import base_record, real_record

    record = base_record(get_protocol(None).with_overrides(num_samples=ev.num_samples), [SEED], inc)
    record.update(is_splits=IS_SPLITS, real=real_record(ev.real, [real]))
    return {"is": is_mean, "is_std": is_std, "fid": fid, "protocol": record}


def run_candidate(c: Candidate) -> dict[str, Any]:
    """The job: returns what the sweep records (metrics None when not evaluated)."""
    started = time.time()
    t0 = time.perf_counter()
    res = _train(c)
    train_s = time.perf_counter() - t0
    d_loss, g_loss = _last_losses(Path(c.run_dir))
    out: dict[str, Any] = {"started": started, "step": res.step, "train_s": train_s, "d_loss": d_loss,
                           "g_loss": g_loss, "is": None, "is_std": None, "fid": None, "eval_s": None}
    if c.eval is not None:
        t1 = time.perf_counter()
        out.update(evaluate(Path(c.run_dir), c.eval, c.device))
        out["eval_s"] = time.perf_counter() - t1
    return out
