"""`gcc-gan scale`: width fitting, bad inputs, and resuming a killed sweep."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.scale import fit_width, parse_sizes
from gcc_gan.scale.width import scaled_to


@pytest.fixture(autouse=True)
def _no_real_inception(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Real Inception weights on the machine must not change what these tests run."""
    from gcc_gan.bench.inception import ENV_VAR

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GCC_GAN_CACHE", str(tmp_path / "cache"))

# ----------------------------------------------------------------------------- width search


@pytest.mark.parametrize("name", ["dcgan", "autogan-a", "adversarialnas"])
def test_width_hits_target_sizes(name: str) -> None:
    net = zoo_genotype(name).generator
    assert net is not None

    def params(bw: int) -> int:
        return analyze(scaled_to(net, bw), "generator", role="generator").params

    for size in (0.5, 1, 2, 4, 8, 16, 25):
        target = round(size * 1e6)
        fit = fit_width(net, target)
        assert fit.params == params(fit.base_width)
        # stated tolerance: within 4 % for targets of 0.5 M and up (integer base widths)
        assert abs(fit.rel_error) <= 0.04, (name, size, fit)
        # and the best an integer width can do
        for nb in (fit.base_width - 1, fit.base_width + 1):
            if nb >= 1:
                assert abs(fit.params - target) <= abs(params(nb) - target)
        assert fit.mult == fit.base_width / net.base_width


def test_published_width_is_found_again() -> None:
    net = zoo_genotype("autogan-a").generator
    assert net is not None
    fit = fit_width(net, 4_405_251)  # the paper's generator size
    assert fit.base_width == 256 and fit.params == 4_405_251 and fit.mult == 1.0


def test_target_below_minimum_width() -> None:
    net = zoo_genotype("autogan-a").generator
    assert net is not None
    with pytest.raises(GccGanError, match="below this genotype's minimum"):
        fit_width(net, 1000)


@pytest.mark.parametrize("text,match", [("1,x", "not a number"), ("0", "positive"), ("-2", "positive"),
                                        ("1,1", "listed twice"), (",", "at least one"), ("nan", "positive")])
def test_parse_sizes_errors(text: str, match: str) -> None:
    with pytest.raises(GccGanError, match=match):
        parse_sizes(text)


def test_parse_sizes() -> None:
    assert parse_sizes("0.5, 1,2M,25") == [0.5, 1.0, 2.0, 25.0]


# ----------------------------------------------------------------------------- CLI bad inputs


