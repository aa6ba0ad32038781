"""`--nproc N` on search and train: this process becomes the launcher and watchdog of N
data-parallel workers (gcc_gan.distributed.launch) and exits with their verdict."""

from __future__ import annotations

import os

import typer

from ..errors import GccGanError
from ..runlock import command
from .app import err_console


def launch_workers(nproc: int, supported: bool, unsupported: str) -> None:
    """Run the command line again as `nproc` workers and exit; returns only for a worker."""
    if nproc < 1:
        raise GccGanError(f"--nproc {nproc}: must be at least 1")
    if not supported:
        raise GccGanError(unsupported)
    if "WORLD_SIZE" in os.environ:
        raise GccGanError("--nproc: this process is already a worker of a distributed run (torchrun sets "
                          "WORLD_SIZE); leave --nproc out under torchrun")
    from ..distributed import launch, resume_hint, strip_nproc

    argv = command()
    if argv is None:
        raise GccGanError("--nproc: the command line is unknown (run it through gcc-gan)")
    code = launch(strip_nproc(argv), nproc, resume_hint(argv),
                  lambda m: err_console.print(m, highlight=False, markup=False, soft_wrap=True))
    raise typer.Exit(code)
