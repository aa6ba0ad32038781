"""Executors: local processes and Ray give identical results for deterministic jobs; a
crashed job (exception or killed worker) is retried and, if it keeps failing, reported
with its error — never dropped. Ray starts once for the module (it is slow to start)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch

from gcc_gan.errors import GccGanError
from gcc_gan.executor import Job, JobResult, LocalExecutor, RayExecutor, make_executor


# ----------------------------------------------------------------------------- jobs (module level: picklable)


def toy_train(seed: int, steps: int) -> list[float]:
    """A deterministic function of its arguments: a few SGD steps on a small MLP."""
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    x = torch.randn(64, 8, generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(steps):
        loss = (net(x) - x[:, :1]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [float(v) for v in net(x).detach()[:, 0]] + [torch.get_num_threads()]


def die_once(marker: str) -> str:
    """Killed by SIGKILL on its first attempt (leaves a marker), fine on the next."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return "second attempt"


def always_fails(n: int) -> None:
    raise ValueError(f"bad candidate {n}")


def jobs_for(tmp: Path) -> list[Job]:
    return ([Job(f"toy{s}", toy_train, (s, 25), threads=1) for s in range(3)]
            + [Job("die", die_once, (str(tmp / "marker"),)), Job("fails", always_fails, (7,))])


def check(results: list[JobResult]) -> dict[str, JobResult]:
    by = {r.key: r for r in results}
    assert [r.key for r in results] == ["toy0", "toy1", "toy2", "die", "fails"]  # job order, nothing dropped
    for s in range(3):
        assert by[f"toy{s}"].ok and by[f"toy{s}"].attempts == 1
        assert by[f"toy{s}"].value[-1] == 1  # the job's thread count was pinned
    assert by["die"].ok and by["die"].value == "second attempt" and by["die"].attempts == 2
    assert len(by["die"].errors) == 1
    f = by["fails"]
    assert not f.ok and f.status == "failed" and f.attempts == 2 and f.value is None
    assert f.error is not None and "ValueError: bad candidate 7" in f.error and len(f.errors) == 2
    return by


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the jobs live in this test module, which Ray's workers cannot import: ship them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1")
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> list[JobResult]:
    tmp = tmp_path_factory.mktemp("local")
    seen: list[str] = []
    res = LocalExecutor(workers=2, retries=1).run(jobs_for(tmp), on_result=lambda r: seen.append(r.key),
                                                  progress=False)
    assert sorted(seen) == sorted(r.key for r in res)  # on_result saw every job once
    return res


def test_local_retries_and_reports(local_results: list[JobResult], one_thread: None) -> None:
    by = check(local_results)
    assert "SIGKILL" in by["die"].errors[0]  # the dead worker is named as such
    for s in range(3):  # each job's own result (its function on its arguments), not merely "a list"
        assert by[f"toy{s}"].value[:-1] == pytest.approx(toy_train(s, 25)[:-1], rel=1e-9, abs=1e-12)


def test_ray_matches_local(ray_session: Any, local_results: list[JobResult], tmp_path: Path) -> None:
    res = RayExecutor(workers=2, retries=1).run(jobs_for(tmp_path), progress=False)
    by = check(res)
    assert "died" in by["die"].errors[0] or "Crashed" in by["die"].errors[0]
    local = {r.key: r.value for r in local_results}
    for s in range(3):  # bit-identical, not just close
        assert by[f"toy{s}"].value == local[f"toy{s}"]
    assert ray_session.is_initialized()  # an executor does not shut down a Ray it did not start


def test_no_retries_means_one_attempt(tmp_path: Path) -> None:
    res = LocalExecutor(workers=1, retries=0).run([Job("fails", always_fails, (1,))], progress=False)
    assert len(res) == 1 and not res[0].ok and res[0].attempts == 1


def test_make_executor_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GccGanError, match="--executor 'dask'"):
        make_executor("dask")
    with pytest.raises(GccGanError, match="--workers 0"):
        make_executor("local", workers=0)
    with pytest.raises(GccGanError, match="--address is for --executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(GccGanError, match=r"pip install 'gcc-gan\[ray\]'"):
        make_executor("ray")
