"""Ray: the same jobs as tasks on a Ray cluster (`address`) or a local Ray started here
with `workers × threads` CPUs, no dashboard, loopback only, usage stats off. Each task
asks Ray for `job.threads` CPUs, and Ray's own retries are off: retries are counted by
the executor loop, the same way as for local processes."""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import GccGanError
from .base import Attempt, Executor, Job, run_job

RAY_MISSING = ("--executor ray needs Ray, which is not installed: pip install 'gcc-gan[ray]' "
               "(or pip install 'ray>=2.9')")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GccGanError(RAY_MISSING) from None
    return ray


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, workers: int = 1, retries: int = 1, console: Any = None, address: str | None = None,
                 threads: int = 1) -> None:
        super().__init__(workers, retries, console)
        self.address = address
        self.threads = threads
        self._ray: Any = None
        self._started_here = False
        self._remote: Any = None
        self._pending: dict[Any, tuple[Job, float]] = {}

    def _open(self) -> None:
        ray = import_ray()
        self._ray = ray
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False, configure_logging=False)
                else:
                    local = dict(num_cpus=self.workers * max(1, self.threads), include_dashboard=False,
                                 log_to_driver=False, configure_logging=False)
                    try:  # loopback only; a private option, so tolerate a Ray without it
                        ray.init(**local, _node_ip_address="127.0.0.1")
                    except TypeError:
                        ray.init(**local)
            except Exception as e:  # noqa: BLE001 - connection / start-up problems are user-facing
                where = f"connect to the Ray cluster at --address {self.address}" if self.address else "start Ray"
                raise GccGanError(f"cannot {where}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
            self._started_here = True
        self._remote = ray.remote(max_retries=0)(run_job)
        self._pending = {}

    def _close(self) -> None:
        if self._ray is None:
            return
        for ref in list(self._pending):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self._pending = {}
        if self._started_here:
            self._ray.shutdown()
            self._started_here = False

    def _submit(self, job: Job) -> None:
        ref = self._remote.options(num_cpus=max(1, job.threads)).remote(job)
        self._pending[ref] = (job, time.perf_counter())

    def _wait_one(self) -> tuple[Job, Attempt]:
        ray = self._ray
        ready, _ = ray.wait(list(self._pending), num_returns=1)
        ref = ready[0]
        job, started = self._pending.pop(ref)
        try:
            att = ray.get(ref)
        except ray.exceptions.RayError as e:  # the worker died, or the task could not run
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            att = Attempt(False, None, f"Ray task failed: {type(e).__name__}: {first}", time.perf_counter() - started)
        return job, att
