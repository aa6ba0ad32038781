"""Data parallel over torch.distributed (gcc_gan.distributed): 2 gloo workers compute the
same step as one process over the same global batch; `--nproc` runs, dies and resumes.
Kept few and small: each worker spawn costs seconds of torch import."""

from __future__ import annotations

import json
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
    alphas = [k for k in single if ".alphas." in k and not k.startswith("init.")]
    assert alphas and any(k.startswith("degas.") for k in alphas)
    assert any("running_mean" in k for k in single)  # BN statistics are compared too
    worst = max(((two[k].double() - single[k].double()).abs().max().item(), k) for k in single)
    assert worst[0] <= 1e-5, worst
    print(f"worst |2 workers - 1 process| = {worst[0]:.3g} at {worst[1]}")
    # and the step did move them (equality is not vacuous): every α left its initial value
    assert [k for k in alphas if torch.equal(single[k], single["init." + k])] == []


def test_shard_refuses_an_uneven_batch() -> None:
    from gcc_gan.errors import GccGanError

    dp = DataParallel(rank=1, world=3)
    with pytest.raises(GccGanError, match="does not divide among 3 workers"):
        dp.shard(torch.zeros(8))
    assert dp.shard(torch.arange(9)).tolist() == [3, 4, 5]


def _cli(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", *args], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def _worker(parent: int, rank: int) -> int:
    """The pid of the launcher's worker with RANK=rank."""
    kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for k in kids:
        env = Path(f"/proc/{k}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in env:
            return int(k)
    raise AssertionError(f"no rank {rank} among {kids}")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the workers through /proc")
@pytest.mark.slow  # fast twins: test_limits.py::test_no_worker_outlives_a_killed_launcher, the 2 -> 1 and 1 -> 2 resumes below
def test_killed_worker_stops_the_run_and_resume_finishes(tmp_path: Path) -> None:
    """`search --nproc 2`: killing rank 1 ends the run within seconds with one message
    naming it and the --resume command; --resume on ONE process (2 → 1) finishes, and the
    genotype compiles (in this process: compile's export is tested elsewhere). And 1 → 2: a single-process checkpoint resumes with --nproc 2."""
    import signal
    import time

    run = tmp_path / "run"
    p = _cli("search", "--nproc", "2", "--preset", "tiny", "--iters", "40", "--min-diversity", "0", "-o", str(run))
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / "step-00000025").is_dir():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "no checkpoint at step 25"
        time.sleep(0.1)
    victim = _worker(p.pid, 1)
    os.kill(victim, signal.SIGKILL)
    _, err = p.communicate(timeout=120)  # a hang guard, not a speed check: it ends within seconds
    assert p.returncode == 1
    errors = [ln for ln in err.splitlines() if "error" in ln.lower() or "Traceback" in ln]
    assert len(errors) == 1, err
    assert f"worker 1 of 2 (pid {victim}) was killed by SIGKILL" in errors[0]
    assert "--resume" in errors[0] and "--nproc" not in errors[0]
    assert not (run / "genotype.json").exists()

    r = _cli("search", "--preset", "tiny", "--iters", "40", "-o", str(run), "--resume")
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    assert "resuming from step 25" in err, err
    from gcc_gan.compiler.pipeline import compile_network
    from gcc_gan.genotype_dsl.analysis import analyze_genotype
    from gcc_gan.genotype_dsl.io import load_genotype

    for role, info in analyze_genotype(load_genotype(run / "genotype.json")).items():  # valid, and it compiles
        compile_network(info, role=role)


def test_single_process_checkpoint_resumes_with_two_workers(tmp_path: Path, one_thread: None) -> None:
    """1 → 2: a run stopped after its step-5 checkpoint (one process) finishes under
    --nproc 2 from that checkpoint, as the same run (its history continues at step 10)."""
    from gcc_gan.search import config as search_config
    from gcc_gan.search.run import SearchRequest, search

    run = tmp_path / "run"
    old = search_config.PRESETS[("degas", "tiny")]
    search_config.PRESETS[("degas", "tiny")] = {**old, "checkpoint_every": 5, "n_images": 64}
    try:
        search(SearchRequest(method="degas", out=run, overrides={"iters": 10, "min_diversity": 0.0}, stop_after=5))
    finally:
        search_config.PRESETS[("degas", "tiny")] = old
    assert (run / "checkpoints" / "step-00000005").is_dir()
    p = _cli("search", "--method", "degas", "--nproc", "2", "-o", str(run), "--resume")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "× 2 workers" in err and "resuming from step 5" in err, err
    steps = [json.loads(ln)["step"] for ln in (run / "history.jsonl").read_text().splitlines()]
    assert steps == [5, 10]
    assert (run / "genotype.json").is_file()


def test_nproc_refuses_methods_without_data_parallel(capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.cli.main import run

    assert run(["search", "--method", "autogan", "--nproc", "2", "-o", "never"]) == 1
    assert "data-parallel search (--nproc) is for adversarial and degas" in capsys.readouterr().err
    assert run(["search", "--nproc", "0", "-o", "never"]) == 2  # a usage error, as --nproc 999
    assert "Invalid value for '--nproc': 0: must be at least 1" in capsys.readouterr().err
    assert not Path("never").exists()


@pytest.mark.slow
def test_same_workers_and_seed_repeat_exactly(tmp_path: Path) -> None:
    """Two `--nproc 2` searches with the same seed: identical history and genotype."""
    runs = []
    for k in range(2):
        run = tmp_path / f"run{k}"
        p = _cli("search", "--nproc", "2", "--preset", "tiny", "--iters", "10", "--min-diversity", "0", "-o", str(run))
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        hist = [{k: v for k, v in ln.items() if k != "elapsed_s"}
                for ln in map(json.loads, (run / "history.jsonl").read_text().splitlines())]
        geno = json.loads((run / "genotype.json").read_text())
        runs.append((hist, geno["generator"], geno["discriminator"]))
    assert runs[0] == runs[1]


def test_train_two_workers_then_resume_on_one(tmp_path: Path) -> None:
    """`train --nproc 2` writes one run (rank 0's files, log rows of the global batch);
    its checkpoint resumes on one process (2 → 1) and the run continues."""
    run = tmp_path / "t"
    common = ["--width", "0.125", "--batch-size", "8", "--log-every", "1", "--checkpoint-every", "2"]
    p = _cli("train", "zoo:dcgan", "--nproc", "2", "--preset", "tiny", "--iters", "2", *common, "-o", str(run))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "× 2 workers" in err
    assert [ln.split(",")[0] for ln in (run / "log.csv").read_text().splitlines()] == ["step", "1", "2"]
    r = _cli("train", "--resume", "--iters", "3", "-o", str(run))
    _, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    assert "resuming from step 2" in err, err
    assert [ln.split(",")[0] for ln in (run / "log.csv").read_text().splitlines()] == ["step", "1", "2", "3"]
    assert (run / "generator.safetensors").is_file()
