"""Executors: run independent candidate jobs (train this genotype at this width with this
seed, then evaluate) in local processes or on Ray, with retries and a progress bar."""

from __future__ import annotations

import os
from typing import Any

from ..errors import GccGanError
from .base import DEFAULT_RETRIES, Attempt, Executor, Job, JobResult, run_job
from .local import LocalExecutor
from .ray_executor import RayExecutor, import_ray

EXECUTORS = ("local", "ray")


def default_workers() -> int:
    """1–2 parallel jobs: this is CPU training, more processes than cores only thrash."""
    return max(1, min(2, os.cpu_count() or 1))


def threads_per_job(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def make_executor(name: str, workers: int | None = None, retries: int = DEFAULT_RETRIES,
                  address: str | None = None, console: Any = None, threads: int = 1) -> Executor:
    """The executor named on the command line; bad names and a missing Ray are user errors."""
    w = default_workers() if workers is None else workers
    if name == "local":
        if address is not None:
            raise GccGanError("--address is for --executor ray (a Ray cluster); the local executor takes none")
        return LocalExecutor(w, retries, console)
    if name == "ray":
        import_ray()  # fail before any work when Ray is missing
        return RayExecutor(w, retries, console, address=address, threads=threads)
    raise GccGanError(f"--executor {name!r}: expected one of {', '.join(EXECUTORS)}")


__all__ = ["Attempt", "Executor", "Job", "JobResult", "LocalExecutor", "RayExecutor", "EXECUTORS",
           "default_workers", "threads_per_job", "make_executor", "run_job"]
