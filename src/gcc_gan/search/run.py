"""A search run on disk: `gcc-gan search` is a thin wrapper around `search()`. One loop for
every (space, strategy) pair: the registered strategy's `Searcher` (base.py) is stepped,
checkpointed, resumed and finished here, whatever its step does (a supernet update, a
controller step, one DGGAN growth step with its children as executor jobs).

RUN/
  search.json          settings (method, space, strategy, evaluator, preset, flags), data spec, status
  history.jsonl        one line per logged step: losses, temperature, per-edge op probabilities
                       (DGGAN: one line per finished candidate and per step)
  checkpoints/step-*/  atomic, checksummed checkpoints (gcc_gan.checkpoints: modules.safetensors —
                       supernets, α —, optimizers.safetensors, state.json, history.jsonl so far)
  genotype.json        the derived genotype (validated; provenance: searcher, data, seed, cost)
  genotype.png         its generator's rendering;  op_probabilities.png: α over time
                       (random search: candidates.png, the candidates' proxy scores)
  samples.png          images from the final supernet (random search: the last candidate)

Default RUN: `runs/search-<method>`; when that exists, the next free `runs/search-<method>-N`
(so plain `gcc-gan search` twice never fails, never overwrites). An explicit `-o` that
exists is an error unless `--resume` (continue it) or `--force` (replace a search run).
`--resume` without `-o` continues the newest default run of the method.

Data parallel (AdversarialNAS, DEGAS; `gcc_gan.distributed`): under torchrun or `--nproc N`
every rank runs this loop on its shard of each batch; rank 0 alone checks and prepares the
run directory, takes the lock, writes history, checkpoints and results, and picks the
checkpoint every rank resumes from (any number of workers: the state is one copy).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ..atomic import atomic_write_bytes, atomic_write_text, disk_full_as_error
from ..checkpoints import (
    Checkpoint,
    clean_partial,
    console_warner,
    cpu_tensors,
    list_checkpoints,
    load_newest,
    optim_join,
    optim_split,
    write_checkpoint,
)
from ..console import make_console
from ..console import progress as phase
from ..distributed import (
    SINGLE,
    DataParallel,
    WorkerExit,
    close,
    end_rank_on_error,
    from_env,
    seed_rank,
    sync_batchnorm,
)
from ..errors import GccGanError, GenotypeError, Interrupted
from ..genotype_dsl.analysis import analyze_genotype
from ..genotype_dsl.io import save_genotype
from ..genotype_dsl.memory import check_resident
from ..genotype_dsl.model import Genotype, Provenance
from ..runlock import run_lock
from ..signals import interrupted_word
from ..train.data import SampleOrder, load_dataset, parse_data_spec
from ..train.images import save_grid
from ..train.run import resolve_device
from .base import Searcher
from .config import RESUMABLE, SearchConfig, make_config, resolve
from .health import UnhealthyResult, loss_health

RUN_FORMAT = 1


@dataclass
class SearchRequest:
    method: str | None = None  # None: adversarial for a new run; a resumed run's own (an equal one is accepted)
    data: str | None = None
    preset: str = "tiny"
    out: Path | None = None
    resume: bool = False
    force: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    threads: int | None = None  # CPU threads; None: 1 for the tiny preset, torch's default otherwise
    stop_after: int | None = None  # tests: stop (as if killed) after this many steps
    pareto: int = 0  # --pareto K: write the K best front candidates as pareto/NAME.json


DEFAULT_METHOD = "adversarial"
DATA_PARALLEL = ("adversarial", "degas")  # the methods that run data parallel (the others scale out on Ray)


@dataclass
class SearchResult:
    out: Path
    genotype: Path
    step: int
    seconds: float
    resumed_from: int | None


def make_searcher(cfg: SearchConfig, device: torch.device) -> Searcher:
    """The searcher the run loop steps: the class the registered triple names, on its space and strategy."""
    from .registry import SPACES, STRATEGIES, searcher_class

    cls = searcher_class(cfg.space, cfg.strategy, cfg.evaluator)
    return cls.build(cfg, device, SPACES.get(cfg.space), STRATEGIES.get(cfg.strategy))  # type: ignore[no-any-return]


def _method_flag(name: str | None) -> str:
    """` --method NAME` for a resume command where NAME is one (`--resume` takes the run's anyway)."""
    from .config import LEGACY_METHODS
    from .registry import METHOD_PRESETS

    return f" --method {name}" if name in (*METHOD_PRESETS, *LEGACY_METHODS) else ""


def default_out(method: str | None, resume: bool) -> Path:
    """runs/search-METHOD, or the next free runs/search-METHOD-N; to resume, the newest of
    them (any method's newest run when `method` is None)."""
    if resume and method is None:
        runs = sorted(Path("runs").glob("search-*/search.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise GccGanError("--resume: no runs/search-* run to resume (give the run directory with -o)")
        return runs[-1].parent
    base = Path("runs") / f"search-{method or DEFAULT_METHOD}"
    taken = [base] + [base.with_name(f"{base.name}-{k}") for k in range(2, 10_000)]
    existing = [p for p in taken if p.exists()]
    if resume:
        if not existing:
            raise GccGanError(f"--resume: no {base} run to resume (give the run directory with -o)")
        return existing[-1]
    return next(p for p in taken if not p.exists())


def _setup(req: SearchRequest, out: Path) -> tuple[SearchConfig, str]:
    if not req.resume:
        cfg = make_config(req.method, req.preset, req.overrides)
        data = parse_data_spec(req.data or "synthetic").text
        from .budget import refuse_unreachable, space_floor

        refuse_unreachable(cfg.budget, space_floor(cfg))  # before -o is touched, data loaded or anything trained
        if out.exists() and not out.is_dir():
            raise GccGanError(f"-o {out}: exists and is not a directory")
        if out.is_dir() and any(out.iterdir()):
            if not req.force:
                raise GccGanError(f"-o {out}: already exists; continue it with --resume, replace it with --force, "
                                  "or choose another -o")
            if not (out / "search.json").is_file():
                raise GccGanError(f"-o {out}: exists and is not a gcc-gan search run; refusing to delete it "
                                  "with --force (choose another -o)")
            shutil.rmtree(out)
        return cfg, data
    if not (out / "search.json").is_file():
        raise GccGanError(f"--resume: {out} is not a gcc-gan search run (no search.json)"
                          if out.exists() else f"--resume: {out} does not exist (nothing to resume)")
    try:
        meta = json.loads((out / "search.json").read_text())
        cfg = SearchConfig.from_dict(meta["config"])
        data = str(meta["data"])
    except (KeyError, TypeError, ValueError) as e:
        raise GccGanError(f"--resume: {out}/search.json is damaged ({e})") from None
    if req.data is not None and parse_data_spec(req.data).text != data:
        raise GccGanError(f"--resume: {out} searched on {data}, not {req.data}")
    given = {k: v for k, v in req.overrides.items() if v is not None}
    for k, v in given.items():
        if k not in RESUMABLE and getattr(cfg, k) != v:
            flag = {"dg_k": "k", "dg_p": "p"}.get(k, k).replace("_", "-")
            raise GccGanError(f"--resume: this run was started with {flag}={getattr(cfg, k)!r}, "
                              f"not {v!r}; resuming keeps the run's settings")
    if req.method is not None and req.method != cfg.method:  # the run's own method need not be repeated
        raise GccGanError(f"--resume: {out} is a search with --method {cfg.method}, not --method {req.method}; "
                          "leave --method out to continue it")
    cfg = dataclasses.replace(cfg, **{k: v for k, v in given.items() if k in RESUMABLE}).validate()
    return cfg, data


# --------------------------------------------------------------------------- checkpoints


CKPT_FORMAT = 2  # 1: a pickled state.pt (no longer read: loading a pickle can run code)


def save_checkpoint(root: Path, step: int, s: Searcher, elapsed: float, history: bytes = b"",
                    keep: int = 2, done: int | None = None) -> Path:
    """Any searcher's state through its generic interface: `modules()` (one tensor group,
    keys `MODULE/PARAM`), `optimizers()` (tensors + JSON) and `extra_state()` (JSON).
    `step` numbers the checkpoint; `done`, when it differs, the run-loop steps it holds."""
    if any("/" in k for k in s.modules()):
        raise ValueError(f"module names must not contain '/': {list(s.modules())}")
    modules = {f"{k}/{n}": v for k, m in s.modules().items() for n, v in cpu_tensors(m).items()}
    opt_t: dict[str, torch.Tensor] = {}
    opt_m: dict[str, Any] = {}
    for k, o in s.optimizers().items():
        t, m = optim_split(o, k)
        opt_t.update(t)
        opt_m[k] = m
    state = {"format": CKPT_FORMAT, "elapsed_s": elapsed, "optimizers": opt_m, "extra": s.extra_state()}
    if done is not None and done != step:
        state["steps_done"] = done
    groups = {k: v for k, v in (("modules", modules), ("optimizers", opt_t)) if v}  # DGGAN's: JSON alone
    return write_checkpoint(root, step, groups, state,
                            files={"history.jsonl": history}, keep=keep)


def load_checkpoint(path: Path, s: Searcher) -> tuple[int, float]:
    """Verify and restore one checkpoint directory; (step, elapsed seconds)."""
    from ..checkpoints import read_checkpoint

    ck = read_checkpoint(path)
    try:
        return ck.step, restore(ck, s)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise GccGanError(f"{path}: cannot restore search checkpoint ({type(e).__name__}: {e})") from None


def restore(ck: Checkpoint, s: Searcher) -> float:
    """Restore a checkpoint into searcher `s`; returns the elapsed seconds it recorded."""
    st = ck.state
    if st.get("format") != CKPT_FORMAT:
        raise ValueError(f"checkpoint format {st.get('format')!r} is not {CKPT_FORMAT}")
    s.load_extra_state(st["extra"])
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, v in ck.tensors.get("modules", {}).items():
        k, name = key.split("/", 1)
        groups.setdefault(k, {})[name] = v
    for k, m in s.modules().items():
        m.load_state_dict(groups[k])
    for k, o in s.optimizers().items():
        optim_join(o, k, ck.tensors.get("optimizers", {}), st["optimizers"][k])
    return float(st["elapsed_s"])


# --------------------------------------------------------------------------- the run


def search(req: SearchRequest, console: Console | None = None) -> SearchResult:
    """Run (or resume) a search; the CPU thread setting is restored afterwards. Under
    torch.distributed (torchrun's variables) this process is one rank of a data-parallel run."""
    before = torch.get_num_threads()
    if req.resume and req.force:
        raise GccGanError("--resume and --force contradict each other: pick one")
    dp = SINGLE
    name = req.method  # the run's name: its published method, else its strategy (config.resolve)
    if not req.resume:
        ov = req.overrides
        name = resolve(req.method, ov.get("space"), ov.get("strategy"), ov.get("evaluator"))[0]  # bad flags: exit 2
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if (name or DEFAULT_METHOD) not in DATA_PARALLEL and not (req.resume and req.method is None):
            raise GccGanError(f"--method {name}: data-parallel search (--nproc, torchrun) is for "
                              f"{' and '.join(DATA_PARALLEL)}; DGGAN trains its candidates in parallel itself (--workers, "
                              "--executor ray)")
        dp = from_env(resolve_device(req.device), 0)
        if not dp.main:
            console = Console(stderr=True, quiet=True)  # rank 0 alone prints
    out = req.out
    try:
        with contextlib.ExitStack() as stack:
            def lock() -> Path:  # a second search into the same run fails at once
                o = req.out if req.out is not None else default_out(name, req.resume)
                stack.enter_context(run_lock(o, f"-o {o}"))
                return o
            out = dp.share(lock)
            # wide where not a terminal, as the CLI's (scale --search calls this without one)
            res = _search(req, out, console or make_console(stderr=True), dp)
        if not dp.main:
            raise WorkerExit(0)  # done: rank 0 finishes the run and reports
        return res
    except GccGanError as e:
        end_rank_on_error(dp, e)
        raise
    except KeyboardInterrupt:
        if out is None or not dp.main:
            raise
        cks = list_checkpoints(out / "checkpoints")
        where = (f"the last checkpoint is {cks[-1]} (step {int(cks[-1].name[5:])})" if cks
                 else "no checkpoint had been written yet")
        method = _method_flag(name)  # optional: --resume takes the run's
        raise Interrupted(f"{interrupted_word()}; {where}. Continue with: gcc-gan search{method} --resume "
                          f"-o {shlex.quote(str(out))}") from None
    finally:
        torch.set_num_threads(before)
        close(dp)


def _search(req: SearchRequest, out: Path, console: Console, dp: DataParallel = SINGLE) -> SearchResult:
    t_start = time.perf_counter()
    check_resident("search")  # --max-memory below what the process already holds: refused before any work
    cfg, data_spec = dp.share(lambda: _setup(req, out))  # rank 0 checks (and --force clears) the run
    device = dp.device if dp.active else resolve_device(req.device)
    if dp.active:
        dp.check_batch(cfg.batch_size, "batch size")
    threads = req.threads if req.threads is not None else (1 if cfg.preset == "tiny" else None)
    if threads is not None:
        if threads < 1:
            raise GccGanError(f"--threads {threads}: must be at least 1")
        # tiny supernets gain nothing from intra-op threads, and on a busy machine OpenMP
        # threads spin-waiting on each other made a step 20x slower (measured)
        torch.set_num_threads(threads)
    searcher = make_searcher(cfg, device)
    searcher.bind_run(out, data_spec, console)
    searcher.preflight()  # e.g. DGGAN's missing FID Inception: said before the run directory is made
    data = load_dataset(data_spec, cfg.size) if searcher.reads_data else None
    check_resident("search")  # the data and the supernets (their first steps are checked below)
    if data is not None:
        searcher.bind_data(data)
    if dp.active:
        searcher.dp = dp
        for m in searcher.modules().values():
            sync_batchnorm(m)  # G's batch norms normalise over the global batch (distributed.py)
        dp.broadcast_modules(list(searcher.modules().values()))
        seed_rank(dp, cfg.seed)

    total = searcher.steps()
    ckpt_root = out / "checkpoints"
    start, elapsed0, last_ckpt = 0, 0.0, None
    resumed_from = None
    if req.resume:
        mine: list[tuple[Checkpoint, float] | None] = []

        def newest() -> tuple[Path, float] | None:
            mine.append(_resume_newest(ckpt_root, searcher, console))
            return None if mine[0] is None else (mine[0][0].path, mine[0][1])

        picked = dp.share(newest)
        found = mine[0] if dp.main else None
        if picked is not None and not dp.main:  # the checkpoint rank 0 restored, verified again
            from ..checkpoints import read_checkpoint

            ck = read_checkpoint(picked[0])
            restore(ck, searcher)
            found = (ck, picked[1])
        if found is None:
            console.print(f"note: {ckpt_root} holds no checkpoint; --resume starts {out} from step 0",
                          highlight=False, markup=False, soft_wrap=True)
        else:
            ck, elapsed0 = found
            start = searcher.resumed_step(ck.step, ck.state)
            if start > total:
                raise GccGanError(f"--resume: {out} is already at iteration {start}; --iters {total} would "
                                  f"end before it (give --iters {start} or more)")
            last_ckpt, resumed_from = ck.path, start
        # the history exactly as it was at the checkpoint (lines logged after it, a line a
        # kill cut short, bytes damaged since: all dropped and logged again)
        if dp.main:
            atomic_write_bytes(out / "history.jsonl", ck.files.get("history.jsonl", b"") if found else b"")
    meta = {"format": RUN_FORMAT, "config": cfg.to_dict(), "data": data_spec, "status": "running"}
    if dp.main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "search.json", json.dumps(meta, indent=1) + "\n")

    def checkpoint(seq: int, done: int) -> None:  # the searcher's own (a long step's) checkpoints
        nonlocal last_ckpt
        if dp.main:
            last_ckpt = save_checkpoint(ckpt_root, seq, searcher, elapsed0 + time.perf_counter() - t_start,
                                        history=(out / "history.jsonl").read_bytes(), done=done)

    searcher.checkpoint = checkpoint
    # DEGAS reads indices into its GLO set (the first n_images images), the others images
    order = SampleOrder(len(data) if searcher.reads_images else searcher.n_items, cfg.seed) if data is not None \
        else None
    n = 2 * cfg.batch_size
    console.print(f"{cfg.method} search {searcher.describe()} on {data.description if data is not None else data_spec}"
                  f"{f', {device}' if data is not None else ''}{f' × {dp.world} workers' if dp.active else ''}"
                  f"{f', {total} iterations' if data is not None else ''} → {out}"
                  + (f" (resuming from step {start})" if resumed_from is not None else ""), highlight=False)
    stop = total if req.stop_after is None else min(total, start + req.stop_after)
    try:
        with searcher.session(), \
                phase("search", total, console=console, completed=start, enabled=not searcher.own_progress) as task, \
                open(out / "history.jsonl" if dp.main else os.devnull, "a") as hist:
            for s in range(start, stop):
                batch: Any = None
                if order is not None and data is not None:
                    idx = order.indices(s * n, n)
                    # images: this rank's shard of each half-batch; DEGAS: the global indices
                    batch = data.batch(dp.shard_halves(idx)).to(device) if searcher.reads_images \
                        else torch.from_numpy(idx)
                losses = searcher.step(s, batch)
                step = s + 1
                if step <= 2 or step % cfg.log_every == 0:  # the first steps allocate what the run keeps
                    check_resident("search")
                health = loss_health(losses)  # search/health.py: non-finite or |loss| > LOSS_BOUND
                if not health.ok:
                    kept = (f"the last good checkpoint {last_ckpt} is kept" if last_ckpt
                            else "no checkpoint was written yet")
                    if dp.main:
                        atomic_write_text(out / "search.json", json.dumps({**meta, "status": "diverged"}, indent=1)
                                          + "\n")
                    raise GccGanError(f"search diverged at step {step}: {health.reason}; {kept}. Lower the learning "
                                      "rates (a paper-scale run) or change --seed, then start a new run")
                if searcher.log_due(step):
                    rec = searcher.history_record(step, losses, elapsed0 + time.perf_counter() - t_start)
                    if rec is not None:
                        with disk_full_as_error(out / "history.jsonl"):
                            hist.write(json.dumps(rec) + "\n")
                            hist.flush()
                    stats = "  ".join(f"{k} {v:.3f}" for k, v in losses.items()
                                      if k in ("d_loss", "g_loss", "loss", "tau", "reward"))
                    task.update(stats=stats)
                if searcher.checkpoint_due(step):
                    checkpoint(step, step)
                task.update(completed=step)
    except UnhealthyResult as e:  # no healthy candidate to go on with (DGGAN's base, a step's children)
        if dp.main:
            atomic_write_text(out / "search.json", json.dumps({**meta, "status": "unhealthy", "error": str(e)},
                                                              indent=1) + "\n")
        raise
    if stop < total or not dp.main:  # stopped early on request (tests); rank 0 alone finishes
        return SearchResult(out, out / "genotype.json", stop, time.perf_counter() - t_start, resumed_from)

    wall = elapsed0 + time.perf_counter() - t_start
    if resumed_from == total:
        console.print(f"all {total} iterations are done: deriving and writing the results only",
                      highlight=False)
    try:
        geno = _finish(searcher, cfg, data_spec, wall, out, req.pareto, data, console)
    except UnhealthyResult as e:  # the result itself is bad: resuming cannot help
        atomic_write_text(out / "search.json", json.dumps({**meta, "status": "unhealthy", "error": str(e)},
                                                          indent=1) + "\n")
        raise
    except Exception as e:  # the trained supernet is in the last checkpoint: say how to finish it
        reason = str(e) or type(e).__name__
        atomic_write_text(out / "search.json", json.dumps({**meta, "status": "failed", "error": reason},
                                                          indent=1) + "\n")
        from .budget import BudgetUnreachable

        if isinstance(e, BudgetUnreachable):  # the budget is a setting --resume keeps: resuming cannot help
            raise GccGanError(f"the search trained all {total} iterations, but {reason}. The budget is one of "
                              f"the run's settings (--resume keeps it): search again into a new -o with a budget "
                              "at or above that cost") from e
        raise GccGanError(f"the search trained all {total} iterations, but deriving and writing its results "
                          f"failed: {reason}. The trained supernet is kept in {last_ckpt}; once the cause is "
                          f"fixed, `gcc-gan search{_method_flag(cfg.method)} -o {shlex.quote(str(out))} --resume` "
                          "finishes the run without retraining (add --iters N to train further first)") from e
    atomic_write_text(out / "search.json", json.dumps({**meta, "status": "done", "wall_s": round(wall, 2),
                                                       "digest": geno.digest()}, indent=1) + "\n")
    return SearchResult(out, out / "genotype.json", total, time.perf_counter() - t_start, resumed_from)


def _resume_newest(root: Path, searcher: Searcher, console: Console) -> tuple[Checkpoint, float] | None:
    """Rank 0 (or the only process): the newest intact checkpoint, restored."""
    clean_partial(root)
    return load_newest(root, lambda ck: restore(ck, searcher), console_warner(console))


def final_health(searcher: Searcher, cfg: SearchConfig, data: Any) -> dict[str, Any] | None:
    """The emitted generator's health: as checked when it was scored (`kept_health`: random
    search, DGGAN), else the searcher's final samples (`samples(64)`: the derived supernet /
    best child, as samples.png shows it) against 64 real images. A collapsed or diverged
    result is an `UnhealthyResult`, not a genotype. None: no data to check against."""
    import numpy as np

    from .health import HEALTH_IMAGES, collapse_health, no_healthy_candidate

    kept = searcher.kept_health()
    if kept is not None or data is None:
        return kept
    fake = searcher.samples(HEALTH_IMAGES)
    idx = np.sort(np.random.default_rng(cfg.seed).choice(len(data), min(HEALTH_IMAGES, len(data)), replace=False))
    h = collapse_health(fake.cpu(), data.batch(idx), cfg.min_diversity)
    if not h.ok:
        raise no_healthy_candidate([h.status], "final generators", f"the derived generator is {h.status} "
                                   f"({h.reason}); try another --seed, more --iters, or lower learning rates")
    return h.to_json()


def _finish(searcher: Searcher, cfg: SearchConfig, data_spec: str, wall: float, out: Path,
            pareto_k: int = 0, data: Any = None, console: Console | None = None) -> Genotype:
    """The results of every search: genotype.json (with its provenance), genotype.png, the
    searcher's own outputs, samples.png and the Pareto front."""
    from ..viz.render import render_genotype
    from .budget import budget_record, check_final
    from .pareto import write_pareto

    gnet, dnet, enc, metrics = searcher.derive()
    line = searcher.health_summary()  # random search, AutoGAN, DGGAN: per candidate
    if console is not None and line is not None:
        console.print(line, highlight=False)
    health = final_health(searcher, cfg, data)
    if health is not None and health.get("diversity") is not None:
        if "diversity" not in metrics:  # a searcher's own measure wins
            metrics = {**metrics, "diversity": float(health["diversity"])}
        if console is not None:
            console.print(f"final generator: ok (per-pixel std over 64 latents {health['diversity']:.2f} of the "
                          "data's)", highlight=False)
    extra = searcher.provenance_extra()
    final = check_final(cfg.budget, gnet)  # a derivation over budget is a bug: never written
    prov = Provenance(searcher=cfg.method, dataset=data_spec, seed=cfg.seed,
                      search_cost={"wall_s": round(wall, 2), "iters": float(cfg.iters), **extra.get("search_cost", {}),
                                   **budget_record(cfg.budget, final)},
                      metrics=metrics, encoding=enc, evaluation=searcher.reward_protocol(data_spec),
                      notes=(extra.get("notes") or f"gcc-gan search --method {cfg.method} --preset {cfg.preset} "
                             f"--sampling {cfg.sampling}" + (" --fixed-d" if cfg.fixed_d else ""))
                      + (f"; budget {cfg.budget.describe()}" if cfg.budget.active else ""))
    geno = Genotype(name=searcher.result_name(), generator=gnet, discriminator=dnet,
                    provenance=searcher.provenance(prov))
    try:
        infos = analyze_genotype(geno)
    except GenotypeError as e:  # a derivation bug, never a user error: say so loudly
        raise RuntimeError(f"derived genotype is invalid: {e}") from None
    save_genotype(geno, out / "genotype.json")
    render_genotype(geno, infos, out / "genotype.png")
    searcher.write_outputs(out)  # AutoGAN: topk.json, child.safetensors, controller.png; DGGAN: weights, tree
    save_grid(searcher.samples(64), out / "samples.png")
    write_pareto(searcher, cfg, out, geno, pareto_k)
    return geno
