"""Resource limits that hold (issue 21, items 3-8): the compile memory estimate bounds the
measured peak, --max-memory is honoured by every long command, --nproc is bounded and no
worker outlives its launcher, archives are bounded, nothing is left behind by SIGTERM or
SIGKILL, and bad values are usage errors. Real processes and real signals, each sent at a
point the test has seen the process reach."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from gcc_gan.cli.main import run
from gcc_gan.genotype_dsl.memory import ENV

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINUX = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc")


@pytest.fixture(autouse=True)
def default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "8GB")
    monkeypatch.delenv(ENV)


def _env(**kw: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    return {**env, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", **kw}


def _cli(*args: str | Path, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", *map(str, args)], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def tiny_doc(base_width: int = 32) -> dict[str, Any]:
    text = README.read_text()
    start = text.index('```json\n{\n  "schema_version"') + len("```json\n")
    doc = json.loads(text[start:text.index("```", start)])
    doc["generator"]["base_width"] = base_width
    return doc


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if ".tmp" in p.name or p.name.endswith(".lock"))


def _errors(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith(("error:", "Error:")) or "Traceback" in ln]


# --------------------------------------------------------------------------- 3. compile memory

_PEAK = """
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(p.stderr)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""

_ESTIMATE = """
import sys
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.io import load_and_analyze
from gcc_gan.genotype_dsl.memory import compile_estimate
_, infos = load_and_analyze(sys.argv[1])
info = infos["generator"]
if sys.argv[2] != "-":
    info = analyze(info.net.scaled(float(sys.argv[2])), where="generator", role="generator")
print(compile_estimate([info], int(sys.argv[3])).total)
"""


def estimate_and_peak(tmp_path: Path, spec: str, width: float | None = None, variants: int = 0) -> tuple[int, int]:
    """compile's estimate (computed as the CLI does, in a fresh process before torch is
    imported) and the measured peak RSS of `gcc-gan compile` (its largest process)."""
    est = subprocess.run([sys.executable, "-c", _ESTIMATE, spec, "-" if width is None else str(width), str(variants)],
                         env=_env(), capture_output=True, text=True, check=True)
    args = [sys.executable, "-m", "gcc_gan.cli.main", "compile", spec, "-o", str(tmp_path / "out"), "--force",
            "--max-memory", "100GB"]
    args += ["--width", str(width)] if width is not None else []
    args += ["--precision", "fp16,int8"] if variants else []
    p = subprocess.run([sys.executable, "-c", _PEAK, *args], env=_env(), capture_output=True, text=True, check=False)
    code, peak = map(int, p.stdout.split())
    assert code == 0, p.stderr
    return int(est.stdout), peak


@LINUX
@pytest.mark.parametrize("base_width", [8, 96])
def test_compile_estimate_bounds_measured_peak(tmp_path: Path, base_width: int) -> None:
    """The estimate is an upper bound of compile's real resident peak (codegen, ONNX export,
    onnxruntime at batch 1/3/64, .pt2, the verification worker), with a modest margin."""
    spec = tmp_path / "g.json"
    spec.write_text(json.dumps(tiny_doc(base_width)))
    est, peak = estimate_and_peak(tmp_path, str(spec))
    print(f"base width {base_width}: estimate {est / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB ({peak / est:.2f})")
    assert peak <= est < 3 * peak


@LINUX
@pytest.mark.slow
@pytest.mark.parametrize("spec, width, variants", [
    ("zoo:dcgan", None, 0), ("zoo:sngan", 0.5, 0), ("zoo:autogan-a", None, 0), ("zoo:adversarialnas", 0.5, 0),
    ("tiny1024", None, 0), ("tiny1024", None, 2), ("tiny2048", None, 0)])
def test_compile_estimate_bounds_measured_peak_sweep(tmp_path: Path, spec: str, width: float | None,
                                                     variants: int) -> None:
    if spec.startswith("tiny"):
        f = tmp_path / "g.json"
        f.write_text(json.dumps(tiny_doc(int(spec[4:]))))
        spec = str(f)
    est, peak = estimate_and_peak(tmp_path, spec, width, variants)
    print(f"{spec} width {width} variants {variants}: estimate {est / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB "
          f"({peak / est:.2f})")
    assert peak <= est


