"""Shared test configuration.

Hypothesis profiles: `default` (CI: a few dozen examples per property, no deadline since
CI machines are shared and slow) and `big` for long sweeps
(`HYPOTHESIS_PROFILE=big pytest tests/test_properties.py`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("big", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FIXTURES = Path(__file__).parent / "fixtures"

# Under pytest-xdist (`-n auto`, the default) every worker is a process of its own: share the
# cores between them instead of each running torch's default of one thread per core.
if (_workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))) > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers))
if "PYTEST_XDIST_WORKER" in os.environ:
    # xdist's workers get COLUMNS=80 (no terminal behind them), which gcc-gan's consoles honour
    # like a user's setting: the output the tests read would wrap as in no real run
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run torch single-threaded: the tests' tensors are tiny, and on a loaded 2-core
    machine intra-op threads spend far longer waiting for each other than computing."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str | bytes, str], Path]:
    """Write text or bytes to a file under tmp_path and return its path."""

    def write(content: str | bytes, name: str = "genotype.json") -> Path:
        p = tmp_path / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        return p

    return write


@pytest.fixture(scope="session")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-weight Inception in the pytorch-fid layout, written once per session (the
    machine has no real weights; tests of IS/FID/KID paths use these)."""
    from gcc_gan.bench import inception as inc

    p = tmp_path_factory.getbasetemp() / "inception-random.pth"
    if not p.exists():
        inc.save_random_weights(p, seed=0)
    return p


# --------------------------------------------------------------------------- CLI helpers
# One set for every test module: `from conftest import cli, assert_clean_error`.


class CliRun(NamedTuple):
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> CliRun:
    """`gcc-gan ARGS` in this process: exit code, stdout, stderr (captured for this call only)."""
    from gcc_gan.cli.main import run

    capsys.readouterr()
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    return CliRun(code, out, err)


def cli_flat(capsys: pytest.CaptureFixture[str], *args: object) -> CliRun:
    """`cli` with whitespace folded: messages wrapped by the console read as one line."""
    r = cli(capsys, *args)
    return CliRun(r.code, " ".join(r.out.split()), " ".join(r.err.split()))


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    """A bad input's contract: exit 1, exactly one `error: …` message, no traceback, and the
    message names every fragment (whitespace folded, so console wrapping does not matter)."""
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(re.findall(r"(?:^|\n|\s)error: ", err)) == 1, err
    flat = " ".join(err.split())
    for f in fragments:
        assert f in flat, (f, err)


def assert_cli_error(run: CliRun, *fragments: str) -> None:
    """`assert_clean_error` for a whole `cli(...)` call: stdout holds no traceback either."""
    assert "Traceback" not in run.out, run.out
    assert_clean_error(run.code, run.err, *fragments)


def shown_macs(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """The generator's compiled MACs as `gcc-gan show --json` reports them."""
    r = cli(capsys, "show", path, "--json")
    assert r.code == 0, r.err
    return int(json.loads(r.out)["generator"]["compiled_macs"])


def search_killed_after(out: Path, data: str, overrides: dict[str, object], checkpoint: int) -> None:
    """`search()` with these settings in a child process that SIGKILLs itself right after
    checkpoint number `checkpoint` (checkpoints.KILL_AFTER_ENV); asserts it died so, unfinished."""
    import os
    import signal
    import subprocess
    import sys

    from gcc_gan.checkpoints import KILL_AFTER_ENV

    code = ("import torch; torch.set_num_threads(1)\nfrom pathlib import Path\n"
            "from gcc_gan.search.run import SearchRequest, search\n"
            f"search(SearchRequest(data={data!r}, out=Path({str(out)!r}), device='cpu', overrides={overrides!r}))\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, KILL_AFTER_ENV: str(checkpoint)},
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not (out / "genotype.json").exists()


def assert_killed_search_resumes_identically(tmp_path: Path, data: str, overrides: dict[str, object],
                                            checkpoint: int, files: tuple[str, ...]) -> None:
    """A search killed right after checkpoint `checkpoint` and resumed writes the same `files`
    and genotype as the same search uninterrupted."""
    from gcc_gan.genotype_dsl.io import load_genotype
    from gcc_gan.search.run import SearchRequest, search

    full, killed = tmp_path / "full", tmp_path / "killed"
    search(SearchRequest(data=data, out=full, device="cpu", overrides=overrides))
    search_killed_after(killed, data, overrides, checkpoint)
    res = search(SearchRequest(data=data, out=killed, resume=True, device="cpu"))
    assert res.resumed_from == checkpoint
    for name in files:
        assert (full / name).read_bytes() == (killed / name).read_bytes(), name
    assert load_genotype(full / "genotype.json").digest() == load_genotype(killed / "genotype.json").digest()
