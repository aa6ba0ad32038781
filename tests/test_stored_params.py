"""Compiled artifacts hold no more parameters than the source genotype: sub-pixel
transposed kernels are computed from the stored k×k kernel, batch norm is folded; report.json and
`gcc-gan show DIR` give source / stored / runtime parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gcc_gan.cli.main import run
from gcc_gan.compiler.passes.subpixel import convt_weight
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", [n for n in ENTRIES if zoo_genotype(n).generator is not None])
def test_stored_params_never_exceed_the_source(name: str) -> None:
    info = analyze(zoo_genotype(name).generator.scaled(0.125))
    c = compile_network(info)
    r = c.report
    # parameters, not batch-norm running statistics (buffers, as in the genotype's count)
    stored = sum(t.numel() for k, t in c.state_dict.items() if t.is_floating_point() and ".running_" not in k)
    assert r["params_stored"] == r["params"] == stored
    assert r["params_source"] == info.params and stored <= info.params
    assert r["params_runtime"] >= stored
    if any(o.call.op == "subpixel_conv" for e in c.ir.edges for o in e.ops):
        assert r["derived_tensors"] and r["params_runtime"] > stored


def test_transposed_kernel_computed_by_the_module_equals_the_reference() -> None:
    from gcc_gan.genotype_dsl.ops import REGISTRY, SOURCE_IMPORTS

    ns: dict = {}
    exec(SOURCE_IMPORTS + "".join(REGISTRY["subpixel_conv"].helpers), ns)  # noqa: S102 - the registry's source
    for k in (1, 3, 5):
        m = ns["SubPixelConv"](3, 4, k)
        with torch.no_grad():
            m.weight.normal_()
        assert torch.allclose(m.convt_weight(), convt_weight(m.weight.detach()), atol=1e-6)
        x = torch.randn(2, 3, 5, 6)  # and it is the upsample-then-conv it replaces
        want = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), m.weight, m.bias, padding=k // 2)
        with torch.no_grad():
            assert torch.allclose(m(x), want, atol=1e-4)
        assert sum(p.numel() for p in m.state_dict().values()) == 4 * 3 * k * k + 4


def test_report_and_show_give_source_stored_runtime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(["compile", "zoo:autogan-a", "--width", "0.0625", "-o", str(out), "--no-verify"]) == 0
    g = json.loads((out / "report.json").read_text())["networks"]["generator"]
    assert g["params_stored"] <= g["params_source"] < g["params_runtime"]
    assert g["params_onnx"] <= g["params_source"]
    capsys.readouterr()
    assert run(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "source params" in text and "runtime params" in text and f"{g['params_stored']:,}" in text
    assert run(["show", str(out), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["generator"]["params_onnx"] == g["params_onnx"]


def test_cached_kernel_follows_the_weight() -> None:
    from gcc_gan.genotype_dsl.ops import REGISTRY, SOURCE_IMPORTS

    ns: dict = {}
    exec(SOURCE_IMPORTS + "".join(REGISTRY["subpixel_conv"].helpers), ns)  # noqa: S102 - the registry's source
    m = ns["SubPixelConv"](2, 3, 3).eval()
    x = torch.randn(1, 2, 4, 4)
    with torch.no_grad():
        m.weight.normal_()
        a = m(x)
        m.load_state_dict({"weight": torch.randn(3, 2, 3, 3), "bias": torch.zeros(3)})  # in-place copy
        b = m(x)
    with torch.enable_grad():
        want = m(x)
    assert not torch.allclose(a, b) and torch.allclose(b, want.detach(), atol=1e-6)