def _as_limit(limit: int) -> Any:
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@LINUX
@pytest.mark.parametrize("max_memory, words", [(None, "more than the memory limit of 8.00 GB"),
                                               ("100GB", "the address-space limit (ulimit -v) leaves")])
def test_base_width_4096_is_refused_before_allocating(tmp_path: Path, max_memory: str | None, words: str) -> None:
    """Under `ulimit -v 8000000`: refused by the estimate (rc 1, one message naming it and
    the limit) before torch is imported; no temp dir, no lock left."""
    spec = tmp_path / "g.json"
    spec.write_text(json.dumps(tiny_doc(4096)))
    extra = ["--max-memory", max_memory] if max_memory else []
    p = _cli("compile", spec, "-o", tmp_path / "out", *extra, preexec_fn=_as_limit(8_000_000 * 1024))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    assert _errors(err) == [err.strip()] and "the generator compile needs an estimated" in err and words in err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- 4. --max-memory everywhere


@pytest.mark.parametrize("args", [["search", "--preset", "tiny"], ["search", "--method", "degas", "--preset", "tiny"],
                                  ["train", "zoo:dcgan", "--preset", "tiny", "--data", "synthetic"],
                                  ["sample", "zoo:dcgan", "-n", "4"],
                                  ["bench", "zoo:dcgan", "--metrics", "size"]])
