"""The generated module's in-place rewrites (activations on writable values, sums that
accumulate into a writable term, nearest-upsampled terms added through a view) change
nothing a user can observe: outputs, gradients, inputs and repeated calls agree with the
reference interpreter in every mode (inference, no_grad, autograd)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from strategies import networks

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.export.onnx_export import export_onnx, verify_onnx
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.model import Network
from gcc_gan.genotype_dsl.ops import REGISTRY, SOURCE_IMPORTS
from gcc_gan.genotype_dsl.zoo import zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")


def _outs(y: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return y if isinstance(y, tuple) else (y,)


def check_against_reference(net: Network) -> str:
    info = analyze(net)
    torch.manual_seed(1)
    ref = Interpreter(info).eval()
    compiled = compile_network(info, ref.state_dict())
    mod = compiled.instantiate()
    xs = [torch.randn(3, *s, dtype=torch.float32) for s in compiled.input_shapes.values()]
    keep = [x.clone() for x in xs]
    with torch.inference_mode():
        want = _outs(ref(*xs))
        for _ in range(2):  # twice: nothing cached or overwritten leaks into the next call
            got = _outs(mod(*xs))
            for a, b in zip(got, want):
                assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        for a, b in zip(_outs(mod(*xs)), want):
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert all(torch.equal(x, k) for x, k in zip(xs, keep)), "an input was modified in place"
    # autograd: in-place ops never touch a tensor a backward needs (no version-counter error)
    grads = []
    for m in (ref, mod):
        ins = [x.clone().requires_grad_(True) for x in xs]
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in _outs(m(*ins))).backward()
        grads.append([i.grad for i in ins])
    for a, b in zip(*grads):  # None: an input no output depends on (e.g. only through a `none` edge)
        assert (a is None and b is None) or torch.allclose(a, b, atol=1e-3, rtol=1e-3)
    return compiled.source


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks())
def test_random_generators_agree_in_every_mode(net: Network) -> None:
    check_against_reference(net)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(role="discriminator"))
def test_random_discriminators_agree_in_every_mode(net: Network) -> None:
    check_against_reference(net)


def every_pattern() -> Network:
    """One network with each case the rewrites distinguish: a view of a new tensor, a value
    read once or twice, ReLU / tanh outputs (kept by their backward) as sum terms, a sum
    with no writable term, nearest and bilinear upsampled terms, a concatenated source,
    an output also read by an edge."""
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(4)
    b.latent("z", 6)
    b.node("m", width=1)
    b.edge("z", "m", op("linear", out_width=16.0), op("reshape", size=4))  # writable view, read once
    b.node("a", width=1)
    b.edge("m", "a", "relu", op("conv", kernel=3))
    b.node("lo", width=1)
    b.edge("a", "lo", op("conv", kernel=1))  # `a` is read twice
    b.node("r", width=1)
    b.edge("a", "r", "relu")  # a ReLU output (its backward keeps it) must not accumulate
    b.edge("lo", "r", op("conv", kernel=1))
    b.output("r", "r")
    b.node("s", width=1)
    b.edge("a", "s", op("upsample", mode="nearest"), op("conv", kernel=3), "relu")  # ReLU-ended term
    b.edge("a", "s", op("upsample", mode="nearest"), op("conv", kernel=1))  # the writable accumulator
    b.edge("lo", "s", op("upsample", mode="nearest"))  # added through a view
    b.edge("lo", "s", op("upsample", mode="bilinear"), "tanh")
    b.node("t", width=1)
    b.edge("s", "t", op("conv", kernel=3), "relu")
    b.edge("s", "t", op("conv", kernel=3), "tanh")  # no writable term: a + b
    b.node("c", width=1)
    b.edge("s", "c", "relu", op("conv", kernel=3))
    b.edge("t", "c", "relu", op("conv", kernel=3))
    b.output("img", "c")
    b.output("feat", "t")
    b.node("u", width=1)
    b.edge("t", "u", "relu", op("conv", kernel=1))  # `t` is also an output
    b.output("u", "u")
    return b.build()


def test_every_in_place_pattern_agrees_in_every_mode() -> None:
    src = check_against_reference(every_pattern())
    assert "add_upsampled(" in src and ".add_(" in src and "inplace=True" in src


def test_zoo_generator_uses_the_in_place_forms_only_where_safe() -> None:
    src = check_against_reference(zoo_genotype("autogan-a").generator.scaled(0.0625))
    assert "inplace=True" in src and "add_upsampled(" in src and ".add_(" not in src.split("def forward")[0]
    # `stem` feeds two edges: its ReLU must not overwrite it
    assert "F.relu(stem))" in src and "F.relu(stem, inplace=True)" not in src
    src = check_against_reference(zoo_genotype("adversarialnas").generator.scaled(0.0625))
    assert "F.relu(torch.cat(" in src and "], dim=1), inplace=True)" in src  # a merged conv's concat


def test_add_upsampled_equals_add_of_the_upsampled_map() -> None:
    ns: dict = {}
    exec(SOURCE_IMPORTS + "".join(REGISTRY["upsample"].add_into_src(  # noqa: S102 - registry source
        REGISTRY["upsample"].Params(), None, "a", "x")[1]), ns)  # type: ignore[index, arg-type]
    for scale in (2, 4):
        x = torch.randn(2, 3, 4, 5)
        acc = torch.randn(2, 3, 4 * scale, 5 * scale).contiguous(memory_format=torch.channels_last)
        want = acc + F.interpolate(x, scale_factor=scale, mode="nearest")
        with torch.inference_mode():
            got = ns["add_upsampled"](acc.clone(), x, scale)
        assert torch.equal(got, want)
        assert torch.equal(ns["add_upsampled"](acc.clone(), x, scale), want)  # grad mode: out of place


def pixel_norm_first(channels: int, size: int) -> Network:
    """A sum whose first (writable) term ends in pixel norm, `a * torch.rsqrt(...)`, and whose
    other term is a plain conv: the generated sum accumulates into the whole product."""
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(channels)
    b.latent("z", 6)
    b.node("m", width=1)
    b.edge("z", "m", op("linear", out_channels=channels * size * size), op("reshape", size=size))
    b.node("s", width=1)
    b.edge("m", "s", op("conv", kernel=1), "pixel_norm")
    b.edge("m", "s", op("conv", kernel=1))
    b.output("img", "s")
    return b.build()


@pytest.mark.parametrize(("channels", "size"), [(7, 1), (1, 4)])
def test_a_sum_accumulates_into_a_whole_pixel_norm_term(channels: int, size: int) -> None:
    # 7 channels at 1×1: `.add_` bound to the N×1×1×1 rsqrt factor and raised "output with
    # shape [3, 1, 1, 1] doesn't match the broadcast shape [3, 7, 1, 1]" (CI, hypothesis);
    # 1 channel: the add fits that factor, so the module silently computed a * (rsqrt + b)
    src = check_against_reference(pixel_norm_first(channels, size))
    assert ").add_(self." in src  # still accumulated in place, into the parenthesised product


def test_an_op_on_a_pixel_norm_output_applies_to_all_of_it() -> None:
    # a short chain is one expression: the slice applied to the rsqrt factor alone, so the
    # node got all 8 latent channels (and the linear after it raised)
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(4)
    b.latent("z", 8)
    b.node("v", channels=4)
    b.edge("z", "v", "pixel_norm", op("latent_slice", start=0, stop=4))
    b.node("m", width=1)
    b.edge("v", "m", op("linear", out_channels=64), op("reshape", size=4))
    b.output("img", "m")
    src = check_against_reference(b.build())
    assert "+ 1e-08))[:, 0:4]" in src


def test_the_pixel_norm_sum_exports_and_verifies(tmp_path: Path) -> None:
    compiled = compile_network(analyze(pixel_norm_first(7, 1)))
    module = compiled.instantiate()
    export_onnx(module, compiled.input_shapes, tmp_path / "net.onnx")
    errs = verify_onnx(tmp_path / "net.onnx", module, compiled.input_shapes, batches=(1, 3))["max_abs_err"]
    assert max(errs.values()) <= 1e-4


def test_an_input_reaching_the_output_only_through_a_none_edge_has_no_gradient() -> None:
    # found by the random generators: both modules leave that input's grad None (the
    # compiler drops the `none` edge; zeros_like does not depend on its input)
    from gcc_gan.genotype_dsl.builder import NetBuilder, op

    b = NetBuilder(4)
    b.latent("z", 8)
    b.latent("y", 6)
    b.node("m", width=1)
    b.edge("z", "m", op("linear", out_channels=16), op("reshape", size=2))
    b.node("n", width=1)
    b.edge("y", "n", op("linear", out_channels=16), op("reshape", size=2))
    b.edge("n", "m", "none")
    b.output("img", "m")
    check_against_reference(b.build())
