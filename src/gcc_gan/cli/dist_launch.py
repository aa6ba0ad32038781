"""`--nproc N` on search and train: this process becomes the launcher and watchdog of N
data-parallel workers (gcc_gan.distributed.launch) and exits with their verdict.

N is bounded by the CPU cores this process may use (a CPU run) or the GPUs (a CUDA run):
more workers than that only oversubscribe the machine, and `--nproc 999` would fork until
it refused. Out of range is a usage error (exit 2). Workers die with the launcher,
however it dies (gcc_gan.signals.die_with_parent_fn)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ..errors import GccGanError
from ..runlock import command
from .app import err_console


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def nproc_bound(device: str) -> tuple[int, str]:
    """The most workers a `device` run may start on this machine, and what they are."""
    # no NVIDIA driver: a CPU run, known without importing torch (seconds)
    if device != "cpu" and (device == "cuda" or Path("/proc/driver/nvidia/gpus").is_dir() or sys.platform != "linux"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.device_count(), "GPUs"
    return cpu_cores(), "CPU cores"


def launch_workers(nproc: int, supported: bool, unsupported: str, device: str = "auto") -> None:
    """Run the command line again as `nproc` workers and exit; returns only for a worker."""
    if nproc < 1:
        raise typer.BadParameter(f"{nproc}: must be at least 1", param_hint="'--nproc'")
    if not supported:
        raise GccGanError(unsupported)
    if "WORLD_SIZE" in os.environ:
        raise GccGanError("--nproc: this process is already a worker of a distributed run (torchrun sets "
                          "WORLD_SIZE); leave --nproc out under torchrun")
    bound, what = nproc_bound(device)
    if nproc > bound:
        raise typer.BadParameter(f"{nproc}: more workers than the {bound} {what} of this machine (one worker "
                                 f"each); start at most {bound}", param_hint="'--nproc'")
    from ..distributed import launch, resume_hint, strip_nproc

    argv = command()
    if argv is None:
        raise GccGanError("--nproc: the command line is unknown (run it through gcc-gan)")
    code = launch(strip_nproc(argv), nproc, resume_hint(argv),
                  lambda m: err_console.print(m, highlight=False, markup=False, soft_wrap=True))
    raise typer.Exit(code)
