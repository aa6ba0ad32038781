"""Data parallel over torch.distributed for differentiable search and GAN training.

A run with N workers computes the same steps as one process over the same global batch:

* every rank holds a full replica (same seed → same initial weights; rank 0's copy is
  broadcast once to make sure) and takes a disjoint, contiguous shard of every batch:
  rank r of N gets rows [r·B/N, (r+1)·B/N) of the global batch B (B must divide by N);
* every step's randomness that defines the step (the global batch of latents, Gumbel noise,
  WGAN-GP mixing weights, the data order) is drawn from (seed, step, substep) exactly as in
  one process and is identical on every rank; each rank slices its own shard of it. That
  is what makes the results independent of N. The rank's own torch RNG
  (`torch.manual_seed(mix_seed(seed, rank))`, set after the networks are built) is what
  any other randomness would use; nothing in the steps draws from it today;
* the gradients of weights AND architecture parameters are all-reduced (sum / N: each
  rank's loss is the mean over its equal shard, so the average is the global-batch mean);
* batch norm in training mode normalises with the statistics of the global batch
  (`DistBatchNorm`, autograd-aware all-reduce of per-channel sums): a searched or trained G
  with BN (AdversarialNAS's to-RGB BN, DEGAS's BN before every conv, DCGAN's G) would
  otherwise see per-shard statistics and its outputs would depend on N. The AdversarialNAS
  super-D and SNGAN's D have no BN, so they need nothing;
* reported losses are averaged over the ranks; rank 0 alone writes run files; checkpoints
  hold rank 0's copy (all replicas are equal), so a run resumes with any number of workers.

Launch: `--nproc N` makes gcc-gan start N workers on this machine (`launch`, which is also
the watchdog), or run under torchrun, which sets the same variables:
`torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d --rdzv-endpoint HOST:29500
-m gcc_gan.cli.main search ...`. Backend: gloo on CPU, NCCL on CUDA (one rank per GPU,
`LOCAL_RANK` selects it). A collective waits at most `GCC_GAN_DIST_TIMEOUT` seconds
(default 300: rank 0 writes checkpoints and pictures while the others wait).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from .errors import GccGanError
from .seeding import mix_seed
from .signals import die_with_parent_fn, exit_code

T = TypeVar("T")
PARENT_ENV = "GCC_GAN_DIST_PARENT"  # set by `launch`: the watchdog reports a lost worker
PEER_LOST_EXIT = 75  # a worker that saw a collective fail exits with this, silently, under `launch`


class WorkerExit(SystemExit):
    """A non-zero rank leaves quietly: rank 0 reported the reason (or will)."""


class PeerLost(GccGanError):
    """A collective failed: another worker of the run is gone."""


@dataclass
class DataParallel:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes run files and prints."""
        return self.rank == 0

    # ------------------------------------------------------------------ sharding

    def check_batch(self, n: int, what: str) -> None:
        if n % self.world:
            raise GccGanError(f"{what} {n} does not divide among {self.world} workers: the global batch is split "
                              "into equal shards (choose a batch size or worker count that divides it)")

    def shard(self, x: T) -> T:
        """Rank r's contiguous 1/N of `x` along its first axis (a tensor or numpy array)."""
        if not self.active:
            return x
        n = x.shape[0]  # type: ignore[attr-defined]
        self.check_batch(n, "batch")
        k = n // self.world
        return x[self.rank * k:(self.rank + 1) * k]  # type: ignore[index]

    def shard_halves(self, idx: np.ndarray) -> np.ndarray:
        """The searchers read two disjoint half-batches A | B per step: shard each half."""
        h = idx.shape[0] // 2
        return np.concatenate([self.shard(idx[:h]), self.shard(idx[h:])])

    # ------------------------------------------------------------------ collectives

    def average(self, grads: Sequence[Tensor | None]) -> None:
        """All-reduce gradients in place to their mean over the ranks (one flat buffer)."""
        if not self.active:
            return
        live = [g for g in grads if g is not None]
        if not live:
            return
        flat = torch.cat([g.reshape(-1) for g in live])
        _collective(torch.distributed.all_reduce, flat)
        flat.div_(self.world)
        off = 0
        for g in live:
            g.copy_(flat[off:off + g.numel()].view_as(g))
            off += g.numel()

    def average_grads(self, params: Sequence[nn.Parameter]) -> None:
        self.average([p.grad for p in params])

    def mean(self, values: dict[str, float], skip: Sequence[str] = ("tau",)) -> dict[str, float]:
        """Per-rank losses → their mean over the ranks (= the global-batch loss)."""
        if not self.active:
            return values
        keys = [k for k in values if k not in skip]
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.device)
        _collective(torch.distributed.all_reduce, t)
        return {**values, **{k: float(v) / self.world for k, v in zip(keys, t.tolist())}}

    def mean_tensors(self, ts: Sequence[Tensor]) -> list[Tensor]:
        if not self.active:
            return list(ts)
        t = torch.stack([x.detach().to(self.device, torch.float64).reshape(()) for x in ts])
        _collective(torch.distributed.all_reduce, t)
        return list((t / self.world).unbind())

    def broadcast_modules(self, modules: Sequence[nn.Module]) -> None:
        """Rank 0's parameters and buffers everywhere (replicas start identical)."""
        if not self.active:
            return
        for m in modules:
            for t in [*m.parameters(), *m.buffers()]:
                with torch.no_grad():
                    _collective(torch.distributed.broadcast, t.data, src=0)

    def share(self, fn: Callable[[], T]) -> T:
        """Rank 0 computes fn() (its errors are its own to print), the others receive the
        result; when rank 0 fails, the others leave quietly."""
        if not self.active:
            return fn()
        box: list[Any] = [None]
        err: BaseException | None = None
        if self.main:
            try:
                box[0] = ("ok", fn())
            except BaseException as e:  # noqa: BLE001 - re-raised below, after telling the others
                box[0], err = ("err", None), e
        _collective(torch.distributed.broadcast_object_list, box, src=0)
        if err is not None:
            raise err
        status, value = box[0]
        if status != "ok":
            raise WorkerExit(1)
        return value  # type: ignore[no-any-return]

    def barrier(self) -> None:
        if self.active:
            _collective(torch.distributed.barrier)


