"""Data parallel over torch.distributed (gcc_gan.distributed): 2 gloo workers compute the
same step as one process over the same global batch; `--nproc` runs, dies and resumes.
Kept few and small: each worker spawn costs seconds of torch import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gcc_gan.distributed import SINGLE, DataParallel

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent


def _env(**kw: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", **kw}
    return env


def _spawn_steps(out: Path, world: int) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, str(HERE / "dist_steps.py"), str(out)],
                              env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(world)]
    logs = [p.communicate(timeout=240)[0].decode(errors="replace") for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)


def test_two_workers_step_equals_one_process(tmp_path: Path, one_thread: None) -> None:
    """AdversarialNAS, DEGAS and the trainer: weights, α, BN statistics, optimizer-updated
    latents and losses after one step with 2 gloo workers equal one process (float64)."""
    from dist_steps import run_steps  # type: ignore[import-not-found]

    before = torch.get_default_dtype()
    try:
        single = run_steps(SINGLE)
    finally:
        torch.set_default_dtype(before)
    _spawn_steps(tmp_path / "two.safetensors", 2)
    two = load_file(tmp_path / "two.safetensors")
    assert set(two) == set(single)
    alphas = [k for k in single if ".alphas." in k]
    assert alphas and any(k.startswith("degas.") for k in alphas)
    assert any("running_mean" in k for k in single)  # BN statistics are compared too
    worst = max(((two[k].double() - single[k].double()).abs().max().item(), k) for k in single)
    assert worst[0] <= 1e-5, worst
    # and the step did move them (equality is not vacuous): α left its init on both sides
    assert all(float((single[k] - 0).abs().sum()) > 0 for k in alphas)


def test_shard_refuses_an_uneven_batch() -> None:
    from gcc_gan.errors import GccGanError

    dp = DataParallel(rank=1, world=3)
    with pytest.raises(GccGanError, match="does not divide among 3 workers"):
        dp.shard(torch.zeros(8))
    assert dp.shard(torch.arange(9)).tolist() == [3, 4, 5]
