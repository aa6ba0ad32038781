"""`search --resume` takes the method from the run (issue 25 item 8): --method need not be
repeated, an equal one is accepted, a different one is an error naming both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gcc_gan.cli.main import run
from gcc_gan.search.run import SearchRequest, search

SRC = str(Path(__file__).resolve().parents[1] / "src")
# a DEGAS supernet of width 4 on 16×16 images: a step takes milliseconds
# (its 3-step generator is collapsed: the health check is off, min_diversity 0 — this tests --resume)
TINY = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, log_every=1, checkpoint_every=1, iters=3, min_diversity=0.0)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def degas_run(tmp_path: Path) -> Path:
    """A DEGAS search stopped (as if killed) after step 2 of 3."""
    out = tmp_path / "run"
    search(SearchRequest(method="degas", data="synthetic?n=64", out=out, overrides=dict(TINY), device="cpu",
                         stop_after=2))
    assert not (out / "genotype.json").exists()
    return out


def test_resume_without_method_continues_the_runs_own(degas_run: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-m", "gcc_gan.cli.main", "search", "-o", str(degas_run), "--resume",
                        "--device", "cpu"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                       check=False)
    assert p.returncode == 0, p.stderr
    assert "degas search" in p.stderr and "resuming from step 2" in p.stderr
    assert "done: 3 iterations (resumed at 2, " in p.stdout
    assert f"pictures: {degas_run}/genotype.png, {degas_run}/op_probabilities.png" in p.stdout
    meta = json.loads((degas_run / "search.json").read_text())
    assert meta["config"]["method"] == "degas" and meta["status"] == "done"
    assert (degas_run / "genotype.json").is_file()


def test_resume_with_a_different_method_names_both(degas_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (degas_run / "search.json").read_text()
    assert run(["search", "-o", str(degas_run), "--resume", "--method", "adversarial", "--device", "cpu"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"--resume: {degas_run} is a search with --method degas, not --method adversarial" in err
    assert (degas_run / "search.json").read_text() == before  # nothing touched
    # the same method, repeated: accepted
    assert run(["search", "-o", str(degas_run), "--resume", "--method", "degas", "--device", "cpu"]) == 0
    assert "done: 3 iterations (resumed at 2, " in capsys.readouterr().out


def test_resume_without_o_takes_the_newest_run_of_any_method(degas_run: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.search.run import default_out

    monkeypatch.chdir(tmp_path)
    assert run(["search", "--resume", "--device", "cpu"]) == 1  # nothing to resume: said plainly
    assert "--resume: no runs/search-* run to resume (give the run directory with -o)" in capsys.readouterr().err
    (tmp_path / "runs").mkdir()
    degas_run.rename(tmp_path / "runs" / "search-degas")
    assert default_out(None, True) == Path("runs") / "search-degas"
    assert default_out(None, False) == Path("runs") / "search-adversarial"  # a new run: the default method
    assert run(["search", "--resume", "--device", "cpu"]) == 0  # neither -o nor --method
    assert "done: 3 iterations (resumed at 2, " in capsys.readouterr().out
    assert json.loads((tmp_path / "runs" / "search-degas" / "search.json").read_text())["status"] == "done"
