"""Progress of long commands (issue 25 item 4): the one progress helper in plain (piped)
mode, `bench` rows kept on Ctrl-C (a real subprocess interrupted at a known row), and
SWD's own quick default count."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gcc_gan import console as C
from gcc_gan.bench.runner import BenchOptions
from gcc_gan.bench.swd import MAX_IMAGES, SWD_SAMPLES
from gcc_gan.cli.bench_cmd import SIGINT_AFTER_ROWS
from gcc_gan.cli.main import run

SRC = str(Path(__file__).resolve().parents[1] / "src")


def gcc_gan(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI of this checkout in a real process, its stdout and stderr pipes (not a terminal)."""
    full = {**os.environ, "PYTHONPATH": SRC, "GCC_GAN_CACHE": str(cwd / "cache"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gcc_gan.cli.main", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300, check=False)


def test_plain_progress_prints_phases_tenths_and_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    con = C.make_console(file=buf)
    monkeypatch.setattr(C, "PLAIN_GAP_S", 0.0)  # every tenth gets its line
    with C.progress("work", 20, console=con) as task:
        for _ in range(20):
            task.advance()
        task.update(completed=20)  # the end is reported once
    lines = buf.getvalue().splitlines()
    assert lines[0] == "work: 0/20"
    assert [ln.split("  (")[0] for ln in lines[1:]] == [f"work: {i}/20" for i in range(2, 21, 2)]
    buf.seek(0)
    buf.truncate()
    monkeypatch.setattr(C, "PLAIN_GAP_S", 3600.0)  # a fast phase: its start and its end only
    with C.progress("steps", console=con) as task:
        task.update(description="export")
        task.update(description="export")  # the same phase: no second line
        task.update(description="verify")
    with C.progress("fast", 1000, console=con) as task:
        for _ in range(10):
            task.advance(100)
    lines = buf.getvalue().splitlines()
    assert lines[:3] == ["steps…", "export…", "verify…"]
    assert lines[3] == "fast: 0/1000" and lines[4].startswith("fast: 1000/1000  (") and len(lines) == 5
    buf.seek(0)
    buf.truncate()
    with C.progress("hidden", 10, console=con, enabled=False) as task:
        task.advance(10)
    assert buf.getvalue() == ""


def test_bench_interrupted_after_its_first_row_keeps_it(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT, sent by bench to itself right after row 1 through the test hook): the
    finished row is printed and written to --json marked partial, exit 130."""
    out = tmp_path / "b.json"
    p = gcc_gan("bench", "zoo:dcgan", "zoo:sngan", "--width", "0.0625", "--metrics", "macs", "--json", str(out),
                cwd=tmp_path, env={SIGINT_AFTER_ROWS: "1"})
    assert p.returncode == 130, p.stderr
    assert "row 1/2: dcgan ×0.0625" in p.stdout and "sngan" not in p.stdout.split("row 1/2")[1].split("\n")[0]
    assert "benchmarking sngan" not in p.stdout  # interrupted before the second target
    assert "│ dcgan ×0.0625 │" in p.stdout  # the table of the rows kept
    assert f"interrupted: kept the 1 finished row(s) of 2; {out} holds them, marked partial" in p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads(out.read_text())
    assert doc["partial"] is True and doc["targets"] == 2
    assert [r["method"] for r in doc["results"]] == ["dcgan ×0.0625"] and doc["results"][0]["size"]["macs"] > 0
    # the uninterrupted run: both rows, not partial, and the file is replaced only with --force
    p = gcc_gan("bench", "zoo:dcgan", "zoo:sngan", "--width", "0.0625", "--metrics", "macs", "--json", str(out),
                "--force", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "row 1/2: dcgan" in p.stdout and "row 2/2: sngan" in p.stdout
    doc = json.loads(out.read_text())
    assert doc["partial"] is False and "targets" not in doc and len(doc["results"]) == 2


def test_swd_counts_default_and_cap() -> None:
    assert BenchOptions(metrics=("swd",), real="synthetic").swd_samples == SWD_SAMPLES == 256
    assert BenchOptions(metrics=("swd",), real="synthetic", num_samples=20).swd_samples == 20
    assert BenchOptions(metrics=("swd",), real="synthetic", num_samples=50_000).swd_samples == MAX_IMAGES
    assert BenchOptions(metrics=("fid",), real="synthetic").quality_samples == 50_000  # the default protocol's


def test_bench_swd_says_its_count_and_warns_only_when_asked_for_more(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    code = run(["bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "macs,swd", "--real", "synthetic",
                "--num-samples", "16", "--json", str(tmp_path / "s.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "warning" not in err  # --num-samples 16 applies to SWD as asked
    assert out.count("SWD protocol: 16 generated vs 16 real (synthetic)") == 1  # the count is said once
    assert "default count" not in out  # the default's note only where the default was used
    row = json.loads((tmp_path / "s.json").read_text())["results"][0]
    assert row["swd"]["num_samples"] == 16 and row["swd"]["mean"] > 0
    # the plain phase lines of a piped run (stderr is no terminal under capsys)
    assert "dcgan ×0.0625: SWD of 16 generated vs 16 real images…" in err