def _collective(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except (RuntimeError, torch.distributed.DistError) as e:
        raise PeerLost(f"a collective failed, another worker of this run is gone ({str(e).splitlines()[0]})") \
            from None


SINGLE = DataParallel()


def end_rank_on_error(dp: DataParallel, e: GccGanError) -> None:
    """How a rank ends on a user error (the caller re-raises on rank 0): a rank that lost a
    peer exits silently under `launch` (its watchdog says which worker died); any other rank
    exits 1, since every rank met the same error and rank 0 reports it."""
    if isinstance(e, PeerLost) and os.environ.get(PARENT_ENV):
        raise WorkerExit(PEER_LOST_EXIT) from None
    if not dp.main:
        raise WorkerExit(1) from None


def from_env(device: torch.device, seed: int) -> DataParallel:
    """The process group torchrun (or `launch`) described in the environment, or SINGLE."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":  # one rank per GPU
        if local >= torch.cuda.device_count():
            raise GccGanError(f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} GPUs; start at most "
                              "one worker per GPU (--nproc / --nproc_per_node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = timedelta(seconds=float(os.environ.get("GCC_GAN_DIST_TIMEOUT", "300")))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend, timeout=timeout)
    return DataParallel(rank, world, device)


def seed_rank(dp: DataParallel, seed: int) -> None:
    """Each rank's own torch RNG: derived from (seed, rank) (the step draws do not use it)."""
    if dp.active:
        torch.manual_seed(mix_seed(seed, 1_000_003, dp.rank))


def close(dp: DataParallel) -> None:
    if dp.active and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# --------------------------------------------------------------------------- batch norm


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks; the backward sums the ranks' gradients (each rank's loss term
    depends on every rank's input through the shared statistics)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:  # noqa: ARG004
        y = x.clone()
        _collective(torch.distributed.all_reduce, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:  # noqa: ARG004
        g = g.clone()
        _collective(torch.distributed.all_reduce, g)
        return g


class DistBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the global batch: per-channel sums all-reduced (with autograd, so
    the backward also reaches the other shards' inputs). Same parameters, buffers and
    state_dict keys as the nn.BatchNorm it replaces; eval mode is plain BN."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3, 4, 5):
            raise ValueError(f"expected 2-D to 5-D input (got {input.dim()}-D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xs = x.to(torch.promote_types(x.dtype, torch.float32))  # statistics in fp32 under autocast
        sums = torch.stack([xs.sum(dims), (xs * xs).sum(dims)])
        sums = _AllReduceSum.apply(sums)
        n = (x.numel() // x.shape[1]) * torch.distributed.get_world_size()
        mean = sums[0] / n
        var = (sums[1] / n - mean * mean).clamp_min(0)
        y = (xs - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        y = y.to(x.dtype)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                assert self.num_batches_tracked is not None
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean), m)
                self.running_var.lerp_((var.detach() * n / max(n - 1, 1)).to(self.running_var), m)
        return y


def sync_batchnorm(module: nn.Module) -> int:
    """Replace every nn.BatchNorm1d/2d/3d in `module` by a DistBatchNorm sharing its
    parameters and buffers (optimizers keep working); returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, DistBatchNorm):
            new = DistBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                child.track_running_stats)
            new.weight, new.bias = child.weight, child.bias  # the same Parameter objects
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            module._modules[name] = new
            count += 1
        else:
            count += sync_batchnorm(child)
    return count


# --------------------------------------------------------------------------- launcher


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def strip_nproc(argv: Sequence[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def launch(argv: Sequence[str], nproc: int, resume_hint: str, err: Callable[[str], None],
           poll_s: float = 0.1) -> int:
    """Start `nproc` workers `python -m gcc_gan.cli.main ARGV` (ranks 0..N-1, gloo/NCCL on
    127.0.0.1) and watch them: the first one that fails stops the rest at once (SIGTERM,
    then SIGKILL after 3 s) and the run ends with one message. Rank 0 keeps the terminal;
    the others' output goes to a scratch file, shown only if one of them is the cause.
    Returns the exit code for the command."""
    port = _free_port()
    # the cores shared out among the workers (N workers × all cores each oversubscribe a CPU)
    threads = {} if "OMP_NUM_THREADS" in os.environ else \
        {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path | None] = []
    with tempfile.TemporaryDirectory(prefix="gcc-gan-workers-") as tmp:
        for r in range(nproc):
            env = {**os.environ, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(nproc),
                   "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                   PARENT_ENV: "1", **threads}
            # a worker dies with this launcher, however it dies (no orphan keeps the cores): SIGKILL,
            # since a worker blocked in a collective or the rendezvous would not run a SIGTERM handler;
            # a launcher that gets SIGTERM or Ctrl-C stops them gently first (_stop)
            if r == 0:
                p = subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", *argv], env=env,
                                     preexec_fn=die_with_parent_fn(signal.SIGKILL))
                logs.append(None)
            else:
                log = Path(tmp) / f"rank{r}.log"
                with open(log, "wb") as f:
                    p = subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", *argv], env=env,
                                         stdout=subprocess.DEVNULL, stderr=f,
                                         preexec_fn=die_with_parent_fn(signal.SIGKILL))
                logs.append(log)
            procs.append(p)
        try:
            cause = _watch(procs, poll_s)
        except KeyboardInterrupt:  # Ctrl-C reached every worker too (SIGTERM: _stop passes it on);
            _stop(procs, grace=10.0)  # rank 0 says where to resume
            return exit_code()
        if cause is None:
            return 0
        r, code = cause
        _stop(procs)
        if r == 0 and code in (1, 2):  # rank 0 printed its own error (a GccGanError / usage)
            return code
        detail = ""
        if logs[r] is not None:
            lines = [ln for ln in logs[r].read_text(errors="replace").splitlines() if ln.strip()]  # type: ignore[union-attr]
            errs = [ln for ln in lines if ln.startswith("error:")]
            detail = f": {(errs or lines or [''])[-1].removeprefix('error: ')}" if (errs or lines) else ""
        err(f"error: worker {r} of {nproc} (pid {procs[r].pid}) {_describe(code)}{detail}; stopped the other "
            f"workers. {resume_hint}")
        return 1


def _watch(procs: list[subprocess.Popen[bytes]], poll_s: float) -> tuple[int, int] | None:
    """Wait for all; the first (rank, code) that failed, preferring a real cause over a
    worker that only saw its peer vanish (PEER_LOST_EXIT)."""
    while True:
        codes = [p.poll() for p in procs]
        failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            time.sleep(poll_s)  # a peer-lost exit races the real cause: look once more
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            real = [f for f in failed if f[1] != PEER_LOST_EXIT]
            return (real or failed)[0]
        if all(c == 0 for c in codes):
            return None
        time.sleep(poll_s)


def _stop(procs: list[subprocess.Popen[bytes]], grace: float = 3.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def resume_hint(argv: Sequence[str]) -> str:
    """'Continue with: gcc-gan ... --resume' from the command line (minus --force)."""
    args = [a for a in strip_nproc(argv) if a not in ("--force", "--resume")]
    return "Continue with: gcc-gan " + " ".join(shlex.quote(a) for a in [*args, "--resume"])