@pytest.mark.parametrize("args,match", [
    (["zoo:dcgan", "--sizes", "1,abc"], "not a number"),
    (["zoo:autogan-a", "--sizes", "0.001"], "below this genotype's minimum"),
    (["zoo:sngan-d", "--sizes", "1"], "no generator"),
    (["zoo:dcgan", "--sizes", "1", "--iters", "0"], "--iters 0"),
    (["zoo:dcgan", "--sizes", "1", "--threads", "0"], "--threads 0"),
    (["zoo:nope", "--sizes", "1"], "nope"),
    (["zoo:dcgan", "--sizes", "1", "--data", "cifar11:/x"], "unknown data spec"),
    (["zoo:dcgan", "--sizes", "1", "--resume"], "no sweep to resume"),
    (["zoo:dcgan", "--sizes", "1", "--inception-weights", "/no/such/file.pth"], "no such file"),
])
def test_cli_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], match: str) -> None:
    out = tmp_path / "sweep"
    code = run(["scale", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "error:" in err and match in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written


def test_cli_d_without_discriminator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.genotype_dsl.io import save_genotype

    g = zoo_genotype("dcgan").model_copy(update={"discriminator": None})
    save_genotype(g, tmp_path / "g_only.json")
    code = run(["scale", "zoo:dcgan", "--sizes", "1", "--d", str(tmp_path / "g_only.json"),
                "-o", str(tmp_path / "s")])
    assert code == 1 and "has no discriminator" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_cli_ray_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    code = run(["scale", "zoo:dcgan", "--sizes", "1", "--executor", "ray", "-o", str(tmp_path / "s")])
    assert code == 1 and "needs Ray" in capsys.readouterr().err


def test_cli_refuses_nonempty_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert run(["scale", "zoo:dcgan", "--sizes", "1", "-o", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- kill and resume

SWEEP = ["zoo:dcgan", "--sizes", "0.02,0.03,0.05,0.07", "--preset", "tiny", "--iters", "3",
         "--data", "synthetic?n=64", "--workers", "1", "--threads", "1"]


def _state(out: Path) -> dict:
    try:
        return json.loads((out / "state.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.slow  # fast twin: test_checkpoints.py::test_ctrl_c_in_scale_says_how_to_resume (stop, then --resume)
def test_resume_after_kill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    env = dict(os.environ)  # with the isolated cache / torch home of the autouse fixture
    proc = subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", "scale", *SWEEP, "-o", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        done: dict[str, float] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            rows = _state(out).get("candidates", [])
            done = {r["key"]: r["started"] for r in rows if r["status"] == "ok"}
            if done:
                break
            time.sleep(0.1)
        assert done, f"no candidate finished before the deadline: {proc.stderr.read().decode() if proc.stderr else ''}"
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    time.sleep(1.5)  # the orphaned worker notices its parent is gone (polls every second) and exits
    rows = _state(out)["candidates"]
    assert 1 <= sum(r["status"] == "ok" for r in rows) < 4  # killed mid-sweep

    # without --resume the directory is refused; with it, only the unfinished candidates run
    assert run(["scale", *SWEEP, "-o", str(out)]) == 1
    assert "--resume" in capsys.readouterr().err
    assert run(["scale", *SWEEP, "-o", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "already done" in err
    rows = _state(out)["candidates"]
    assert [r["status"] for r in rows] == ["ok"] * 4
    for r in rows:
        if r["key"] in done:  # not re-run: same start time, still one attempt
            assert r["started"] == done[r["key"]] and r["attempts"] == 1
    with open(out / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [t["status"] for t in table] == ["ok"] * 4
    assert [float(t["target_m"]) for t in table] == [0.02, 0.03, 0.05, 0.07]
    assert all(t["params"] and t["macs"] and t["d_loss"] and t["is"] == "" for t in table)
    for png in ("is_vs_size.png", "fid_vs_size.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- one candidate, evaluated



def test_candidate_trains_and_evaluates(tmp_path: Path, inception_file: Path, one_thread: None) -> None:
    """The job itself, in-process: train (2 iterations), then IS / FID through bench's
    metric path; running it again continues the finished run and gives the same numbers."""
    from gcc_gan.scale.candidate import Candidate, EvalSpec, run_candidate
    from gcc_gan.scale.sweep import ScaleRequest, _train_overrides

    req = ScaleRequest(genotypes=["zoo:dcgan"], sizes=[0.02], out=tmp_path, preset="tiny", iters=2)
    net = zoo_genotype("dcgan").generator
    assert net is not None
    fit = fit_width(net, 20_000)
    ev = EvalSpec(str(inception_file), True, 10, "synthetic?n=16", str(tmp_path / "cache"))
    c = Candidate(key="dcgan@0.02M", label="dcgan", genotype="zoo:dcgan", target_m=0.02, base_width=fit.base_width,
                  mult=fit.mult, params=fit.params, macs=fit.macs, run_dir=str(tmp_path / "run"),
                  data="synthetic?n=16", d="zoo:sngan-d", preset="tiny",
                  overrides={**_train_overrides(req), "width": fit.mult}, eval=ev, device="cpu")
    first = run_candidate(c)
    assert first["step"] == 2 and first["d_loss"] is not None
    assert first["is"] >= 1.0 - 1e-9 and first["fid"] > -1e-6  # IS ≥ 1 and FID ≥ 0 by construction
    proto = first["protocol"]  # the protocol travels with the numbers, as in bench rows
    assert proto["num_generated"] == 10 and proto["real"]["source"] == "synthetic?n=16"
    assert proto["real"]["num_samples"] == 10 and len(proto["real"]["sha256"]) == 64 and proto["is_splits"] == 10
    assert proto["inception"]["fid_inception"] is False and proto["preset"]["resize"] == "tf1x-bilinear-299"
    trained = analyze(zoo_genotype("dcgan").generator.scaled(fit.mult), "generator", role="generator")
    assert trained.params == fit.params  # the trainer trained the width the search chose
    again = run_candidate(c)
    assert (again["is"], again["fid"], again["step"]) == (first["is"], first["fid"], 2)


def test_plot_writes_is_plainly(tmp_path: Path) -> None:
    """IS values a hair above 1 (random Inception, tiny runs) are tick-labelled 1.0001, not
    0.0001 under an offset "+1" in the corner."""
    from gcc_gan.scale.plot import plot_metric

    rows = [{"genotype": g, "params": p, "target_m": t, "is": v, "status": "ok"}
            for g, p, t, v in (("a", 31193, 0.03, 1.00006), ("a", 58842, 0.06, 1.00039),
                               ("b", 35843, 0.03, 1.00007), ("b", 55779, 0.06, 1.00007))]
    fig = plot_metric(rows, "is", "IS", tmp_path / "is.png", "t")
    fmt = fig.axes[0].yaxis.get_major_formatter()
    assert fmt.get_offset() == "" and all(lbl.startswith("1.") for lbl in fmt.format_ticks(fig.axes[0].get_yticks()))
    assert (tmp_path / "is.png").stat().st_size > 1000
