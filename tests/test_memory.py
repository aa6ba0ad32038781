"""Oversized networks are refused with the estimated figure and the limit before anything
is allocated (issue 10): the interpreter (the one place networks are built), compile,
train; `--max-memory` / `$GCC_GAN_MAX_MEMORY` raise or lower the limit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import assert_cli_error, cli

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.io import parse_genotype
from gcc_gan.genotype_dsl.memory import ENV, estimate_memory, parse_size

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """No inherited limit; whatever a command sets is undone after the test."""
    monkeypatch.setenv(ENV, "8GB")
    monkeypatch.delenv(ENV)


def tiny() -> dict[str, Any]:
    text = README.read_text()
    start = text.index('```json\n{\n  "schema_version"') + len("```json\n")
    return json.loads(text[start:text.index("```", start)])


def upsample_chain() -> dict[str, Any]:
    """z → 4×4 → three ×8 upsamples → 2048×2048: small weights, huge activations."""
    doc = tiny()
    g = doc["generator"]
    g["nodes"] = [{"name": n, "width": 1} for n in ("stem", "a", "b", "c")] + [{"name": "rgb", "channels": 3}]
    g["edges"] = [g["edges"][0]] + [
        {"src": s, "dst": d, "ops": [{"op": "upsample", "scale": 8}, {"op": "conv", "kernel": 1}]}
        for s, d in (("stem", "a"), ("a", "b"), ("b", "c"))] + [{"src": "c", "dst": "rgb", "ops": ["tanh"]}]
    g["nodes"][-1] = {"name": "rgb", "width": 1}
    return doc


def info_of(doc: dict[str, Any], net: str = "generator"):
    return analyze(getattr(parse_genotype(doc), net), net, role=net)


@pytest.mark.parametrize("text, n", [("8GB", 8 * 10**9), ("512MB", 512 * 10**6), ("1.5GiB", 3 * 2**29),
                                     ("1000", 1000), ("2 kB", 2000), ("0.5tb", 5 * 10**11)])
def test_parse_size(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "GB", "8XB", "-1GB", "0", "1e3"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_huge_base_width_is_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tiny()
    doc["generator"]["base_width"] = 65536  # validates; 326.70 GB of fp32 weights
    info = info_of(doc)

    def no_tensor(*a: object, **k: object) -> None:  # how nn.Conv2d / nn.Linear allocate weights
        raise AssertionError(f"a tensor {a} was allocated before the refusal")

    with monkeypatch.context() as m, pytest.raises(GccGanError) as ei:
        m.setattr(torch, "empty", no_tensor)
        Interpreter(info)
    msg = str(ei.value)
    assert re.search(r"the generator needs an estimated 32\d\.\d\d GB \(326\.70 GB of parameters \+ 184\.55 MB of "
                     r"activations at batch 1 \+ [\d.]+ [MG]B for the process and its libraries\)", msg), msg
    assert "memory limit of 8.00 GB" in msg and "--max-memory" in msg and ENV in msg


def test_huge_linear_is_refused() -> None:
    doc = tiny()
    doc["generator"]["inputs"][0]["dim"] = 65536
    doc["generator"]["edges"][0]["ops"][:1] = [{"op": "linear", "out_channels": 1_000_000},  # 65536 × 10⁶
                                               {"op": "latent_slice", "start": 0, "stop": 512}]
    with pytest.raises(GccGanError, match=r"needs an estimated 26\d\.\d\d GB \(262\.\d\d GB of parameters"):
        Interpreter(info_of(doc))


def test_activations_count_at_the_batch_that_runs() -> None:
    """Three ×8 upsamples: tiny weights, 1.7 GB of activations per sample. Building the
    interpreter (batch 1) is fine; compiling (verified at batch 64) is refused."""
    info = info_of(upsample_chain())
    est = estimate_memory(info, batch=1)
    assert est.params_bytes < 10**6 and 10**9 < est.activation_bytes < 4 * 10**9
    Interpreter(info)
    with pytest.raises(GccGanError, match=r"activations at batch 64 \+ [\d.]+ [MG]B for the process and its "
                                          r"libraries\), more than the memory limit of 8\.00 GB"):
        compile_network(info)


def test_large_discriminator_is_refused_by_compile() -> None:
    doc = {"schema_version": "1.0", "discriminator": {
        "base_width": 16, "inputs": [{"name": "x", "kind": "image", "channels": 3, "size": 4096}],
        "nodes": [{"name": "h", "width": 1}, {"name": "logit", "channels": 1}],
        "edges": [{"src": "x", "dst": "h", "ops": [{"op": "conv", "kernel": 3}, "relu"]},
                  {"src": "h", "dst": "logit", "ops": ["global_sum_pool", "linear"]}],
        "outputs": [{"name": "logit", "node": "logit"}]}}
    with pytest.raises(GccGanError, match="the discriminator needs an estimated"):
        compile_network(info_of(doc, "discriminator"), role="discriminator")


def test_environment_variable_sets_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    info = info_of(tiny())
    monkeypatch.setenv(ENV, "10kB")
    with pytest.raises(GccGanError, match="memory limit of 10.00 kB"):
        Interpreter(info)
    monkeypatch.setenv(ENV, "100GB")
    Interpreter(info)
    monkeypatch.setenv(ENV, "lots")
    with pytest.raises(GccGanError, match=rf"\${ENV} 'lots': expected a size"):
        Interpreter(info)


def test_compile_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.json"
    doc = tiny()
    doc["generator"]["base_width"] = 65536
    big.write_text(json.dumps(doc))
    assert_cli_error(cli(capsys, "compile", big, "-o", tmp_path / "out", "--no-verify"),
                     "error: the generator compile needs an estimated 3.94 TB")
    assert not (tmp_path / "out").exists()
    small = tmp_path / "tiny.json"
    small.write_text(json.dumps(tiny()))
    assert_cli_error(cli(capsys, "compile", small, "-o", tmp_path / "out", "--no-verify", "--max-memory", "100kB"),
                     "memory limit of 100.00 kB")
    code, _, err = cli(capsys, "compile", small, "-o", tmp_path / "out", "--no-verify", "--max-memory", "2XB")
    assert code == 2 and "--max-memory" in err


def test_train_refuses_before_touching_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert_cli_error(cli(capsys, "train", "zoo:dcgan", "--data", "synthetic", "-o", out, "--preset", "tiny",
                         "--iters", "1", "--device", "cpu", "--width", "8", "--max-memory", "2GB"),
                     "error: the generator needs an estimated", "optimiser state")
    assert not out.exists() or not any(out.iterdir())
    # a limit below what the process itself holds: refused before torch is imported
    assert_cli_error(cli(capsys, "train", "zoo:dcgan", "--data", "synthetic", "-o", out, "--preset", "tiny",
                         "--iters", "1", "--device", "cpu", "--max-memory", "1MB"),
                     "error: the training needs", "memory limit of 1.00 MB")
    assert not out.exists() or not any(out.iterdir())
