"""A training run on disk: `gcc-gan train` is a thin wrapper around `train()`.

RUN/
  config.json            settings (preset + flags), data spec, width multipliers, sources
  genotype.json          the trained networks AT THE TRAINED WIDTH (G, and D sized to the data)
  log.csv                step, losses (window means), LRs, images/s, elapsed seconds
  samples/step-*.png     periodic grids of the EMA generator on a fixed latent batch
  samples/final.png      the final grid;  real_vs_fake.png: real (left) vs generated (right)
  checkpoints/step-*/    atomic, checksummed checkpoints (see checkpoint.py), the newest two kept
  generator.safetensors  the final EMA generator in the canonical layout:
                         gcc-gan compile RUN/genotype.json --weights RUN/generator.safetensors
  tb/                    TensorBoard events, when tensorboard is installed

Data parallel (`gcc_gan.distributed`, torchrun or `--nproc N`): every rank runs this loop on
its shard of each batch; rank 0 alone checks and prepares the run directory, holds the
lock, writes logs, samples, checkpoints and the final generator, and picks the checkpoint
every rank resumes from (the state is one copy: resume with any number of workers).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from rich.console import Console

from ..atomic import atomic_write_bytes, atomic_write_text, disk_full_as_error
from ..compiler.interpreter import Interpreter
from ..errors import GccGanError, Interrupted
from ..genotype_dsl.analysis import NetInfo, analyze
from ..genotype_dsl.io import load_genotype, parse_genotype, read_json
from ..genotype_dsl.memory import check_memory, check_resident
from ..genotype_dsl.model import Genotype, ImageInput, LatentInput, Network
from ..runlock import run_lock
from ..seeding import mix_seed
from ..signals import deferred_interrupts, interrupted_word, raise_pending
from ..checkpoints import Checkpoint, console_warner, read_checkpoint
from ..distributed import (SINGLE, DataParallel, WorkerExit, end_rank_on_error, close, from_env,
                           seed_rank, sync_batchnorm)
from .checkpoint import clean_partial, load_newest_checkpoint, restore, save_checkpoint, tensors_of
from .config import TrainConfig, make_config
from .data import SampleOrder, load_dataset, parse_data_spec
from .images import save_grid, save_side_by_side
from .trainer import GanTrainer

RUN_FORMAT = 1
LOG_FIELDS = ["step", "d_loss", "g_loss", "lr_g", "lr_d", "images_per_s", "elapsed_s"]
DIVERGED_ABS = 1e6  # a loss this large means the run has blown up even if still finite
RESUMABLE = {"iters", "log_every", "sample_every", "checkpoint_every"}  # may change on --resume


@dataclass
class TrainRequest:
    out: Path
    genotype: str | None = None  # FILE or zoo:NAME; optional with resume
    data: str | None = None  # default: synthetic
    d: str | None = None  # discriminator source; default: the genotype's own, else zoo:sngan-d
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields; None = not given
    size: int | None = None
    resume: bool = False
    force: bool = False
    device: str = "auto"
    threads: int | None = None  # CPU threads for torch (default: torch's choice)


@dataclass
class RunResult:
    out: Path
    step: int
    generator: Path
    seconds: float
    resumed_from: int | None


@dataclass
class _Setup:
    cfg: TrainConfig
    genotype: Genotype  # networks at the trained width; D sized to the data
    data_spec: str
    size: int
    sources: dict[str, str]


# --------------------------------------------------------------------------- setup


def resolve_device(name: str) -> torch.device:
    """`--device` (cpu, cuda or auto) as a torch device, with a clear error if unusable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise GccGanError(f"--device {name!r}: expected cpu, cuda or auto")
    if name == "cuda" and not torch.cuda.is_available():
        raise GccGanError("--device cuda: no CUDA GPU is available to this PyTorch (use --device cpu)")
    return torch.device(name)


