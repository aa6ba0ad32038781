"""The size-scaling sweep (`gcc-gan scale`): AdversarialNAS's experiment of training each
genotype at several generator sizes against one fixed discriminator with one budget.

DIR/
  state.json        the sweep's settings and every candidate's status (atomic; drives --resume)
  results.csv       one row per candidate: genotype, target size, width, params, MACs, IS, FID,
                    status, attempts, wall time, final losses, error (rewritten after each one)
  is_vs_size.png, fid_vs_size.png
  runs/<key>/       each candidate's training run (gcc-gan train's layout)

Evaluation without the FID Inception weights (this project never downloads them): the
sweep still trains and records params / MACs / losses, IS and FID are left empty with one
warning naming the file, and the plots say so. `--allow-random-inception` evaluates with
random weights in the right layout instead — the pipeline runs end to end, but the
numbers are labelled as NOT comparable with the papers (column `inception`, plot titles).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..atomic import atomic_write_text
from ..errors import GccGanError, Interrupted
from ..executor import make_executor, threads_per_job
from ..executor.base import Job, JobResult
from .candidate import Candidate, EvalSpec, run_candidate
from .plot import plot_metric
from .width import fit_width

STATE_FORMAT = 1
STATE, RESULTS = "state.json", "results.csv"
#: `--preset tiny` for the sweep: the trainer's tiny preset, cut to a smoke-run budget so six
#: candidates at 0.5–2 M parameters finish in minutes on 2 CPU cores (not a converged result)
SCALE_TINY: dict[str, Any] = dict(iters=20, batch_size=16, d_batch_size=16, log_every=5, checkpoint_every=10,
                                  sample_every=1000)
NUM_SAMPLES = {"tiny": 100, "paper": 50_000}
FID_MIN_SAMPLES = 2048
CSV_FIELDS = ["genotype", "source", "target_m", "base_width", "width_mult", "params", "params_m", "macs", "macs_g",
              "is", "is_std", "fid", "status", "attempts", "wall_s", "train_s", "eval_s", "d_loss", "g_loss",
              "inception", "error"]
RANDOM_NOTE = "random weights: NOT comparable with published IS/FID"


@dataclass
class ScaleRequest:
    genotypes: list[str]
    sizes: list[float]
    out: Path
    data: str = "synthetic"
    d: str = "zoo:sngan-d"
    preset: str | None = None
    iters: int | None = None
    seed: int = 0
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    threads: int | None = None  # torch threads per candidate (default: cores / workers)
    retries: int = 1
    num_samples: int | None = None
    inception_weights: str | None = None
    allow_random_inception: bool = False
    resume: bool = False
    device: str = "auto"
    progress: bool = True
    search: str | None = None  # --search METHOD: also search a generator at each size (budget: its params)


@dataclass
class ScaleResult:
    out: Path
    rows: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)  # completed earlier, not re-run


# --------------------------------------------------------------------------- inputs


def parse_sizes(text: str) -> list[float]:
    """'1,2,4' -> [1.0, 2.0, 4.0] (millions of generator parameters)."""
    sizes: list[float] = []
    for part in text.split(","):
        p = part.strip()
        if not p:
            continue
        try:
            v = float(p.removesuffix("M").removesuffix("m"))
        except ValueError:
            raise GccGanError(f"--sizes {text!r}: {p!r} is not a number (sizes are millions of parameters, "
                              "e.g. --sizes 1,2,4)") from None
        if not math.isfinite(v) or v <= 0:
            raise GccGanError(f"--sizes {text!r}: {p!r} must be a positive number of millions of parameters")
        if v in sizes:
            raise GccGanError(f"--sizes {text!r}: {p} is listed twice")
        sizes.append(v)
    if not sizes:
        raise GccGanError("--sizes: give at least one size in millions of parameters, e.g. --sizes 1,2,4")
    return sizes


def label_of(spec: str) -> str:
    if spec.startswith("zoo:"):
        return spec[4:]
    from ..genotype_dsl.io import load_genotype

    name = load_genotype(spec).name or Path(spec).stem
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "genotype"


def _train_overrides(req: ScaleRequest) -> dict[str, Any]:
    """TrainConfig fields every candidate shares (the width is added per candidate)."""
    from ..train.config import make_config

    extra: dict[str, Any] = dict(SCALE_TINY) if req.preset == "tiny" else {}
    if req.iters is not None:
        extra["iters"] = req.iters
    extra["seed"] = req.seed
    base = make_config(req.preset, extra)  # validates --iters / --seed / --preset
    extra["d_width"] = base.d_width  # the fixed D: the preset's width, never following G's
    return extra


def _check_d(spec: str) -> None:
    from ..genotype_dsl.io import load_genotype

    g = load_genotype(spec)
    if g.discriminator is None:
        raise GccGanError(f"--d {spec}: has no discriminator network")


def plan(req: ScaleRequest, overrides: dict[str, Any]) -> tuple[list[Candidate], dict[str, int]]:
    """Every (genotype, size) candidate with its width, and each genotype's image size."""
    from ..genotype_dsl.analysis import analyze
    from ..genotype_dsl.io import load_genotype

    if not req.genotypes and not req.search:
        raise GccGanError("name at least one genotype (FILE or zoo:NAME) to scale, or --search METHOD")
    if len(set(req.genotypes)) != len(req.genotypes):
        raise GccGanError("a genotype is listed twice")
    cands: list[Candidate] = []
    image_sizes: dict[str, int] = {}
    labels: set[str] = set()
    for spec in req.genotypes:
        g = load_genotype(spec)
        if g.generator is None:
            raise GccGanError(f"{spec}: has no generator network to scale")
        label = label_of(spec)
        if label in labels:
            raise GccGanError(f"{spec}: two genotypes are both called {label!r}; rename one (its \"name\" field)")
        labels.add(label)
        info = analyze(g.generator, "generator", role="generator")
        image_sizes[label] = int(next(iter(info.output_shapes.values()))[-1])
        for size in req.sizes:
            fit = fit_width(g.generator, round(size * 1e6), where=spec)
            key = f"{label}@{size:g}M"
            run_dir = req.out / "runs" / f"{label}-{size:g}M"
            cands.append(Candidate(key=key, label=label, genotype=spec, target_m=size, base_width=fit.base_width,
                                   mult=fit.mult, params=fit.params, macs=fit.macs, run_dir=str(run_dir),
                                   data=req.data, d=req.d, preset=req.preset,
                                   overrides={**overrides, "width": fit.mult}, device=req.device))
    for size in req.sizes if req.search else []:  # one searched genotype per size, trained at that size only
        path = searched_genotype(req, size)
        g = load_genotype(path)
        assert g.generator is not None
        label = f"search-{req.search}"
        info = analyze(g.generator, "generator", role="generator")
        image_sizes[label] = int(next(iter(info.output_shapes.values()))[-1])
        fit = fit_width(g.generator, round(size * 1e6), where=str(path))
        cands.append(Candidate(key=f"{label}@{size:g}M", label=label, genotype=str(path), target_m=size,
                               base_width=fit.base_width, mult=fit.mult, params=fit.params, macs=fit.macs,
                               run_dir=str(req.out / "runs" / f"{label}-{size:g}M"), data=req.data, d=req.d,
                               preset=req.preset, overrides={**overrides, "width": fit.mult}, device=req.device))
    return cands, image_sizes


