"""Local processes: one single-process `ProcessPoolExecutor` (spawn context) per worker
slot. One pool per slot rather than one shared pool, because a worker killed mid-job
breaks its whole pool: with a pool per slot only the job that was on the dead process is
charged with the failure, and its slot gets a fresh process for the next attempt."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from .base import Attempt, Executor, Job, run_job

_POLL_S = 1.0


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the sweep that started us dies (even by SIGKILL), so
    an orphan never keeps writing into a run the resumed sweep is redoing."""

    def loop() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(_POLL_S)

    threading.Thread(target=loop, name="gcc-gan-parent-watch", daemon=True).start()


@dataclass
class _Slot:
    pool: ProcessPoolExecutor | None = None
    future: Future[Attempt] | None = None
    job: Job | None = None
    started: float = 0.0
    procs: list[Any] = field(default_factory=list)


def _death(procs: list[Any]) -> str:
    """Why the worker process went away, from its exit code when we can see it."""
    for p in procs:
        for _ in range(20):  # the pool reaps its dead worker shortly after noticing
            code = getattr(p, "exitcode", None)
            if code is not None:
                break
            time.sleep(0.05)
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker process killed by {name}"
        if code is not None and code != 0:
            return f"worker process exited with code {code}"
    return "worker process died"


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, workers: int = 1, retries: int = 1, console: Any = None) -> None:
        super().__init__(workers, retries, console)
        self._slots: list[_Slot] = []
        self._queue: list[Job] = []
        self._ctx = multiprocessing.get_context("spawn")

    def _open(self) -> None:
        self._slots = [_Slot() for _ in range(self.workers)]
        self._queue = []

    def _close(self) -> None:
        for s in self._slots:
            if s.pool is not None:
                s.pool.shutdown(wait=False, cancel_futures=True)
                for p in s.procs:  # an interrupted sweep must not leave jobs running
                    if getattr(p, "exitcode", 0) is None:
                        p.kill()
        self._slots = []

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=self._ctx, initializer=_watch_parent,
                                   initargs=(os.getpid(),))

    def _dispatch(self) -> None:
        for s in self._slots:
            if not self._queue:
                return
            if s.future is not None:
                continue
            job = self._queue.pop(0)
            if s.pool is None:
                s.pool = self._new_pool()
            s.job, s.started = job, time.perf_counter()
            s.future = s.pool.submit(run_job, job)
            s.procs = list(getattr(s.pool, "_processes", {}).values())  # for the exit code if it dies

    def _submit(self, job: Job) -> None:
        self._queue.append(job)
        self._dispatch()

    def _wait_one(self) -> tuple[Job, Attempt]:
        busy = {s.future: s for s in self._slots if s.future is not None}
        finished, _ = wait(list(busy), return_when=FIRST_COMPLETED)
        fut = next(f for f in busy if f in finished)  # slot order: deterministic tie-break
        s = busy[fut]
        job = s.job
        assert job is not None
        try:
            att = fut.result()
        except BrokenProcessPool:
            att = Attempt(False, None, _death(s.procs), time.perf_counter() - s.started)
            assert s.pool is not None
            s.pool.shutdown(wait=False, cancel_futures=True)
            s.pool = None  # a fresh process for the next job on this slot
        except Exception as e:  # noqa: BLE001 - e.g. the job could not be pickled
            att = Attempt(False, None, f"could not run the job: {type(e).__name__}: {e}",
                          time.perf_counter() - s.started)
        s.future, s.job = None, None
        self._dispatch()
        return job, att
