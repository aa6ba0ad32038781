"""The executor interface: run independent jobs, retry crashed ones, report every outcome.

A job is a picklable module-level function plus arguments. It must be a deterministic
function of its arguments (seeds included): that is what makes the local and Ray
executors give identical results. `run_job` is what a worker actually executes: it pins
the job's torch thread count (float reductions depend on it) and turns any exception into
a failed `Attempt` carrying the error text, so only a dead process is left for the
executor itself to detect.
"""

from __future__ import annotations

import abc
import contextlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from rich.console import Console

from ..console import progress as phase
from ..errors import GccGanError

DEFAULT_RETRIES = 1


@dataclass(frozen=True)
class Job:
    key: str  # unique within one run; names the job in progress, warnings and results
    fn: Callable[..., Any]  # a module-level function (pickled by reference)
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 1  # torch intra-op threads inside the job (and CPUs requested from Ray)


@dataclass
class Attempt:
    ok: bool
    value: Any = None
    error: str | None = None
    wall_s: float = 0.0


@dataclass
class JobResult:
    key: str
    ok: bool
    value: Any
    error: str | None  # the last attempt's error (None when ok)
    attempts: int
    wall_s: float  # of the last attempt
    errors: list[str] = field(default_factory=list)  # every failed attempt's error, in order

    @property
    def status(self) -> str:
        return "ok" if self.ok else "failed"


def describe(e: BaseException) -> str:
    """One readable line for a job's exception: user errors verbatim, bugs with where."""
    if isinstance(e, GccGanError):
        return str(e)
    msg = f"{type(e).__name__}: {e}".rstrip(": ")
    tb = traceback.extract_tb(e.__traceback__)
    if tb:
        last = tb[-1]
        msg += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return msg


def run_job(job: Job) -> Attempt:
    """Runs inside the worker process."""
    import torch

    torch.set_num_threads(max(1, job.threads))
    t0 = time.perf_counter()
    try:
        value = job.fn(*job.args, **dict(job.kwargs))
    except BaseException as e:  # noqa: BLE001 - every failure is reported, SystemExit included
        return Attempt(False, None, describe(e), time.perf_counter() - t0)
    return Attempt(True, value, None, time.perf_counter() - t0)


OnResult = Callable[[JobResult], None]


class Executor(abc.ABC):
    """Runs jobs with up to `retries` extra attempts each. Subclasses say how to start one
    attempt and how to wait for the next finished one; retry bookkeeping, warnings and
    the progress bar live here, so both executors behave identically."""

    name = "executor"

    def __init__(self, workers: int = 1, retries: int = DEFAULT_RETRIES, console: Console | None = None) -> None:
        if workers < 1:
            raise GccGanError(f"--workers {workers}: must be at least 1")
        if retries < 0:
            raise GccGanError(f"--retries {retries}: must be 0 or more")
        self.workers = workers
        self.retries = retries
        self.console = console or Console(stderr=True)
        self._session = False

    @contextlib.contextmanager
    def session(self) -> Iterator[Executor]:
        """Keep the workers (local processes, a local Ray) up across several `run` calls:
        a searcher that runs one batch of jobs per step starts Ray once, not every step."""
        self._open()
        self._session = True
        try:
            yield self
        finally:
            self._session = False
            self._close()

    # ---------------------------------------------------------------- subclass hooks

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _submit(self, job: Job) -> None:
        """Start (or queue) one attempt of `job`."""

    @abc.abstractmethod
    def _wait_one(self) -> tuple[Job, Attempt]:
        """Block until some submitted attempt has finished; a dead worker is a failed Attempt."""

    # ---------------------------------------------------------------- the loop

    def run(self, jobs: Iterable[Job], on_result: OnResult | None = None, progress: bool = True,
            label: str = "jobs") -> list[JobResult]:
        """Run every job; results come back in the jobs' order. `on_result` is called in
        this process as each job finishes for good (e.g. to save resumable state)."""
        todo: Sequence[Job] = list(jobs)
        keys = [j.key for j in todo]
        if len(set(keys)) != len(keys):
            raise ValueError("job keys must be unique")
        if not todo:
            return []
        failures: dict[str, list[str]] = {k: [] for k in keys}
        done: dict[str, JobResult] = {}
        if not self._session:
            self._open()
        try:
            with phase(label, len(todo), console=self.console, enabled=progress) as task:
                for job in todo:
                    self._submit(job)
                while len(done) < len(todo):
                    job, att = self._wait_one()
                    errs = failures[job.key]
                    if not att.ok:
                        errs.append(att.error or "unknown error")
                        if len(errs) <= self.retries:
                            self.console.print(f"[bold yellow]warning:[/bold yellow] {job.key} failed (attempt "
                                               f"{len(errs)} of {self.retries + 1}): {att.error}; retrying",
                                               highlight=False, soft_wrap=True)
                            self._submit(job)
                            continue
                        self.console.print(f"[bold red]failed:[/bold red] {job.key} after {len(errs)} attempt(s): "
                                           f"{att.error}", highlight=False, soft_wrap=True)
                    res = JobResult(job.key, att.ok, att.value, None if att.ok else att.error,
                                    len(errs) + (1 if att.ok else 0), att.wall_s, list(errs))
                    done[job.key] = res
                    if on_result is not None:
                        on_result(res)
                    task.update(completed=len(done), stats=f"{job.key}: {res.status}")
        finally:
            if not self._session:
                self._close()
        return [done[k] for k in keys]
