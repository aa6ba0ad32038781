"""The op registry against the modules it builds: for every op, the declared shape rule,
parameter count and MACs agree with what PyTorch actually does."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gcc_gan.compiler.interpreter import build_op
from gcc_gan.genotype_dsl.analysis import OpInfo
from gcc_gan.genotype_dsl.model import OpCall
from gcc_gan.genotype_dsl.ops import REGISTRY, OpCtx, Shape, get_spec, parse_params

pytestmark = pytest.mark.usefixtures("one_thread")

Case = tuple[dict[str, Any], Shape, int]  # (op JSON, input shape per sample, out channels)

# Explicit cases: every parameter that matters, per op. Ops missing here (e.g. ones added
# to the registry later) are still checked with default parameters on generic inputs.
CASES: dict[str, list[Case]] = {
    "conv": [({"kernel": k, "dilation": d, "stride": s, "bias": b}, (4, 9, 8), 6)
             for k in (1, 3, 5) for d in (1, 2) for s in (1, 2) for b in (True, False)]
            + [({"groups": 2}, (4, 8, 8), 6), ({"depthwise": True}, (4, 8, 8), 8),
               ({"depthwise": True, "kernel": 5, "bias": False}, (4, 6, 6), 4), ({"sn": True}, (3, 8, 8), 5),
               ({"kernel": 4, "stride": 2, "padding": 1, "sn": True}, (4, 8, 8), 8),
               ({"kernel": 3, "padding": 0}, (2, 5, 7), 3), ({"out_channels": 7}, (4, 4, 4), 7)],
    "sep_conv": [({"kernel": k, "dilation": d, "stride": s, "bias": b}, (4, 8, 8), 6)
                 for k in (3, 5) for d in (1, 2) for s in (1, 2) for b in (True, False)],
    "conv_transpose": [({}, (4, 4, 4), 6), ({"bias": False}, (4, 3, 5), 2),
                       ({"kernel": 4, "stride": 2, "padding": 1}, (4, 4, 4), 6),
                       ({"kernel": 3, "stride": 2, "padding": 1, "output_padding": 1, "depthwise": True,
                         "bias": False}, (4, 4, 4), 4),
                       ({"kernel": 3, "stride": 1, "padding": 1, "groups": 2}, (4, 5, 5), 6),
                       ({"sn": True}, (3, 2, 2), 3)],
    "linear": [({}, (12,), 7), ({"bias": False}, (5,), 3), ({"sn": True}, (6,), 6),
               ({"sn": True, "bias": False}, (6,), 1)],
    "upsample": [({"mode": m, "scale": s}, (3, 4, 5), 3) for m in ("nearest", "bilinear") for s in (2, 4)],
    "avg_pool": [({}, (3, 8, 8), 3), ({"kernel": 3, "stride": 1, "padding": 1}, (3, 5, 5), 3),
                 ({"kernel": 4}, (3, 8, 9), 3)],
    "max_pool": [({}, (3, 8, 8), 3), ({"kernel": 3, "stride": 1, "padding": 1}, (3, 5, 5), 3)],
    "identity": [({}, (3, 4, 4), 3), ({}, (7,), 7)],
    "none": [({}, (3, 4, 4), 3)],
    "batch_norm": [({}, (3, 4, 4), 3), ({"affine": False}, (3, 4, 4), 3), ({}, (9,), 9),
                   ({"eps": 1e-3, "momentum": 0.5}, (2, 2, 2), 2)],
    "instance_norm": [({}, (3, 4, 4), 3), ({"affine": True}, (3, 4, 4), 3), ({"eps": 1e-3}, (2, 1, 2), 2)],
    "pixel_norm": [({}, (3, 4, 4), 3), ({"eps": 1e-6}, (5,), 5)],
    "relu": [({}, (3, 4, 4), 3)],
    "leaky_relu": [({}, (3, 4, 4), 3), ({"slope": 0.1}, (6,), 6)],
    "tanh": [({}, (3, 4, 4), 3)],
    "reshape": [({"size": 4}, (48,), 3), ({"size": 1}, (5,), 5)],
    "flatten": [({}, (3, 4, 5), 60)],
    "latent_slice": [({"start": 0, "stop": 4}, (10,), 4), ({"start": 3, "stop": 10}, (10,), 7)],
    "global_sum_pool": [({}, (3, 4, 5), 3)],
    "minibatch_stddev": [({}, (3, 4, 4), 4)],
}

GENERIC_INPUTS: list[tuple[Shape, int]] = [((4, 8, 8), 6), ((4, 8, 8), 4), ((6,), 5), ((6,), 6)]


def all_cases(name: str) -> list[Case]:
    """The explicit cases of `name`, plus default parameters on every generic input its
    shape rule accepts."""
    cases = list(CASES.get(name, []))
    spec = get_spec(name)
    try:
        p = parse_params(spec, {})
    except ValueError:  # required parameters: only explicit cases
        return cases
    for shape, c in GENERIC_INPUTS:
        try:
            spec.shape(p, OpCtx(shape, c))
        except ValueError:
            continue
        cases.append(({}, shape, c))
    return cases


def op_info(name: str, raw: dict[str, Any], in_shape: Shape, out_c: int) -> OpInfo:
    call = OpCall.of(name, **raw)
    ctx = OpCtx(in_shape, out_c if call.spec.produces_channels else in_shape[0])
    out = call.spec.shape(call.params, ctx)
    return OpInfo(call, ctx, out, call.spec.n_params(call.params, ctx), call.spec.macs(call.params, ctx, out))


def run_op(info: OpInfo, n: int = 3) -> tuple[torch.nn.Module | None, torch.Tensor]:
    torch.manual_seed(0)
    module, fn = build_op(info)
    if module is not None:
        module.eval()
    x = torch.randn(n, *info.ctx.in_shape)
    with torch.no_grad():
        return module, fn(x, module)


def test_registry_names_match() -> None:
    assert all(spec.name == name for name, spec in REGISTRY.items())
    assert set(CASES) <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_shape_and_params_match_the_module(name: str) -> None:
    cases = all_cases(name)
    assert cases, f"op {name!r} has required parameters: add explicit cases to CASES in {__file__}"
    for raw, in_shape, out_c in cases:
        info = op_info(name, raw, in_shape, out_c)
        module, y = run_op(info)
        where = f"{name} {raw} on {in_shape}"
        assert tuple(y.shape) == (3, *info.out_shape), where
        n = sum(p.numel() for p in module.parameters()) if module is not None else 0
        assert info.params == n, where
        assert torch.isfinite(y).all(), where


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_macs_match_the_flop_counter(name: str) -> None:
    """Registry MACs = FlopCounterMode's flops / 2 + one add per output element for a bias
    (the flop counter counts multiply-adds of conv/linear kernels, not bias adds)."""
    for raw, in_shape, out_c in all_cases(name):
        info = op_info(name, raw, in_shape, out_c)
        module, fn = build_op(info)
        if module is not None:
            module.eval()
        n = 2
        x = torch.randn(n, *in_shape)
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            fn(x, module)
        bias_adds = 0
        if getattr(info.call.params, "bias", False):
            bias_adds = 1
            for s in info.out_shape:
                bias_adds *= s
        assert fc.get_total_flops() % (2 * n) == 0
        assert info.macs == fc.get_total_flops() // (2 * n) + bias_adds, f"{name} {raw} on {in_shape}"


def test_mac_formulas() -> None:
    # conv: one MAC per weight use per output element, plus the bias adds
    assert op_info("conv", {}, (4, 8, 8), 6).macs == 6 * 8 * 8 * (4 * 9) + 6 * 8 * 8
    assert op_info("conv", {"bias": False, "groups": 2}, (4, 8, 8), 6).macs == 6 * 64 * 2 * 9
    assert op_info("conv", {"stride": 2, "kernel": 5}, (4, 8, 8), 6).macs == 6 * 16 * 4 * 25 + 6 * 16
    assert op_info("conv", {"depthwise": True, "bias": False}, (4, 8, 8), 4).macs == 4 * 64 * 9
    # transposed conv: every input pixel scatters cin × cout/g × k² products
    assert op_info("conv_transpose", {}, (4, 4, 4), 6).macs == 16 * 4 * 6 * 4 + 6 * 8 * 8
    assert op_info("conv_transpose", {"kernel": 3, "stride": 2, "padding": 1, "output_padding": 1,
                                      "depthwise": True, "bias": False}, (4, 4, 4), 4).macs == 16 * 4 * 9
    # linear = its parameter count
    assert op_info("linear", {}, (12,), 7).macs == 12 * 7 + 7
    # separable: depthwise k² per input channel and pixel + pointwise
    assert op_info("sep_conv", {}, (4, 8, 8), 6).macs == 64 * 4 * 9 + 64 * 4 * 6 + 64 * 6
    for name in ("upsample", "avg_pool", "batch_norm", "relu", "pixel_norm", "minibatch_stddev"):
        shape = (3, 4, 4)
        assert op_info(name, {}, shape, 3).macs == 0


def test_param_formulas() -> None:
    assert op_info("conv", {}, (4, 8, 8), 6).params == 6 * 4 * 9 + 6
    assert op_info("conv", {"depthwise": True, "bias": False}, (4, 8, 8), 8).params == 8 * 9
    assert op_info("conv_transpose", {"groups": 2}, (4, 4, 4), 6).params == 4 * 3 * 4 + 6
    assert op_info("sep_conv", {"bias": False}, (4, 8, 8), 6).params == 4 * 9 + 4 * 6
    assert op_info("batch_norm", {}, (5, 2, 2), 5).params == 10
    assert op_info("instance_norm", {}, (5, 2, 2), 5).params == 0
    assert op_info("instance_norm", {"affine": True}, (5, 2, 2), 5).params == 10


def test_semantics_of_simple_ops() -> None:
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2) - 10
    for name, want in [("relu", x.clamp(min=0)), ("identity", x), ("none", torch.zeros_like(x)),
                       ("tanh", torch.tanh(x)), ("global_sum_pool", x.sum(dim=(2, 3))), ("flatten", x.reshape(2, 12))]:
        _, fn = build_op(op_info(name, {}, (3, 2, 2), 3))
        assert torch.equal(fn(x, None), want), name
    _, fn = build_op(op_info("upsample", {}, (3, 2, 2), 3))
    assert torch.equal(fn(x, None), x.repeat_interleave(2, 2).repeat_interleave(2, 3))
    _, fn = build_op(op_info("latent_slice", {"start": 1, "stop": 3}, (5,), 2))
    v = torch.arange(10.0).reshape(2, 5)
    assert torch.equal(fn(v, None), v[:, 1:3])
    _, fn = build_op(op_info("pixel_norm", {}, (3, 2, 2), 3))
    y = fn(x, None)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(2, 2, 2), atol=1e-5)
    _, fn = build_op(op_info("minibatch_stddev", {}, (3, 2, 2), 3))
    y = fn(x, None)
    assert y.shape == (2, 4, 2, 2) and torch.equal(y[:, :3], x)
    assert torch.allclose(y[:, 3], (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean().expand(2, 2, 2))


def test_unknown_op_suggests() -> None:
    with pytest.raises(ValueError, match=r"unknown op 'sepconv' \(did you mean 'sep_conv'\?\)"):
        get_spec("sepconv")
    with pytest.raises(ValueError, match=r"unknown parameter 'strid' \(did you mean 'stride'\?\) for op 'conv'"):
        parse_params(get_spec("conv"), {"strid": 2})


@pytest.mark.parametrize("name, raw, in_shape, message", [
    ("conv", {}, (8,), "conv needs a feature map"),
    ("linear", {}, (3, 4, 4), "linear needs a vector input"),
    ("upsample", {}, (8,), "upsample needs a feature map"),
    ("reshape", {"size": 3}, (8,), "a vector of 8 cannot be viewed as C×3×3"),
    ("latent_slice", {"start": 0, "stop": 9}, (8,), "out of range for a vector of 8"),
    ("avg_pool", {"kernel": 5}, (3, 4, 4), "avg_pool 5×5 does not fit a 4×4 input"),
    ("conv", {"kernel": 7, "padding": 0}, (3, 4, 4), "does not fit a 4×4 input"),
    ("conv", {"groups": 2}, (3, 4, 4), "groups=2 must divide input channels 3"),
    ("conv_transpose", {"kernel": 1, "stride": 1, "padding": 2}, (3, 2, 2), "leaves nothing of a 2×2 input"),
    ("instance_norm", {}, (3, 1, 1), "needs more than one spatial position"),
    ("global_sum_pool", {}, (3,), "global_sum_pool needs a feature map"),
])
def test_shape_rule_rejects(name: str, raw: dict[str, Any], in_shape: Shape, message: str) -> None:
    call = OpCall.of(name, **raw)
    with pytest.raises(ValueError, match=message):
        call.spec.shape(call.params, OpCtx(in_shape, in_shape[0]))