def test_max_memory_below_the_process_is_refused_by_every_command(tmp_path: Path, args: list[str],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / ("o.npz" if args[0] == "sample" else "run")
    o = [] if args[0] == "bench" else ["-o", str(out)]
    assert run([*args, *o, "--max-memory", "1KB"]) == 1
    err = capsys.readouterr().err
    assert _errors(err) == [err.strip().splitlines()[-1]], err
    assert "memory limit of 1.00 kB" in err and "--max-memory" in err
    assert not out.exists()


def test_search_checks_resident_memory_as_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check inside the loop: a limit the search passes while building its supernets
    (data, weights, the first steps) stops it with the figure."""
    from gcc_gan.errors import GccGanError
    from gcc_gan.genotype_dsl import memory
    from gcc_gan.search.run import SearchRequest, search

    calls: list[int] = []
    real = memory.resident_bytes

    def resident() -> int:  # the real figure; from the 3rd check on, the limit has been passed
        calls.append(1)
        return real() + (10**12 if len(calls) > 2 else 0)

    monkeypatch.setattr(memory, "resident_bytes", resident)
    with pytest.raises(GccGanError, match=r"the search needs [\d.]+ TB of resident memory"):
        search(SearchRequest(method="adversarial", out=tmp_path / "run", overrides={"iters": 4}))


# --------------------------------------------------------------------------- 4. sample streams


def _batches(n: int, bs: int = 64, hw: int = 32) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(0)
    for s in range(0, n, bs):
        yield rng.integers(0, 256, (min(bs, n - s), hw, hw, 3), dtype=np.uint8)


def test_npz_is_streamed_and_loads_as_numpy_wrote_it(tmp_path: Path) -> None:
    from gcc_gan.runtime.sample import write_samples

    n = 3200  # 9.8 MB of images; one batch is 196 kB
    tracemalloc.start()
    try:
        write_samples(_batches(n), n, tmp_path / "s.NPZ")  # suffix read case-insensitively
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 10**6, peak  # never all images, nor a buffer of the file
    with np.load(tmp_path / "s.NPZ") as f:
        assert list(f) == ["arr_0"]
        np.testing.assert_array_equal(f["arr_0"], np.concatenate(list(_batches(n))))


@pytest.mark.parametrize("name", ["s.npz", "folder"])
def test_sample_output_written_halfway_is_removed_on_failure(tmp_path: Path, name: str) -> None:
    from gcc_gan.runtime.sample import write_samples

    def failing() -> Iterator[np.ndarray]:
        for i, b in enumerate(_batches(640)):
            if i == 3:
                raise RuntimeError("the generator failed")
            yield b

    with pytest.raises(RuntimeError):
        write_samples(failing(), 640, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_sample_refuses_what_the_disk_cannot_hold(tmp_path: Path) -> None:
    from gcc_gan.errors import GccGanError
    from gcc_gan.runtime.sample_out import check_resources

    check_resources(tmp_path / "s.npz", 100, (3, 32, 32), 64)
    with pytest.raises(GccGanError, match=rf"-o .*: 1000000000000 images need about .* of disk, and {tmp_path} has"):
        check_resources(tmp_path / "s.npz", 10**12, (3, 32, 32), 64)


# --------------------------------------------------------------------------- 5. --nproc


@pytest.mark.parametrize("cmd", [["search"], ["train", "zoo:dcgan", "--data", "synthetic"]])
def test_nproc_over_the_cores_is_a_usage_error(tmp_path: Path, cmd: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.cli.dist_launch import cpu_cores

    t0 = time.perf_counter()
    assert run([*cmd, "--nproc", "999", "--device", "cpu", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"999: more workers than the {cpu_cores()} CPU cores of this machine" in err and "'--nproc'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists() and time.perf_counter() - t0 < 60


def _children(pid: int) -> list[int]:
    try:
        return [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


@LINUX
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="--nproc 2 needs two cores")
def test_no_worker_outlives_a_killed_launcher(tmp_path: Path) -> None:
    """SIGKILL the `--nproc 2` launcher once its workers have joined: both die with it."""
    run_dir = tmp_path / "run"
    p = _cli("search", "--nproc", "2", "--preset", "tiny", "--iters", "400", "--device", "cpu", "-o", run_dir,
             start_new_session=True)
    # rank 0 locks the run once both workers have joined the process group
    _wait_for(lambda: (tmp_path / ".run.lock").is_file(), p, "locked the run")
    workers = _children(p.pid)
    assert len(workers) == 2
    p.kill()
    p.wait()
    end = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert left == [], "workers outlived their launcher"


# --------------------------------------------------------------------------- 6. archives


def test_deflate_bomb_is_refused_by_its_declared_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    bomb = tmp_path / "bomb.pth"
    torch.save({"w": torch.zeros(3)}, bomb)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf, zf.open("bomb/data/99", "w") as f:
        for _ in range(10):
            f.write(bytes(10 << 20))  # 100 MB of zeros → ~100 kB on disk
    assert bomb.stat().st_size < 10**6
    out = tmp_path / "g.safetensors"
    # bound at width 0.1: 16 × autogan-a's G + D float32 bytes × 0.01 + 64 MB ≈ 67 MB
    code = run(["import", "autogan", str(bomb), "--genotype", "zoo:autogan-a", "--width", "0.1", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and _errors(err) == [err.strip()], err
    assert "its archive members expand to 104.86 MB" in err and "refusing to extract it" in err
    assert not out.exists()


# --------------------------------------------------------------------------- 7. nothing left behind


def _wait_for(pred: Any, p: subprocess.Popen[str], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert p.poll() is None, f"ended before {what}: {p.communicate()}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.02)


@LINUX
def test_sigterm_to_compile_leaves_nothing(tmp_path: Path) -> None:
    """SIGTERM while the output is being built in its temp dir: exit 143, one line, no temp
    dir, no lock, no output."""
    out = tmp_path / "out"
    spec = tmp_path / "g.json"
    spec.write_text(json.dumps(tiny_doc(8)))
    p = _cli("compile", spec, "-o", out)
    _wait_for(lambda: any(x.name.startswith(".out.tmp-") for x in tmp_path.iterdir()), p, "made its temp dir")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "terminated"
    assert _leftovers(tmp_path) == [] and not out.exists()


def test_a_later_write_removes_what_a_killed_process_left(tmp_path: Path) -> None:
    from gcc_gan.atomic import atomic_dir, atomic_write_bytes

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".out.tmp-{dead.pid}-abc", tmp_path / f".x.npz.tmp-{dead.pid}-def"]
    stale[0].mkdir()
    (stale[0] / "generator.onnx").write_bytes(b"half")
    stale[1].write_bytes(b"half")
    live = tmp_path / f".out.tmp-{os.getpid()}-ghi"  # a running writer's: kept
    live.mkdir()
    with atomic_dir(tmp_path / "out") as d:
        (d / "f").write_text("x")
    atomic_write_bytes(tmp_path / "x.npz", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", "x.npz", live.name])


@LINUX
@pytest.mark.slow
def test_sigkill_leftovers_are_removed_by_the_next_compile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = _cli("compile", "zoo:dcgan", "-o", out)
    _wait_for(lambda: any(x.name.startswith(".out.tmp-") for x in tmp_path.iterdir()), p, "made its temp dir")
    p.kill()
    p.communicate()
    assert any(".tmp-" in n for n in _leftovers(tmp_path))
    q = _cli("compile", "zoo:dcgan", "-o", out, "--no-verify")
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    assert _leftovers(tmp_path) == [] and (out / "report.json").is_file()


@LINUX
def test_sigterm_to_train_checkpoints_the_current_step(tmp_path: Path) -> None:
    """SIGTERM (as Ctrl-C) mid-run: the step finishes, a checkpoint is written at it, and
    the message names it and the command that resumes; exit 143."""
    out = tmp_path / "run"
    p = _cli("train", "zoo:dcgan", "--preset", "tiny", "--data", "synthetic?n=128", "--device", "cpu", "--iters",
             "1000", "--width", "0.0625", "--batch-size", "8", "--log-every", "1", "--threads", "1", "-o", out)
    _wait_for(lambda: (out / "log.csv").is_file() and len((out / "log.csv").read_text().splitlines()) > 2, p,
              "logged two steps")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("terminated at iteration "), err
    step = int(line.split()[3].rstrip(";"))
    ck = out / "checkpoints" / f"step-{step:08d}"
    assert f"the last checkpoint is {ck} (iteration {step})" in line and "gcc-gan train --resume" in line
    assert ck.is_dir() and _leftovers(out) == [] and _leftovers(tmp_path) == []


def test_checkpoint_interval_never_exceeds_the_iterations() -> None:
    from gcc_gan.train.config import make_config

    assert make_config("tiny", {"iters": 50}).checkpoint_every == 25
    assert make_config("tiny", {}).checkpoint_every == 250
    assert make_config("tiny", {"iters": 1}).checkpoint_every == 1
    assert make_config("tiny", {"iters": 50, "checkpoint_every": 250}).checkpoint_every == 50
    assert make_config("tiny", {"iters": 50, "checkpoint_every": 7}).checkpoint_every == 7


# --------------------------------------------------------------------------- 8. bad values


@pytest.mark.parametrize("args, words", [
    (["compile", "zoo:dcgan", "--min-psnr", "-1", "-o", "OUT"], "'--min-psnr'"),
    (["sample", "zoo:dcgan", "-n", "2", "-o", "OUT/x."], "the name ends in '.'"),
])
def test_bad_values_are_usage_errors(tmp_path: Path, args: list[str], words: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run([a.replace("OUT", str(tmp_path / "o")) for a in args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and not (tmp_path / "o").exists()


def test_full_disk_names_the_target_not_the_cwd(tmp_path: Path) -> None:
    """A library that words a full disk without a file name (safetensors, torch.save): the
    message names the output the command is writing, not the working directory."""
    from gcc_gan.atomic import disk_full_message
    from gcc_gan.runlock import run_lock

    with run_lock(tmp_path / "out" / "model.onnx"):
        msg = disk_full_message(RuntimeError("No space left on device (os error 28)"))
    assert msg is not None and msg.startswith(f"{tmp_path / 'out' / 'model.onnx'}: no space left on device"), msg