SEARCH_DIR = "search"


def searched_genotype(req: ScaleRequest, size: float) -> Path:
    """`gcc-gan search --method METHOD --max-params SIZE` into OUT/search/METHOD-SIZEM (reused
    when done, resumed when interrupted). The budget is on the compiled generator's stored
    parameters at the search preset's width; the sweep then fits the width to SIZE like any
    genotype's, so at the paper preset (the width the budget binds at) the searched
    architecture is trained at about the size it was searched for; the tiny preset's narrow
    supernets are far below any size in M, so there the budget never binds."""
    from ..search.run import SearchRequest, search

    assert req.search is not None
    run = req.out / SEARCH_DIR / f"{req.search}-{size:g}M"
    if not (run / "genotype.json").is_file():
        search(SearchRequest(method=req.search, data=req.data, preset=req.preset or "tiny", out=run,
                             resume=(run / "search.json").is_file(), overrides={"max_params": round(size * 1e6),
                                                                               "seed": req.seed}))
    return run / "genotype.json"


# --------------------------------------------------------------------------- evaluation set-up


@dataclass
class EvalPlan:
    spec: EvalSpec | None
    mode: str  # "file", "random" or "none"
    sha256: str | None
    note: str  # for the CSV's `inception` column / plot titles


def resolve_eval(req: ScaleRequest, console: Console) -> EvalPlan:
    from ..bench.inception import (ENV_VAR, file_sha256, is_fid_inception, resolve_weights, save_random_weights,
                                   unverified_message)
    from ..cache import cache_root
    from ..console import warn

    n = req.num_samples if req.num_samples is not None else NUM_SAMPLES.get(req.preset or "paper", 50_000)
    if n < 10:
        raise GccGanError(f"--num-samples {n}: IS over 10 splits needs at least 10 samples")
    try:
        path = resolve_weights(req.inception_weights)
        mode = "file"
    except GccGanError as e:
        if req.inception_weights is not None or os.environ.get(ENV_VAR):
            raise  # a path the user named and that is not there: their mistake, not "unavailable"
        if not req.allow_random_inception:
            warn(f"IS / FID unavailable (the sweep records params, MACs and training losses only): {e} "
                 "For a smoke run of the whole pipeline, --allow-random-inception evaluates with random weights "
                 "(numbers NOT comparable with the papers).")
            return EvalPlan(None, "none", None, "unavailable")
        path = cache_root("inception-random-seed0.pth")
        if not path.is_file():
            save_random_weights(path, seed=0)
        mode = "random"
        warn(f"--allow-random-inception: IS / FID come from RANDOM Inception weights ({path}); they test the "
             "pipeline and are NOT comparable with published numbers")
    if n < FID_MIN_SAMPLES:
        warn(f"FID from {n} samples per candidate (fewer than {FID_MIN_SAMPLES}): the covariance is "
             "rank-deficient, so FIDs are biased upward and not comparable with published ones (50,000 samples)")
    sha = file_sha256(path)
    note = RANDOM_NOTE if mode == "random" else f"{path.name} sha256 {sha[:12]}"
    if mode == "file" and not is_fid_inception(sha):  # said once here, not by every candidate
        warn(unverified_message(path, sha))
        note += " (NOT the FID Inception)"
    return EvalPlan(EvalSpec(str(path), mode == "random", n, req.data), mode, sha, note)