def _generator(spec: str) -> tuple[Genotype, Network, int, int]:
    g = load_genotype(spec)
    if g.generator is None:
        raise GccGanError(f"{spec}: has no generator network to train (it holds only a discriminator)")
    info = analyze(g.generator, "generator", role="generator")
    lat = [i for i in g.generator.inputs if isinstance(i, LatentInput)]
    outs = list(info.output_shapes.values())
    if len(g.generator.inputs) != 1 or len(lat) != 1 or len(outs) != 1 or len(outs[0]) != 3 \
            or outs[0][1] != outs[0][2]:
        raise GccGanError(f"{spec}: the trainer needs a generator with one latent input and one square image "
                          f"output; this one has inputs {[i.name for i in g.generator.inputs]} and outputs "
                          f"{ {k: v for k, v in info.output_shapes.items()} }")
    if outs[0][0] != 3:
        raise GccGanError(f"{spec}: the generator makes {outs[0][0]}-channel images; the datasets are RGB (3)")
    return g, g.generator, lat[0].dim, outs[0][1]


def _discriminator(spec: str, size: int) -> Network:
    g = load_genotype(spec)
    if g.discriminator is None:
        raise GccGanError(f"--d {spec}: has no discriminator network")
    net = g.discriminator
    imgs = [i for i in net.inputs if isinstance(i, ImageInput)]
    if len(net.inputs) != 1 or len(imgs) != 1 or len(net.outputs) != 1:
        raise GccGanError(f"--d {spec}: the trainer needs a discriminator with one image input and one output")
    # D's resolution follows the data (SNGAN's D is resolution-agnostic; a final linear re-sizes)
    net = net.model_copy(update={"inputs": [imgs[0].model_copy(update={"size": size, "channels": 3})]})
    info = _analyze(net, "discriminator", f"--d {spec} at {size}×{size}")
    outs = list(info.output_shapes.values())
    if math.prod(outs[0]) != 1:
        raise GccGanError(f"--d {spec}: its output is {outs[0]} per image at {size}×{size}; the trainer needs "
                          "one logit per image")
    return net


def _analyze(net: Network, role: str, where: str) -> NetInfo:
    from ..errors import GenotypeError

    try:
        return analyze(net, role, role=role)
    except GenotypeError as e:
        raise GenotypeError(e.problems, source=where) from None


def _fresh_setup(req: TrainRequest) -> _Setup:
    if req.genotype is None:
        raise GccGanError("missing GENOTYPE (a genotype file or zoo:NAME) to train")
    cfg = make_config(req.preset, req.overrides)
    src, gnet, _, size = _generator(req.genotype)
    if req.size is not None and req.size != size:
        raise GccGanError(f"--size {req.size}: {req.genotype}'s generator makes {size}×{size} images; "
                          f"train it at --size {size} (or use a genotype built for {req.size}×{req.size})")
    d_spec = req.d or (req.genotype if src.discriminator is not None else "zoo:sngan-d")
    dnet = _discriminator(d_spec, size)
    data = parse_data_spec(req.data or "synthetic").text
    g_scaled, d_scaled = gnet.scaled(cfg.width), dnet.scaled(cfg.d_width)
    _analyze(g_scaled, "generator", f"{req.genotype} at --width {cfg.width}")
    _analyze(d_scaled, "discriminator", f"--d {d_spec} at --d-width {cfg.d_width}")
    prov = src.provenance.model_copy(update={"dataset": data, "seed": cfg.seed})
    geno = Genotype(name=src.name, generator=g_scaled, discriminator=d_scaled, provenance=prov)
    return _Setup(cfg, geno, data, size, {"genotype": req.genotype, "d": d_spec})


def _resume_setup(req: TrainRequest) -> _Setup:
    out = req.out
    if not out.exists():
        raise GccGanError(f"--resume: {out} does not exist (nothing to resume; drop --resume to start a run)")
    if not (out / "config.json").is_file() or not (out / "genotype.json").is_file():
        raise GccGanError(f"--resume: {out} is not a gcc-gan training run (no config.json / genotype.json)")
    try:
        conf = json.loads((out / "config.json").read_text())
        cfg = TrainConfig.from_dict(conf["train"])
        geno = parse_genotype(read_json(out / "genotype.json"), str(out / "genotype.json"))
        data, size, sources = conf["data"], int(conf["size"]), conf["sources"]
    except (KeyError, TypeError, ValueError) as e:
        raise GccGanError(f"--resume: {out}/config.json is damaged ({e})") from None
    if req.preset is not None:
        raise GccGanError("--resume takes its settings from RUN/config.json; drop --preset")
    for k, v in req.overrides.items():
        if v is not None and k not in RESUMABLE and getattr(cfg, k) != v:
            raise GccGanError(f"--resume: this run was started with {k.replace('_', '-')}={getattr(cfg, k)!r}, "
                              f"not {v!r}; resuming keeps the run's settings (drop the option, or start a new run)")
    if req.genotype is not None and req.genotype != sources.get("genotype"):
        src = load_genotype(req.genotype)
        if src.generator is None or src.generator.scaled(cfg.width) != geno.generator:
            raise GccGanError(f"--resume: {out} was trained from {sources.get('genotype')}, not {req.genotype}")
    if req.data is not None and parse_data_spec(req.data).text != data:
        raise GccGanError(f"--resume: {out} was trained on {data}, not {req.data}")
    if req.size is not None and req.size != size:
        raise GccGanError(f"--resume: {out} was trained at --size {size}, not {req.size}")
    given = {k: v for k, v in req.overrides.items() if v is not None and k in RESUMABLE}
    cfg = dataclasses.replace(cfg, **given).validate()
    return _Setup(cfg, geno, data, size, sources)


