"""Every compiler pass keeps the network's outputs (≤ 1e-5 against the reference
interpreter) on random valid genotypes, alone and in the full pipeline, and never adds
MACs; the zoo reaches its MAC targets."""

from __future__ import annotations

import ast
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import networks

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.passes import pipeline
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.model import Network
from gcc_gan.genotype_dsl.zoo import zoo_genotype

PASS_NAMES = [name for name, _ in pipeline()]


def randomized_reference(net: Network, seed: int = 0) -> Interpreter:
    """An eval-mode interpreter with random weights AND random batch-norm statistics, so
    that folding and commuting batch norm is really exercised."""
    torch.manual_seed(seed)
    ref = Interpreter(analyze(net)).eval()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2.0)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
    return ref


def inputs_for(ref: Interpreter, batch: int = 3, seed: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *s, generator=gen) for s in ref.info.input_shapes.values()]


def max_err(a: torch.Tensor | tuple, b: torch.Tensor | tuple) -> float:
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return max(((x - y).abs().max() / max(1.0, y.abs().max().item())).item() for x, y in zip(a, b))


def check_equivalent(net: Network, passes: bool | list[str]) -> dict:
    ref = randomized_reference(net)
    compiled = compile_network(ref.info, ref.state_dict(), role="generator", passes=passes)
    module = compiled.instantiate()
    xs = inputs_for(ref)
    with torch.no_grad():
        err = max_err(module(*xs), ref(*xs))
    assert err <= 1e-5, f"passes {passes}: max error {err:.3g}\n{compiled.source}"
    # MACs never grow, except by the bias adds that replace a folded batch norm (batch norm
    # itself is not counted in the papers' MAC convention)
    bn_elems = sum(math.prod(o.out_shape) for e in ref.info.edges for o in e.ops if o.call.op == "batch_norm")
    assert compiled.report["macs_after"] <= compiled.report["macs_before"] + bn_elems
    return compiled.report


@settings(max_examples=30, deadline=None)
@given(net=networks(), pass_name=st.sampled_from(PASS_NAMES))
def test_each_pass_alone_is_exact(net: Network, pass_name: str) -> None:
    check_equivalent(net, [pass_name])


@settings(max_examples=40, deadline=None)
@given(net=networks())
def test_full_pipeline_is_exact(net: Network) -> None:
    check_equivalent(net, True)


@settings(max_examples=15, deadline=None)
@given(net=networks(role="discriminator"))
def test_full_pipeline_is_exact_on_discriminators(net: Network) -> None:
    check_equivalent(net, True)


@pytest.mark.parametrize("name", ["autogan-a", "autogan-b", "autogan-c", "adversarialnas", "sngan", "dcgan"])
def test_zoo_generators_compile_exactly(name: str) -> None:
    report = check_equivalent(zoo_genotype(name).generator.scaled(1 / 32), True)
    assert report["passes"], "passes should have run"


@pytest.mark.parametrize("name, target", [("autogan-a", 0.75), ("adversarialnas", 0.82)])
def test_zoo_mac_targets(name: str, target: float) -> None:
    info = analyze(zoo_genotype(name).generator)
    report = compile_network(info).report
    assert report["macs_ratio"] <= target, report
    assert {"commute_upsample", "subpixel"} <= {p["name"] for p in report["passes"] if p["fired"]}


def test_parallel_edges_with_equal_ops_but_different_weights() -> None:
    """Removing one of two parallel edges whose ops differ only in their weights: IR
    edges are compared by identity (value equality would compare weight tensors)."""
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(8)
    b.latent("z", 4)
    b.node("m", width=1)
    b.edge("z", "m", op("linear", out_width=16.0), op("reshape", size=4))
    b.node("n", width=1)
    b.edge("m", "n", op("conv", kernel=3), "relu")
    b.edge("m", "n", op("conv", kernel=3), "relu")
    b.edge("m", "n", "none")
    b.output("out", "n")
    report = check_equivalent(b.build(), ["dead_code"])
    assert report["passes"][0]["fired"]


def test_subpixel_halves_work_exactly() -> None:
    """A 3x3 conv on a nearest-upsampled map becomes a sub-pixel conv with 2.25x fewer MACs."""
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(8)
    b.latent("z", 4)
    b.node("m", width=1)
    b.edge("z", "m", op("linear", out_width=16.0), op("reshape", size=4))
    b.node("up", width=1)
    b.edge("m", "up", op("upsample", mode="nearest"), "relu", op("conv", kernel=3))
    b.output("out", "up")
    report = check_equivalent(b.build(), ["commute_upsample", "subpixel"])
    conv_before = 8 * 8 * 8 * 8 * 9
    conv_after = 8 * 8 * 8 * 8 * 4
    assert report["macs_before"] - report["macs_after"] == conv_before - conv_after


def test_generated_source_imports_only_torch() -> None:
    info = analyze(zoo_genotype("adversarialnas").generator.scaled(1 / 32))
    src = compile_network(info).source
    tree = ast.parse(src)
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert mods == {"torch"}
    assert "class Generator(nn.Module)" in src and "def forward(self, z" in src


# `none` is only ever a whole edge (validation rejects it inside a pipeline: see
# tests/test_validation.py). Every pass, alone and in the pipeline, with a `none` edge at
# every place one can sit: from an input, as the only input of a node (whose zeros then
# flow through a biased conv: issue 10's miscompile), beside other inputs, several at one
# node, into an output node.
NONE_PLACES = ["from_input", "only_input", "beside_others", "several", "into_output"]


def _net_with_none(place: str) -> Network:
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(4)
    b.latent("z", 16)
    b.node("v", channels=16)
    b.edge("z", "v", op("linear", out_channels=16))
    if place == "from_input":
        b.edge("z", "v", "none")
    b.node("m", width=1)
    b.edge("v", "m", op("reshape", size=2))
    b.node("n", width=1)
    if place == "only_input":
        b.edge("m", "n", "none")
    else:
        b.edge("m", "n", "relu", op("conv", kernel=3))
        if place in ("beside_others", "several"):
            b.edge("m", "n", "none")
        if place == "several":
            b.edge("m", "n", "none")
            b.edge("m", "n", "none")
    b.node("up", width=1)  # the zeros of a `none` node go through a biased conv: non-zero
    b.edge("n", "up", op("upsample"), op("conv", kernel=1))
    b.edge("m", "up", op("upsample", mode="bilinear"), op("batch_norm"))
    b.node("out", width=1)
    b.edge("up", "out", op("batch_norm"), "relu", op("conv", kernel=3))
    if place == "into_output":
        b.edge("up", "out", "none")
    b.output("img", "out")
    return b.build()


@pytest.mark.parametrize("place", NONE_PLACES)
@pytest.mark.parametrize("passes", [True, *([p] for p in PASS_NAMES)], ids=["all", *PASS_NAMES])
def test_passes_with_none_everywhere(place: str, passes: bool | list[str]) -> None:
    check_equivalent(_net_with_none(place), passes)


def test_dead_code_keeps_a_biased_conv_after_a_none_node() -> None:
    """The `none` node's zeros reach a conv whose bias makes them non-zero: only the
    `none` edge goes, the conv stays."""
    report = check_equivalent(_net_with_none("only_input"), ["dead_code"])
    assert report["macs_after"] == report["macs_before"]
