"""The four published methods survive the search redesign byte for byte (issue 22), and each
`--method` is exactly its `--space --strategy --evaluator --reward` triple.

The reference fingerprints (tests/data/fingerprints_micro.json) were recorded by
tests/record_fingerprints.py on the code before the redesign; they are compared only where
this machine's float kernels give the recorded canary (another CPU's SIMD path gives other
bytes for reasons unrelated to gcc-gan)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli, cli_flat
from fingerprint import DATA, MICRO, canary, fingerprint

from gcc_gan.search.config import make_config
from gcc_gan.search.registry import METHOD_PRESETS, SPACES, STRATEGIES, check_pair, matrix
from gcc_gan.search.run import SearchRequest, search

REF = json.loads((Path(__file__).parent / "data" / "fingerprints_micro.json").read_text())


def _explicit(method: str, over: dict) -> dict:
    p = METHOD_PRESETS[method]
    return {**over, "space": p.space, "strategy": p.strategy, "evaluator": p.evaluator,
            "reward": over.get("reward", p.reward)}


def _same_floats() -> bool:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as recorded (and as the runs use)
    try:
        return canary() == REF["canary"]
    finally:
        torch.set_num_threads(before)


def _run(tmp_path: Path, method: str | None, over: dict) -> dict[str, str]:
    if not _same_floats():
        pytest.skip("this machine's float kernels differ from the recording's (canary mismatch): "
                    "byte identity cannot be checked here")
    out = tmp_path / "run"
    search(SearchRequest(method=method, data=DATA, out=out, overrides=over, device="cpu", threads=1))
    return fingerprint(out)


@pytest.mark.parametrize("method", sorted(MICRO))
def test_method_runs_as_before_the_redesign(tmp_path: Path, method: str) -> None:
    assert _run(tmp_path, method, MICRO[method]) == REF["runs"][method]


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(MICRO))
def test_explicit_triple_runs_as_the_method(tmp_path: Path, method: str) -> None:
    # fast twin: test_explicit_triple_is_the_method (the settings the run is made from)
    assert _run(tmp_path, None, _explicit(method, MICRO[method])) == REF["runs"][method]


@pytest.mark.parametrize("preset", ["tiny", "paper"])
@pytest.mark.parametrize("method", sorted(METHOD_PRESETS))
def test_explicit_triple_is_the_method(method: str, preset: str) -> None:
    """A run is a function of its settings: equal settings from both forms, equal runs."""
    over = MICRO[method] if preset == "tiny" else {}
    assert make_config(None, preset, _explicit(method, over)) == make_config(method, preset, over)
    p = METHOD_PRESETS[method]  # the reward and evaluator are the preset's when left out
    assert make_config(None, preset, {"space": p.space, "strategy": p.strategy}) == make_config(method, preset, {})


def test_presets_are_working_pairs() -> None:
    for m, p in METHOD_PRESETS.items():
        assert p.space in SPACES and p.strategy in STRATEGIES, m
        check_pair(p.space, p.strategy, p.evaluator)
    assert not matrix()[("dggan", "growth")] and matrix()[("autogan", "differentiable")] == {"relax"}


def test_list_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    r = cli(capsys, "search", "--list")
    assert r.code == 0, r.err
    rows = {line.split()[0]: line.split()[1:] for line in r.out.splitlines()[1:] if line.split()
            and line.split()[0] in SPACES}
    head = r.out.splitlines()[0].split()[3:]  # after "space \ strategy"
    assert head == list(STRATEGIES.names()) and set(rows) == set(SPACES.names())
    for sp, cells in rows.items():  # each cell: ok, or the capability the space lacks
        line = " ".join(cells)
        for st in STRATEGIES.names():
            lack = matrix()[(sp, st)]
            assert ("lacks " + "+".join(sorted(lack))) in line if lack else "ok" in line
    assert "--method dggan: --space dggan --strategy growth --evaluator standalone --reward fid" in r.out


def test_unsupported_pair_is_a_usage_error_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    r = cli_flat(capsys, "search", "--space", "autogan", "--strategy", "differentiable", "-o", out)
    assert r.code == 2 and "Traceback" not in r.err, r.err
    assert "the autogan space lacks what differentiable needs" in r.err and "(relax)" in r.err
    assert "adversarialnas x differentiable" in r.err and "autogan x reinforce" in r.err  # the pairs that work
    assert not out.exists()
    r = cli_flat(capsys, "search", "--method", "adversarial", "--space", "degas", "-o", out)
    assert r.code == 2 and "--space degas contradicts it" in r.err, r.err
    assert not out.exists()