def _prepare_out(req: TrainRequest, delete: bool) -> None:
    """Check -o for a fresh run (early, before slow work); with `delete`, clear an old run."""
    out = req.out
    if out.exists() and not out.is_dir():
        raise GccGanError(f"-o {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not req.force:
            raise GccGanError(f"-o {out}: already exists; continue it with --resume, or start over with --force")
        if not (out / "config.json").is_file():
            raise GccGanError(f"-o {out}: exists and is not a gcc-gan training run; refusing to delete it with "
                              "--force (choose another -o)")
        if delete:
            shutil.rmtree(out)


# --------------------------------------------------------------------------- the run


def train(req: TrainRequest, console: Console | None = None,
          on_step: Callable[[GanTrainer], None] | None = None) -> RunResult:
    """Run (or resume) a training run. `on_step(trainer)` runs after every iteration —
    a hook for callers that watch training (tests use it to inject a fault)."""
    console = console or Console(stderr=True)
    if req.resume and req.force:
        raise GccGanError("--resume and --force contradict each other: pick one")
    dp = SINGLE
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # one rank of a data-parallel run (torchrun, --nproc)
        dp = from_env(resolve_device(req.device), 0)
        if not dp.main:
            console = Console(stderr=True, quiet=True)  # rank 0 alone prints
    try:
        with contextlib.ExitStack() as stack:  # a second train into the same run fails at once
            dp.share(lambda: stack.enter_context(run_lock(req.out, f"-o {req.out}")) and None)
            res = _train(req, console, on_step, dp)
        if not dp.main:
            raise WorkerExit(0)  # done: rank 0 writes the results and reports
        return res
    except GccGanError as e:
        end_rank_on_error(dp, e)
        raise
    except KeyboardInterrupt:
        if not dp.main:
            raise WorkerExit(130) from None
        raise
    finally:
        close(dp)


def _train(req: TrainRequest, console: Console, on_step: Callable[[GanTrainer], None] | None,
           dp: DataParallel = SINGLE) -> RunResult:
    t_start = time.perf_counter()
    device = dp.device if dp.active else resolve_device(req.device)
    if req.threads is not None:
        if not 1 <= req.threads <= 1024:
            raise GccGanError(f"--threads {req.threads}: must be between 1 and 1024")
        torch.set_num_threads(req.threads)  # on a busy machine 1 thread can beat 2 spin-waiting ones
    def prepare() -> _Setup:  # rank 0 (or the only process) checks the run directory
        st = _resume_setup(req) if req.resume else _fresh_setup(req)
        if not req.resume:
            _prepare_out(req, delete=False)
        return st

    setup = dp.share(prepare)
    cfg = setup.cfg
    if dp.active:
        dp.check_batch(cfg.batch_size, "batch size")
        dp.check_batch(cfg.d_batch_size, "D batch size")
    data = load_dataset(setup.data_spec, setup.size)
    if data.size != setup.size:  # defensive: every loader resizes to `size`
        raise GccGanError(f"{setup.data_spec}: images are {data.size}×{data.size}, expected {setup.size}")
    for role, net, batch in (("generator", setup.genotype.generator, cfg.batch_size),
                             ("discriminator", setup.genotype.discriminator, cfg.d_batch_size)):
        if net is not None:  # an oversized network is refused before anything is allocated or deleted
            check_memory(analyze(net, role, role=role), batch, training=True, what=role)
    if not req.resume and dp.main:  # only now that every input is known good: nothing is deleted for nothing
        _prepare_out(req, delete=True)
    dp.barrier()

    torch.manual_seed(cfg.seed)
    assert setup.genotype.generator is not None and setup.genotype.discriminator is not None
    g_info = analyze(setup.genotype.generator, "generator", role="generator")
    d_info = analyze(setup.genotype.discriminator, "discriminator", role="discriminator")
    g, d, g_ema = Interpreter(g_info), Interpreter(d_info), Interpreter(g_info)
    if dp.active:  # batch norm in G or D normalises over the global batch (distributed.py)
        sync_batchnorm(g)
        sync_batchnorm(d)
        dp.broadcast_modules([g, d])
        seed_rank(dp, cfg.seed)
    latent = next(iter(g_info.input_shapes.values()))[0]
    trainer = GanTrainer(g, d, latent, cfg, device, g_ema=g_ema, dp=dp)

    out = req.out
    ckpt_root = out / "checkpoints"
    resumed_from = None
    elapsed0 = 0.0
    last_ckpt: Path | None = None
    window: list[tuple[torch.Tensor, torch.Tensor]] = []  # losses since the last log row
    if req.resume:
        mine: list[tuple[Checkpoint, dict[str, Any]] | None] = []

        def newest() -> Path | None:
            clean_partial(ckpt_root)
            mine.append(load_newest_checkpoint(ckpt_root, trainer, console_warner(console)))
            return None if mine[0] is None else mine[0][0].path

        picked = dp.share(newest)
        found = mine[0] if dp.main else None
        if picked is not None and not dp.main:  # the checkpoint rank 0 restored, verified again
            ck = read_checkpoint(picked)
            found = (ck, restore(ck, trainer))
        if found is None:
            if dp.main:
                console.print(f"note: {ckpt_root} holds no checkpoint; --resume starts {out} from iteration 0",
                              highlight=False, markup=False, soft_wrap=True)
                atomic_write_text(out / "log.csv", "")  # rows of the lost iterations are logged anew
        else:
            ck, state = found
            resumed_from, last_ckpt = trainer.step, ck.path
            elapsed0 = float(state.get("elapsed_s", 0.0))
            window = [(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
                      for a, b in state.get("log_window", [])]
            # the log exactly as it was at the checkpoint: rows logged after it (or a line a
            # kill cut short, or bytes damaged since) are dropped and logged again
            if dp.main:
                atomic_write_bytes(out / "log.csv", ck.files.get("log.csv", b""))
    elif dp.main:
        out.mkdir(parents=True, exist_ok=True)
        # config.json first: a run dir holding it can always be --force'd away if killed here
        atomic_write_text(out / "config.json", json.dumps(_config_json(setup, out), indent=1) + "\n")
        atomic_write_text(out / "genotype.json", setup.genotype.to_json())
    if req.resume and dp.main:
        # iters or intervals may have changed on resume: keep config.json truthful
        atomic_write_text(out / "config.json", json.dumps(_config_json(setup, out), indent=1) + "\n")

    z_fixed = torch.randn(64, latent, generator=torch.Generator().manual_seed(mix_seed(cfg.seed, 777)))
    order = SampleOrder(len(data), cfg.seed)
    n_real = cfg.n_critic * cfg.d_batch_size
    console.print(f"training {setup.sources.get('genotype')} G ({g_info.params / 1e6:.3f} M params) vs "
                  f"{setup.sources.get('d')} D ({d_info.params / 1e6:.3f} M) on {data.description}, {device}"
                  f"{f' × {dp.world} workers' if dp.active else ''}, "
                  f"{cfg.loss} loss, {cfg.iters} iterations → {out}"
                  + (f" (resuming from step {resumed_from})" if resumed_from is not None else ""), highlight=False)

    try:
        return _loop(req, console, on_step, setup, trainer, data, z_fixed, order, n_real, t_start, elapsed0,
                     resumed_from, last_ckpt, window)
    except KeyboardInterrupt:
        last = _newest(ckpt_root)
        where = (f"the last checkpoint is {last} (iteration {int(last.name[5:])})" if last is not None
                 else "no checkpoint had been written yet")
        raise Interrupted(f"{interrupted_word()} at iteration {trainer.step}; {where}. Continue with: "
                          f"gcc-gan train --resume -o {shlex.quote(str(out))}") from None


def _newest(root: Path) -> Path | None:
    from ..checkpoints import list_checkpoints

    cks = list_checkpoints(root)
    return cks[-1] if cks else None


def _loop(req: TrainRequest, console: Console, on_step: Callable[[GanTrainer], None] | None, setup: _Setup,
          trainer: GanTrainer, data: Any, z_fixed: torch.Tensor, order: SampleOrder, n_real: int, t_start: float,
          elapsed0: float, resumed_from: int | None, last_ckpt: Path | None,
          pending: list[tuple[torch.Tensor, torch.Tensor]]) -> RunResult:
    cfg, out, device, dp = setup.cfg, req.out, trainer.device, trainer.dp
    ckpt_root = out / "checkpoints"
    # Ctrl-C / SIGTERM: the step under way finishes, a checkpoint is written at it (so an
    # early stop always resumes where it stopped), then the run ends with the message
    with (_Logger(out, console, cfg, trainer.step) if dp.main else _NullLogger()) as log, \
            deferred_interrupts() as stop_requested:
        t_win, win_start = time.perf_counter(), trainer.step
        while trainer.step < cfg.iters:
            s = trainer.step
            reals = [data.batch(dp.shard(order.indices((s * cfg.n_critic + k) * cfg.d_batch_size,
                                                       cfg.d_batch_size)))  # this rank's shard
                     for k in range(cfg.n_critic)]
            res = trainer.train_step(reals)
            if on_step is not None:
                on_step(trainer)
            pending.append((res.d_loss, res.g_loss))
            step = trainer.step
            at_log, at_ckpt = step % cfg.log_every == 0 or step == cfg.iters, step % cfg.checkpoint_every == 0
            if at_log or step - (resumed_from or 0) <= 2:  # the first steps allocate what the run keeps
                check_resident("training")
            # checking costs a device sync: every step on CPU (free), at log/checkpoint steps on GPU
            if device.type == "cpu" or at_log or at_ckpt:
                dl, gl = _check(pending, step, last_ckpt, out)
                if at_log:
                    now = time.perf_counter()
                    ips = (step - win_start) * n_real / max(now - t_win, 1e-9)
                    f = trainer.lr_at(step - 1)
                    log.row(step, dl, gl, cfg.lr_g * f, cfg.lr_d * f, ips,
                            elapsed0 + now - t_start)
                    t_win, win_start = now, step
                    pending.clear()
                elif device.type == "cpu":
                    log.advance(step)
            if step % cfg.sample_every == 0 and dp.main:
                save_grid(trainer.sample(z_fixed), out / "samples" / f"step-{step:08d}.png")
            stopping = stop_requested()
            if at_ckpt or step == cfg.iters or stopping:
                if not trainer.weights_finite():
                    _diverged(step, "weights are not finite", last_ckpt, out)
                window = [[float(a), float(b)] for a, b in pending]  # losses not yet in a log row
                if dp.main:
                    last_ckpt = save_checkpoint(ckpt_root, trainer,
                                                {"elapsed_s": elapsed0 + time.perf_counter() - t_start,
                                                 "log_window": window},
                                                files={"log.csv": log.contents()})
            if stopping:
                raise_pending()

    if not dp.main:  # rank 0 alone writes the results
        return RunResult(out, trainer.step, out / "generator.safetensors", time.perf_counter() - t_start,
                         resumed_from)
    # final artifacts (also rewritten when resuming an already finished run)
    fake = trainer.sample(z_fixed)
    save_grid(fake, out / "samples" / "final.png")
    idx = np.random.default_rng(cfg.seed).choice(len(data), size=min(64, len(data)), replace=False)
    save_side_by_side(data.batch(np.sort(idx)), fake, out / "real_vs_fake.png")
    gen_path = out / "generator.safetensors"
    _save_generator(trainer, setup, gen_path)
    return RunResult(out, trainer.step, gen_path, time.perf_counter() - t_start, resumed_from)


def _save_generator(trainer: GanTrainer, setup: _Setup, path: Path) -> None:
    from safetensors.torch import save

    # one metadata key: safetensors writes a multi-key map in random order (files would differ)
    info = {"format": "gcc-gan canonical layout", "weights": "ema" if setup.cfg.ema > 0 else "raw",
            "step": trainer.step, "width": setup.cfg.width,
            "genotype_digest": Genotype(generator=setup.genotype.generator).digest()}
    meta = {"gcc_gan": json.dumps(info, sort_keys=True)}
    atomic_write_bytes(path, save(tensors_of(trainer.g_ema), metadata=meta))


def _config_json(setup: _Setup, out: Path) -> dict[str, Any]:
    return {
        "format": RUN_FORMAT, "sources": setup.sources, "data": setup.data_spec, "size": setup.size,
        "train": setup.cfg.to_dict(),
        "weights": {"generator.safetensors": "final EMA generator, canonical layout, at the trained width",
                    "compile": f"gcc-gan compile {out}/genotype.json --weights {out}/generator.safetensors",
                    "compile_from_source": f"gcc-gan compile {setup.sources.get('genotype')} --weights "
                                           f"{out}/generator.safetensors --width {setup.cfg.width}"},
    }


def _check(pending: list[tuple[torch.Tensor, torch.Tensor]], step: int, last: Path | None,
           out: Path) -> tuple[float, float]:
    """Window-mean losses; stops the run if any is NaN/inf or absurdly large."""
    ls = torch.stack([torch.stack([a.float().cpu(), b.float().cpu()]) for a, b in pending])
    bad = ~torch.isfinite(ls) | (ls.abs() > DIVERGED_ABS)
    if bool(bad.any()):
        i = int(bad.any(dim=1).nonzero()[0])
        at = step - len(pending) + 1 + i
        _diverged(at, f"D loss {ls[i, 0].item():.4g}, G loss {ls[i, 1].item():.4g}", last, out)
    m = ls.mean(dim=0)
    return float(m[0]), float(m[1])


def _diverged(step: int, what: str, last: Path | None, out: Path) -> None:
    keep = (f"the last good checkpoint {last} is kept" if last is not None
            else "no checkpoint had been written yet")
    raise GccGanError(f"training diverged at iteration {step}: {what}. Stopped; {keep} (final weights not written). "
                      f"Start over (--force) with a lower --lr, another --loss, or a different seed.")


class _NullLogger:
    """The log of a rank other than 0: nothing is written."""

    def __enter__(self) -> "_NullLogger":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def contents(self) -> bytes:
        return b""

    def advance(self, step: int) -> None:
        pass

    def row(self, *args: Any) -> None:
        pass


class _Logger:
    """CSV log, TensorBoard (when installed) and the progress bar."""

    def __init__(self, out: Path, console: Console, cfg: TrainConfig, step: int) -> None:
        self.out, self.console, self.cfg, self.start = out, console, cfg, step

    def __enter__(self) -> "_Logger":
        path = self.out / "log.csv"
        new = not path.is_file() or path.stat().st_size == 0
        self.csv_file = open(path, "a", newline="")
        self.csv = csv.DictWriter(self.csv_file, LOG_FIELDS)
        if new:
            self.csv.writeheader()
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.out / "tb"), purge_step=self.start + 1)
        except ImportError:  # tensorboard is optional
            pass
        from ..console import progress

        self.progress = progress("train", self.cfg.iters, console=self.console, completed=self.start)
        self.task = self.progress.__enter__()
        return self

    def contents(self) -> bytes:
        """The log as written so far (for the checkpoint, which restores it on resume)."""
        self.csv_file.flush()
        return (self.out / "log.csv").read_bytes()

    def advance(self, step: int) -> None:
        self.task.update(completed=step)

    def row(self, step: int, dl: float, gl: float, lr_g: float, lr_d: float, ips: float, elapsed: float) -> None:
        with disk_full_as_error(self.out / "log.csv"):
            self.csv.writerow({"step": step, "d_loss": f"{dl:.6g}", "g_loss": f"{gl:.6g}", "lr_g": f"{lr_g:.6g}",
                               "lr_d": f"{lr_d:.6g}", "images_per_s": f"{ips:.1f}", "elapsed_s": f"{elapsed:.1f}"})
            self.csv_file.flush()
        if self.tb is not None:
            for k, v in (("loss/d", dl), ("loss/g", gl), ("lr/g", lr_g), ("speed/images_per_s", ips)):
                self.tb.add_scalar(k, v, step)
        stats = f"D {dl:.3f}  G {gl:.3f}  {ips:.0f} img/s"
        self.task.update(completed=step, stats=stats)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)
        self.csv_file.close()
        if self.tb is not None:
            self.tb.close()