def _prefetch_real(ev: EvalSpec, sizes: set[int], console: Console, progress: bool) -> None:
    """Real statistics once, here, before the candidates start (they then hit the cache)."""
    from ..bench.inception import load_inception
    from ..bench.stats import cached_real_stats

    inc = load_inception(ev.inception, "cpu", warn_unverified=False)  # resolve_eval has said it
    for s in sorted(sizes):
        console.print(f"real-data statistics: {ev.real} at {s}×{s}, {ev.num_samples} samples", highlight=False)
        cached_real_stats(ev.real, s, ev.num_samples, inc, ev.cache_dir, progress=progress)


# --------------------------------------------------------------------------- state and outputs


def _config(req: ScaleRequest, overrides: dict[str, Any], ev: EvalPlan) -> dict[str, Any]:
    from ..train.data import parse_data_spec

    return {"genotypes": list(req.genotypes), "sizes": list(req.sizes), "data": parse_data_spec(req.data).text,
            "d": req.d, "preset": req.preset, "train": overrides, "search": req.search,
            "eval": {"inception": ev.mode, "sha256": ev.sha256,
                     "num_samples": ev.spec.num_samples if ev.spec else None}}


def _row(c: Candidate, note: str) -> dict[str, Any]:
    return {"key": c.key, "genotype": c.label, "source": c.genotype, "target_m": c.target_m,
            "base_width": c.base_width, "width_mult": round(c.mult, 6), "params": c.params,
            "params_m": round(c.params / 1e6, 4), "macs": c.macs, "macs_g": round(c.macs / 1e9, 4),
            "is": None, "is_std": None, "fid": None, "status": "pending", "attempts": 0, "wall_s": None,
            "train_s": None, "eval_s": None, "d_loss": None, "g_loss": None, "inception": note, "error": None,
            "started": None}


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def write_outputs(out: Path, config: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    state = {"format": STATE_FORMAT, "config": config, "candidates": rows}
    atomic_write_text(out / STATE, json.dumps(state, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r.get(k)) for k in CSV_FIELDS})
    atomic_write_text(out / RESULTS, buf.getvalue())


def write_plots(out: Path, config: dict[str, Any], rows: list[dict[str, Any]], ev_note: str) -> None:
    train = config.get("train", {})
    budget = f"{config.get('preset') or 'paper'} preset, {train.get('iters', 'default')} iters" \
        if "iters" in train else f"{config.get('preset') or 'paper'} preset"
    title = f"vs {config['d']} on {config['data']}, {budget}"
    if config["eval"]["inception"] == "random":
        title += f"\n{RANDOM_NOTE.upper()}"
    none = ("IS unavailable: no FID Inception weights\n(weights-inception-2015-12-05-6726825d.pth;\n"
            "see --inception-weights)") if config["eval"]["inception"] == "none" else None
    plot_metric(rows, "is", "IS", out / "is_vs_size.png", title, none, "higher is better")
    plot_metric(rows, "fid", "FID", out / "fid_vs_size.png", title,
                none.replace("IS", "FID", 1) if none else None, "lower is better")


def _load_state(out: Path) -> dict[str, Any]:
    p = out / STATE
    if not p.is_file():
        raise GccGanError(f"--resume: {out} holds no sweep to resume (no {STATE}); drop --resume to start one")
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
        if state.get("format") != STATE_FORMAT or not isinstance(state.get("candidates"), list):
            raise ValueError("unknown format")
        return state
    except (ValueError, UnicodeDecodeError, AttributeError) as e:
        raise GccGanError(f"--resume: {p} is damaged ({e}); start a new sweep in another -o") from None


def saved_preset(out: Path) -> str | None:
    """The preset a sweep in `out` was started with (None: none was named, i.e. paper, or
    there is no readable sweep there: run_scale then says so)."""
    try:
        preset = _load_state(out).get("config", {}).get("preset")
    except GccGanError:
        return None
    return preset if isinstance(preset, str) else None


def _prepare_out(req: ScaleRequest, config: dict[str, Any], cands: list[Candidate], note: str
                 ) -> list[dict[str, Any]]:
    out = req.out
    if out.exists() and not out.is_dir():
        raise GccGanError(f"-o {out}: exists and is not a directory")
    fresh = [_row(c, note) for c in cands]
    if req.resume:
        state = _load_state(out)
        old = state.get("config", {})
        diff = [k for k in config if old.get(k) != config[k]]
        if diff:
            k = diff[0]
            raise GccGanError(f"--resume: this sweep was started with {k} = {json.dumps(old.get(k))}, not "
                              f"{json.dumps(config[k])}; resume with the same settings, or start a new sweep "
                              "in another -o")
        prev = {r.get("key"): r for r in state["candidates"] if isinstance(r, dict)}
        return [prev[r["key"]] if r["key"] in prev else r for r in fresh]
    if out.is_dir() and any(p.name != SEARCH_DIR or not req.search for p in out.iterdir()):
        if (out / STATE).is_file():
            raise GccGanError(f"-o {out}: already holds a sweep; continue it with --resume (or choose another -o)")
        raise GccGanError(f"-o {out}: exists and is not empty; choose a new directory")
    out.mkdir(parents=True, exist_ok=True)
    return fresh


# --------------------------------------------------------------------------- the sweep


def run_scale(req: ScaleRequest, console: Console | None = None) -> ScaleResult:
    from ..genotype_dsl.memory import check_resident
    from ..runlock import run_lock
    from ..signals import interrupted_word

    check_resident("sweep")  # a --max-memory below what the process already holds (candidates: each checked)
    try:
        with run_lock(req.out, f"-o {req.out}"):  # a second sweep into the same -o fails at once
            return _run_scale(req, console or Console(stderr=True))
    except KeyboardInterrupt:
        raise Interrupted(f"{interrupted_word()}; the candidates finished so far are recorded in {req.out / STATE}. "
                          f"Continue with: {resume_command(req)}") from None


def resume_command(req: ScaleRequest) -> str:
    """The command line that continues the sweep `req` (same settings, --resume)."""
    args = ["gcc-gan", "scale", *req.genotypes, "--sizes", ",".join(f"{v:g}" for v in req.sizes),
            "-o", str(req.out)]
    for flag, value, default in (("--data", req.data, "synthetic"), ("--d", req.d, "zoo:sngan-d"),
                                 ("--preset", req.preset, None), ("--iters", req.iters, None),
                                 ("--seed", req.seed, 0), ("--num-samples", req.num_samples, None),
                                 ("--inception-weights", req.inception_weights, None),
                                 ("--executor", req.executor, "local"), ("--device", req.device, "auto")):
        if value != default:
            args += [flag, str(value)]
    if req.allow_random_inception:
        args.append("--allow-random-inception")
    return shlex.join([*args, "--resume"])


def _run_scale(req: ScaleRequest, console: Console) -> ScaleResult:
    sizes = req.sizes
    if not sizes:
        raise GccGanError("--sizes: give at least one size")
    from ..train.data import parse_data_spec

    parse_data_spec(req.data)
    if req.threads is not None and not 1 <= req.threads <= 1024:
        raise GccGanError(f"--threads {req.threads}: must be between 1 and 1024")
    executor = make_executor(req.executor, req.workers, req.retries, req.address, console)  # bad name, no Ray
    overrides = _train_overrides(req)
    _check_d(req.d)
    if req.search and not req.resume and req.out.is_dir() and any(req.out.iterdir()):
        _prepare_out(req, {}, [], "")  # a used -o is refused before any search runs
    cands, image_sizes = plan(req, overrides)
    ev = resolve_eval(req, console)
    if ev.spec is not None:
        cands = [Candidate(**{**asdict_shallow(c), "eval": ev.spec}) for c in cands]
    config = _config(req, overrides, ev)
    rows = _prepare_out(req, config, cands, ev.note)
    by_key = {r["key"]: r for r in rows}
    skipped = [r["key"] for r in rows if r["status"] == "ok"]
    todo = [c for c in cands if by_key[c.key]["status"] != "ok"]
    write_outputs(req.out, config, rows)
    if skipped:
        console.print(f"resuming: {len(skipped)} candidate(s) already done ({', '.join(skipped)}), "
                      f"{len(todo)} to run", highlight=False)
    if todo and ev.spec is not None:
        _prefetch_real(ev.spec, {image_sizes[c.label] for c in todo}, console, req.progress)

    workers = min(executor.workers, max(1, len(todo)))
    executor.workers = workers
    threads = threads_per_job(workers) if req.threads is None else req.threads
    if hasattr(executor, "threads"):
        executor.threads = threads  # type: ignore[attr-defined]
    for c in todo:
        console.print(f"{c.key}: base width {c.base_width} (×{c.mult:.4g}), {c.params / 1e6:.3f} M params, "
                      f"{c.macs / 1e9:.3f} G MACs", highlight=False)

    def on_result(res: JobResult) -> None:
        r = by_key[res.key]
        r["attempts"] = int(r.get("attempts") or 0) + res.attempts
        r["status"] = res.status
        r["wall_s"] = res.wall_s
        r["error"] = res.error
        if res.ok:
            v = res.value
            for k in ("is", "is_std", "fid", "protocol", "train_s", "eval_s", "d_loss", "g_loss", "started"):
                r[k] = v.get(k)
        write_outputs(req.out, config, rows)

    jobs = [Job(c.key, run_candidate, (c,), threads=threads) for c in todo]
    console.print(f"{len(jobs)} candidate(s) on the {executor.name} executor, {workers} at a time, "
                  f"{threads} thread(s) each", highlight=False)
    executor.run(jobs, on_result=on_result, progress=req.progress, label="scale")
    write_plots(req.out, config, rows, ev.note)
    return ScaleResult(req.out, rows, skipped)


def asdict_shallow(c: Candidate) -> dict[str, Any]:
    """dataclasses.asdict without recursing into (and copying) nested values."""
    return {f: getattr(c, f) for f in c.__dataclass_fields__}


__all__ = ["ScaleRequest", "ScaleResult", "parse_sizes", "run_scale", "plan", "write_outputs", "write_plots",
           "SCALE_TINY"]
