"""The ONE op registry.

Every op gcc-gan knows is defined here exactly once: its parameters (a pydantic model),
its shape rule, its parameter count and MACs, the source of the module that implements it
and the source of its forward call. Everything else reads these definitions:

* the reference interpreter builds modules by evaluating `init_src` and calls them through
  `call_src` (so the interpreter and the generated standalone code cannot disagree),
* the compiler's codegen writes the same strings into `generator.py`,
* the MAC / parameter counters call `macs` / `n_params`,
* the supernets build their candidate ops from the same specs.

Shapes are per sample: `(C,)` for a vector, `(C, H, W)` for a feature map.

MAC convention (the one the published AutoGAN / AdversarialNAS counts use): only conv,
transposed conv and linear layers count; a layer costs one multiply-accumulate per weight
use, plus one per output element for the bias add.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Shape = tuple[int, ...]

# Names the generated source may use; the interpreter evaluates op sources in the same
# namespace, so `import torch; from torch import nn; import torch.nn.functional as F`
# is all a compiled module needs.
SOURCE_IMPORTS = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"


@cache
def _int_fields(cls: type[BaseModel]) -> frozenset[str]:
    def is_int(t: Any) -> bool:
        if t is int:
            return True
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            return all(a is int or a is type(None) for a in typing.get_args(t))
        return False

    return frozenset(k for k, f in cls.model_fields.items() if is_int(f.annotation))


class IntegralFloats(BaseModel):
    """Base of the models read from JSON: an integer field takes `3.0` as 3, as JSON
    Schema's "integer" does, even when validating strictly (which refuses `true` and
    `"3"`, as the schema does)."""

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            ints = _int_fields(cls)
            if any(isinstance(raw.get(k), float) for k in ints):
                raw = {k: int(v) if k in ints and isinstance(v, float) and v.is_integer() else v
                       for k, v in raw.items()}
        return raw


#: the largest channel count anywhere (node `channels`, op `out_channels`, `groups`);
#: sizes beyond memory are refused before allocation by `genotype_dsl.memory`
MAX_CHANNELS = 1_000_000
#: the largest node width multiplier
MAX_WIDTH = 1024


class OpParams(IntegralFloats):
    """Base of every op's parameter model: strict, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelParams(OpParams):
    """Parameters of an op that decides its own output channels.

    By default it produces the channels of the node its edge feeds; `out_width` (a
    multiple of the network's base width) or `out_channels` (absolute) override that.
    """

    # a linear stem's out_width is channels × spatial positions (e.g. 16 for 4×4), hence a wide bound
    out_width: float | None = Field(default=None, gt=0, le=MAX_CHANNELS, allow_inf_nan=False)
    out_channels: int | None = Field(default=None, ge=1, le=MAX_CHANNELS)

    @model_validator(mode="after")
    def _one_out(self) -> "ChannelParams":
        if self.out_width is not None and self.out_channels is not None:
            raise ValueError("give at most one of out_width and out_channels")
        return self


@dataclass(frozen=True)
class OpCtx:
    """What an op instance sees: its input shape and (for channel-producing ops) the
    number of output channels it must produce."""

    in_shape: Shape
    out_channels: int


class OpSpec:
    """One op. Subclasses set `name`, `Params` and override what applies."""

    name: ClassVar[str]
    Params: ClassVar[type[OpParams]] = OpParams
    doc: ClassVar[str] = ""
    #: the op chooses its output channels (conv, linear, ...); see ChannelParams
    produces_channels: ClassVar[bool] = False
    #: the op is an elementwise function (commutes with nearest upsampling)
    elementwise: ClassVar[bool] = False
    #: sources of helper classes/functions the op's sources use (each emitted once into
    #: generated code and executed into the interpreter's namespace)
    helpers: ClassVar[tuple[str, ...]] = ()
    #: may generated code overwrite the op's output in place? True: forward returns a new
    #: tensor its backward does not keep; None: a view of the input, writable when the
    #: input is; False: no (e.g. ReLU and tanh keep their output for backward)
    writable: ClassVar[bool | None] = False

    # -- shape -------------------------------------------------------------------------
    def resolve_out_channels(self, p: Any, in_channels: int, dst_channels: int, base_width: int) -> int:
        """The channels this op produces inside an edge feeding a node of `dst_channels`:
        channel-producing ops make the node's channels unless `out_channels`/`out_width`
        says otherwise; every other op keeps its input's channels."""
        if not self.produces_channels:
            return in_channels
        if getattr(p, "out_channels", None) is not None:
            return int(p.out_channels)
        if getattr(p, "out_width", None) is not None:
            return max(1, round(p.out_width * base_width))
        return dst_channels

    def shape(self, p: Any, ctx: OpCtx) -> Shape:
        """Output shape; raises ValueError with a readable reason when the op cannot
        apply to `ctx.in_shape`."""
        return ctx.in_shape

    # -- cost --------------------------------------------------------------------------
    def n_params(self, p: Any, ctx: OpCtx) -> int:
        return 0

    def macs(self, p: Any, ctx: OpCtx, out: Shape) -> int:
        return 0

    # -- source ------------------------------------------------------------------------
    def init_src(self, p: Any, ctx: OpCtx) -> str | None:
        """Source of the nn.Module holding this op's parameters, or None if stateless."""
        return None

    def call_src(self, p: Any, ctx: OpCtx, x: str, m: str) -> str:
        """Source of the forward expression applying the op to tensor `x` (and module `m`)."""
        raise NotImplementedError

    def codegen_src(self, p: Any, ctx: OpCtx, x: str, m: str) -> str:
        """The forward expression of the generated module: `call_src` unless a layout or
        similar speed detail differs (the reference interpreter always runs `call_src`)."""
        return self.call_src(p, ctx, x, m)

    def inplace_src(self, p: Any, ctx: OpCtx, x: str, m: str) -> str | None:
        """Source applying the op in place to a writable `x` (generated code only: no new
        tensor), or None when the op has no in-place form."""
        return None

    def add_into_src(self, p: Any, ctx: OpCtx, acc: str, x: str) -> tuple[str, tuple[str, ...]] | None:
        """Source adding the op's output for input `x` into the writable tensor `acc` in
        place without materialising that output, and the helpers it needs; or None."""
        return None

    def label(self, p: Any) -> str:
        """Short human label for pictures and tables."""
        return self.name


# ---------------------------------------------------------------------------------------
# helpers


def _need_map(ctx: OpCtx, op: str) -> tuple[int, int, int]:
    if len(ctx.in_shape) != 3:
        raise ValueError(f"{op} needs a feature map (C×H×W) input, got a vector of {ctx.in_shape[0]}")
    c, h, w = ctx.in_shape
    return c, h, w


def _need_vector(ctx: OpCtx, op: str) -> int:
    if len(ctx.in_shape) != 1:
        raise ValueError(f"{op} needs a vector input, got a feature map {fmt_shape(ctx.in_shape)}")
    return ctx.in_shape[0]


def fmt_shape(shape: Shape) -> str:
    return "×".join(str(s) for s in shape)


def _kwargs(**kw: Any) -> str:
    """Render keyword arguments, skipping those equal to their default (value, default)."""
    parts = [f"{k}={v[0]!r}" for k, v in kw.items() if v[0] != v[1]]
    return (", " + ", ".join(parts)) if parts else ""


def _sn(src: str, sn: bool) -> str:
    return f"nn.utils.parametrizations.spectral_norm({src})" if sn else src


def _conv_out(size: int, k: int, s: int, pad: int, d: int) -> int:
    return (size + 2 * pad - d * (k - 1) - 1) // s + 1


# ---------------------------------------------------------------------------------------
# convolutions


class ConvParams(ChannelParams):
    kernel: int = Field(default=3, ge=1, le=15)
    stride: int = Field(default=1, ge=1, le=8)
    dilation: int = Field(default=1, ge=1, le=8)
    padding: int | None = Field(default=None, ge=0, le=32)  # None: "same" for stride 1
    groups: int = Field(default=1, ge=1, le=MAX_CHANNELS)
    depthwise: bool = False  # groups = input channels
    bias: bool = True
    sn: bool = False  # spectral normalisation of the weight

    def pad(self) -> int:
        return self.dilation * (self.kernel - 1) // 2 if self.padding is None else self.padding


def _groups(p: Any, cin: int, cout: int, op: str) -> int:
    g = cin if p.depthwise else p.groups
    if cin % g or cout % g:
        raise ValueError(f"{op}: groups={g} must divide input channels {cin} and output channels {cout}")
    return g


class Conv(OpSpec):
    name = "conv"
    Params = ConvParams
    doc = "2-D convolution (kernel, stride, dilation, groups/depthwise, bias, spectral norm)"
    produces_channels = True
    writable = True

    def shape(self, p: ConvParams, ctx: OpCtx) -> Shape:
        cin, h, w = _need_map(ctx, self.name)
        _groups(p, cin, ctx.out_channels, self.name)
        ho, wo = (_conv_out(s, p.kernel, p.stride, p.pad(), p.dilation) for s in (h, w))
        if ho < 1 or wo < 1:
            raise ValueError(f"conv {p.kernel}×{p.kernel} (dilation {p.dilation}, padding {p.pad()}) "
                             f"does not fit a {h}×{w} input")
        return (ctx.out_channels, ho, wo)

    def n_params(self, p: ConvParams, ctx: OpCtx) -> int:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        g = _groups(p, cin, cout, self.name)
        return cout * (cin // g) * p.kernel**2 + (cout if p.bias else 0)

    def macs(self, p: ConvParams, ctx: OpCtx, out: Shape) -> int:
        g = _groups(p, ctx.in_shape[0], ctx.out_channels, self.name)
        n_out = out[0] * out[1] * out[2]
        return n_out * (ctx.in_shape[0] // g) * p.kernel**2 + (n_out if p.bias else 0)

    def init_src(self, p: ConvParams, ctx: OpCtx) -> str:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        g = _groups(p, cin, cout, self.name)
        kw = _kwargs(stride=(p.stride, 1), padding=(p.pad(), 0), dilation=(p.dilation, 1),
                     groups=(g, 1), bias=(p.bias, True))
        return _sn(f"nn.Conv2d({cin}, {cout}, {p.kernel}{kw})", p.sn)

    def call_src(self, p: ConvParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: ConvParams) -> str:
        s = f"conv{p.kernel}x{p.kernel}"
        if p.dilation > 1:
            s = f"dil{s}"
        if p.depthwise:
            s = f"dw{s}"
        elif p.groups > 1:
            s += f" g{p.groups}"
        if p.stride > 1:
            s += f" /{p.stride}"
        return s + (" sn" if p.sn else "")


class SepConvParams(ChannelParams):
    kernel: int = Field(default=3, ge=1, le=15)
    stride: int = Field(default=1, ge=1, le=8)
    dilation: int = Field(default=1, ge=1, le=8)
    bias: bool = True

    def pad(self) -> int:
        return self.dilation * (self.kernel - 1) // 2


class SepConv(OpSpec):
    name = "sep_conv"
    Params = SepConvParams
    doc = "separable convolution: depthwise k×k (no bias) then pointwise 1×1"
    produces_channels = True
    writable = True

    def shape(self, p: SepConvParams, ctx: OpCtx) -> Shape:
        _, h, w = _need_map(ctx, self.name)
        ho, wo = (_conv_out(s, p.kernel, p.stride, p.pad(), p.dilation) for s in (h, w))
        if ho < 1 or wo < 1:
            raise ValueError(f"sep_conv {p.kernel}×{p.kernel} does not fit a {h}×{w} input")
        return (ctx.out_channels, ho, wo)

    def n_params(self, p: SepConvParams, ctx: OpCtx) -> int:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        return cin * p.kernel**2 + cin * cout + (cout if p.bias else 0)

    def macs(self, p: SepConvParams, ctx: OpCtx, out: Shape) -> int:
        cin = ctx.in_shape[0]
        px = out[1] * out[2]
        return px * cin * p.kernel**2 + px * cin * out[0] + (px * out[0] if p.bias else 0)

    def init_src(self, p: SepConvParams, ctx: OpCtx) -> str:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        kw = _kwargs(stride=(p.stride, 1), padding=(p.pad(), 0), dilation=(p.dilation, 1))
        return (f"nn.Sequential(nn.Conv2d({cin}, {cin}, {p.kernel}{kw}, groups={cin}, bias=False), "
                f"nn.Conv2d({cin}, {cout}, 1{_kwargs(bias=(p.bias, True))}))")

    def call_src(self, p: SepConvParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: SepConvParams) -> str:
        return f"sepconv{p.kernel}x{p.kernel}" + (f" d{p.dilation}" if p.dilation > 1 else "")


class ConvTransposeParams(ChannelParams):
    kernel: int = Field(default=2, ge=1, le=15)
    stride: int = Field(default=2, ge=1, le=8)
    padding: int = Field(default=0, ge=0, le=32)
    output_padding: int = Field(default=0, ge=0, le=7)
    groups: int = Field(default=1, ge=1, le=MAX_CHANNELS)
    depthwise: bool = False
    bias: bool = True
    sn: bool = False

    @model_validator(mode="after")
    def _out_pad(self) -> "ConvTransposeParams":
        if self.output_padding >= self.stride:
            raise ValueError(f"output_padding ({self.output_padding}) must be smaller than stride ({self.stride})")
        return self


class ConvTranspose(OpSpec):
    name = "conv_transpose"
    Params = ConvTransposeParams
    doc = "transposed 2-D convolution (learned upsampling)"
    produces_channels = True
    writable = True

    def shape(self, p: ConvTransposeParams, ctx: OpCtx) -> Shape:
        cin, h, w = _need_map(ctx, self.name)
        _groups(p, cin, ctx.out_channels, self.name)
        ho, wo = ((s - 1) * p.stride - 2 * p.padding + p.kernel + p.output_padding for s in (h, w))
        if ho < 1 or wo < 1:
            raise ValueError(f"conv_transpose with padding {p.padding} leaves nothing of a {h}×{w} input")
        return (ctx.out_channels, ho, wo)

    def n_params(self, p: ConvTransposeParams, ctx: OpCtx) -> int:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        g = _groups(p, cin, cout, self.name)
        return cin * (cout // g) * p.kernel**2 + (cout if p.bias else 0)

    def macs(self, p: ConvTransposeParams, ctx: OpCtx, out: Shape) -> int:
        cin, h, w = ctx.in_shape
        g = _groups(p, cin, ctx.out_channels, self.name)
        return h * w * cin * (out[0] // g) * p.kernel**2 + (out[0] * out[1] * out[2] if p.bias else 0)

    def init_src(self, p: ConvTransposeParams, ctx: OpCtx) -> str:
        cin, cout = ctx.in_shape[0], ctx.out_channels
        g = _groups(p, cin, cout, self.name)
        kw = _kwargs(stride=(p.stride, 1), padding=(p.padding, 0), output_padding=(p.output_padding, 0),
                     groups=(g, 1), bias=(p.bias, True))
        return _sn(f"nn.ConvTranspose2d({cin}, {cout}, {p.kernel}{kw})", p.sn)

    def call_src(self, p: ConvTransposeParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: ConvTransposeParams) -> str:
        return f"{'dw' if p.depthwise else ''}convT{p.kernel}x{p.kernel} ×{p.stride}" + (" sn" if p.sn else "")


class LinearParams(ChannelParams):
    bias: bool = True
    sn: bool = False


class Linear(OpSpec):
    name = "linear"
    Params = LinearParams
    doc = "fully connected layer on a vector"
    produces_channels = True
    writable = True

    def shape(self, p: LinearParams, ctx: OpCtx) -> Shape:
        _need_vector(ctx, self.name)
        return (ctx.out_channels,)

    def n_params(self, p: LinearParams, ctx: OpCtx) -> int:
        return ctx.in_shape[0] * ctx.out_channels + (ctx.out_channels if p.bias else 0)

    def macs(self, p: LinearParams, ctx: OpCtx, out: Shape) -> int:
        return self.n_params(p, ctx)

    def init_src(self, p: LinearParams, ctx: OpCtx) -> str:
        return _sn(f"nn.Linear({ctx.in_shape[0]}, {ctx.out_channels}{_kwargs(bias=(p.bias, True))})", p.sn)

    def call_src(self, p: LinearParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: LinearParams) -> str:
        return "linear" + (" sn" if p.sn else "")


# ---------------------------------------------------------------------------------------
# resampling


class UpsampleParams(OpParams):
    mode: Literal["nearest", "bilinear"] = "nearest"
    scale: int = Field(default=2, ge=2, le=8)


class Upsample(OpSpec):
    name = "upsample"
    Params = UpsampleParams
    doc = "nearest or bilinear upsampling by an integer factor (align_corners=False)"
    writable = True

    def shape(self, p: UpsampleParams, ctx: OpCtx) -> Shape:
        c, h, w = _need_map(ctx, self.name)
        return (c, h * p.scale, w * p.scale)

    def call_src(self, p: UpsampleParams, ctx: OpCtx, x: str, m: str) -> str:
        if p.mode == "nearest":
            return f"F.interpolate({x}, scale_factor={p.scale}, mode='nearest')"
        return f"F.interpolate({x}, scale_factor={p.scale}, mode='bilinear', align_corners=False)"

    def add_into_src(self, p: UpsampleParams, ctx: OpCtx, acc: str, x: str) -> tuple[str, tuple[str, ...]] | None:
        if p.mode != "nearest":
            return None
        return f"add_upsampled({acc}, {x}, {p.scale})", (INFERENCE_EAGER_SRC, ADD_UPSAMPLED_SRC)

    def label(self, p: UpsampleParams) -> str:
        return f"{p.mode}×{p.scale}"


class PoolParams(OpParams):
    kernel: int = Field(default=2, ge=1, le=15)
    stride: int | None = Field(default=None, ge=1, le=8)  # None: = kernel
    padding: int = Field(default=0, ge=0, le=7)

    @model_validator(mode="after")
    def _pad(self) -> "PoolParams":
        if 2 * self.padding > self.kernel:
            raise ValueError(f"padding ({self.padding}) must be at most half the kernel ({self.kernel})")
        return self

    def step(self) -> int:
        return self.kernel if self.stride is None else self.stride


class _Pool(OpSpec):
    Params = PoolParams
    fn: ClassVar[str]
    writable = True

    def shape(self, p: PoolParams, ctx: OpCtx) -> Shape:
        c, h, w = _need_map(ctx, self.name)
        ho, wo = (_conv_out(s, p.kernel, p.step(), p.padding, 1) for s in (h, w))
        if ho < 1 or wo < 1:
            raise ValueError(f"{self.name} {p.kernel}×{p.kernel} does not fit a {h}×{w} input")
        return (c, ho, wo)

    def call_src(self, p: PoolParams, ctx: OpCtx, x: str, m: str) -> str:
        extra = ", count_include_pad=False" if self.name == "avg_pool" and p.padding else ""
        return f"F.{self.fn}({x}, {p.kernel}, {p.step()}, {p.padding}{extra})"

    def label(self, p: PoolParams) -> str:
        return f"{self.name.split('_')[0]}pool{p.kernel}" + (f" /{p.step()}" if p.step() > 1 else "")


class AvgPool(_Pool):
    name = "avg_pool"
    fn = "avg_pool2d"
    doc = "average pooling (padding excluded from the average)"


class MaxPool(_Pool):
    name = "max_pool"
    fn = "max_pool2d"
    doc = "max pooling"


# ---------------------------------------------------------------------------------------
# trivial edges


class Identity(OpSpec):
    name = "identity"
    doc = "pass the input through"
    elementwise = True
    writable = None  # a view

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return x


class Zero(OpSpec):
    name = "none"
    doc = "no connection: contributes zeros (removed by the compiler)"
    elementwise = True
    writable = True

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"torch.zeros_like({x})"


# ---------------------------------------------------------------------------------------
# normalisation


class BatchNormParams(OpParams):
    affine: bool = True
    eps: float = Field(default=1e-5, gt=0, lt=1)
    momentum: float = Field(default=0.1, gt=0, le=1)


class BatchNorm(OpSpec):
    name = "batch_norm"
    Params = BatchNormParams
    doc = "batch normalisation (2-D on maps, 1-D on vectors)"
    writable = True

    def n_params(self, p: BatchNormParams, ctx: OpCtx) -> int:
        return 2 * ctx.in_shape[0] if p.affine else 0

    def init_src(self, p: BatchNormParams, ctx: OpCtx) -> str:
        dim = "2d" if len(ctx.in_shape) == 3 else "1d"
        kw = _kwargs(eps=(p.eps, 1e-5), momentum=(p.momentum, 0.1), affine=(p.affine, True))
        return f"nn.BatchNorm{dim}({ctx.in_shape[0]}{kw})"

    def call_src(self, p: BatchNormParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: BatchNormParams) -> str:
        return "bn"


class InstanceNormParams(OpParams):
    affine: bool = False
    eps: float = Field(default=1e-5, gt=0, lt=1)


class InstanceNorm(OpSpec):
    name = "instance_norm"
    Params = InstanceNormParams
    doc = "instance normalisation (no running statistics)"
    writable = True

    def shape(self, p: InstanceNormParams, ctx: OpCtx) -> Shape:
        _, h, w = _need_map(ctx, self.name)
        if h * w == 1:  # F.instance_norm rejects it at run time (and it would output zeros)
            raise ValueError("instance_norm needs more than one spatial position, got a 1×1 map")
        return ctx.in_shape

    def n_params(self, p: InstanceNormParams, ctx: OpCtx) -> int:
        return 2 * ctx.in_shape[0] if p.affine else 0

    def init_src(self, p: InstanceNormParams, ctx: OpCtx) -> str | None:
        if not p.affine:
            return None
        return f"nn.InstanceNorm2d({ctx.in_shape[0]}{_kwargs(eps=(p.eps, 1e-5))}, affine=True)"

    def call_src(self, p: InstanceNormParams, ctx: OpCtx, x: str, m: str) -> str:
        if p.affine:
            return f"{m}({x})"
        return f"F.instance_norm({x}{_kwargs(eps=(p.eps, 1e-5))})"

    def label(self, p: InstanceNormParams) -> str:
        return "in"


class PixelNormParams(OpParams):
    eps: float = Field(default=1e-8, gt=0, lt=1)


class PixelNorm(OpSpec):
    name = "pixel_norm"
    Params = PixelNormParams
    doc = "normalise each pixel's feature vector to unit mean square (ProGAN)"
    writable = True

    def call_src(self, p: PixelNormParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{x} * torch.rsqrt({x}.pow(2).mean(dim=1, keepdim=True) + {p.eps!r})"

    def label(self, p: PixelNormParams) -> str:
        return "pixnorm"


# ---------------------------------------------------------------------------------------
# activations


class ReLU(OpSpec):
    name = "relu"
    doc = "ReLU"
    elementwise = True

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"F.relu({x})"

    def inplace_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"F.relu({x}, inplace=True)"


class LeakyReLUParams(OpParams):
    slope: float = Field(default=0.2, ge=0, lt=1)


class LeakyReLU(OpSpec):
    name = "leaky_relu"
    Params = LeakyReLUParams
    doc = "leaky ReLU with the given negative slope"
    elementwise = True
    writable = True

    def call_src(self, p: LeakyReLUParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"F.leaky_relu({x}, {p.slope!r})"

    def inplace_src(self, p: LeakyReLUParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"F.leaky_relu({x}, {p.slope!r}, inplace=True)"  # slope ≥ 0: autograd allows it

    def label(self, p: LeakyReLUParams) -> str:
        return f"lrelu{p.slope:g}"


class Tanh(OpSpec):
    name = "tanh"
    doc = "tanh"
    elementwise = True

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"torch.tanh({x})"


# ---------------------------------------------------------------------------------------
# shape ops


class ReshapeParams(OpParams):
    size: int = Field(ge=1, le=1024)


class Reshape(OpSpec):
    name = "reshape"
    Params = ReshapeParams
    doc = "view a vector as a square feature map of side `size` (C = length / size²)"
    writable = None  # a view

    def shape(self, p: ReshapeParams, ctx: OpCtx) -> Shape:
        n = _need_vector(ctx, self.name)
        if n % (p.size * p.size):
            raise ValueError(f"reshape: a vector of {n} cannot be viewed as C×{p.size}×{p.size}")
        return (n // (p.size * p.size), p.size, p.size)

    def call_src(self, p: ReshapeParams, ctx: OpCtx, x: str, m: str) -> str:
        # unflatten, not view(-1, ...): ONNX export then keeps the channel count static
        # (instance_norm after a reshape cannot be exported otherwise)
        return f"{x}.unflatten(1, ({ctx.in_shape[0] // (p.size * p.size)}, {p.size}, {p.size}))"

    def codegen_src(self, p: ReshapeParams, ctx: OpCtx, x: str, m: str) -> str:
        # the generated module runs its convs channels-last: one copy here spares every
        # consumer a layout conversion (and sums mixing layouts)
        return f"{self.call_src(p, ctx, x, m)}.contiguous(memory_format=torch.channels_last)"

    def label(self, p: ReshapeParams) -> str:
        return f"reshape {p.size}×{p.size}"


class Flatten(OpSpec):
    name = "flatten"
    doc = "flatten a feature map to a vector"
    writable = None  # a view

    def shape(self, p: OpParams, ctx: OpCtx) -> Shape:
        c, h, w = _need_map(ctx, self.name)
        return (c * h * w,)

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{x}.flatten(1)"


class LatentSliceParams(OpParams):
    start: int = Field(ge=0)
    stop: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> "LatentSliceParams":
        if self.stop <= self.start:
            raise ValueError(f"stop ({self.stop}) must be greater than start ({self.start})")
        return self


class LatentSlice(OpSpec):
    name = "latent_slice"
    Params = LatentSliceParams
    doc = "the slice [start, stop) of a vector (split a latent between layers)"
    writable = None  # a view

    def shape(self, p: LatentSliceParams, ctx: OpCtx) -> Shape:
        n = _need_vector(ctx, self.name)
        if p.stop > n:
            raise ValueError(f"latent_slice [{p.start}, {p.stop}) is out of range for a vector of {n}")
        return (p.stop - p.start,)

    def call_src(self, p: LatentSliceParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{x}[:, {p.start}:{p.stop}]"

    def label(self, p: LatentSliceParams) -> str:
        return f"z[{p.start}:{p.stop}]"


class GlobalSumPool(OpSpec):
    name = "global_sum_pool"
    doc = "sum over all spatial positions (SNGAN discriminator head)"
    writable = True

    def shape(self, p: OpParams, ctx: OpCtx) -> Shape:
        c, _, _ = _need_map(ctx, self.name)
        return (c,)

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{x}.sum(dim=(2, 3))"

    def label(self, p: OpParams) -> str:
        return "Σ pool"


class MinibatchStddev(OpSpec):
    name = "minibatch_stddev"
    doc = "append one channel holding the mean over features of the batch standard deviation (ProGAN)"
    writable = True

    def shape(self, p: OpParams, ctx: OpCtx) -> Shape:
        c, h, w = _need_map(ctx, self.name)
        return (c + 1, h, w)

    def call_src(self, p: OpParams, ctx: OpCtx, x: str, m: str) -> str:
        # expand_as (not expand(x.shape[0], ...)) keeps the batch symbolic for ONNX tracing
        std = f"({x}.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()"
        return f"torch.cat([{x}, {std}.expand_as({x}[:, :1])], dim=1)"

    def label(self, p: OpParams) -> str:
        return "mbstd"


# ---------------------------------------------------------------------------------------
# compiler-produced ops (valid in genotypes too, but searchers never emit them)

INFERENCE_EAGER_SRC = '''
def inference_eager() -> bool:
    """Plain eager inference: no autograd, tracing, export or compilation. Only then are
    derived kernels cached and upsampled maps added in place through views."""
    return not (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling())
'''

ADD_UPSAMPLED_SRC = '''
def add_upsampled(acc: torch.Tensor, x: torch.Tensor, scale: int) -> torch.Tensor:
    """acc + nearest-upsampled x. In eager inference x is added into acc (a new tensor that
    nothing else reads) through a broadcasting view: the upsampled map is never built."""
    if not inference_eager():
        return acc + F.interpolate(x, scale_factor=scale, mode='nearest')
    n, c, h, w = acc.shape
    acc.view(n, c, h // scale, scale, w // scale, scale).add_(x[:, :, :, None, :, None])
    return acc
'''

SUBPIXEL_SRC = '''
class SubPixelConv(nn.Module):
    """A k x k convolution of a nearest-x2-upsampled input, computed exactly at the low
    resolution as one stride-2 transposed convolution with a (k+1) x (k+1) kernel: each
    output pixel reads (k//2 + 1)^2 low-res pixels per channel, 2.25x fewer multiply-adds
    than upsample-then-conv for 3x3, in a single conv kernel (no per-phase copies).
    `weight` is the k x k kernel itself (no more parameters than the source conv); the
    transposed kernel is computed from it (slices, adds and concats: constant-folded by
    ONNX runtimes) and cached in eager inference."""

    def __init__(self, cin: int, cout: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel // 2
        # transposed-kernel tap r (0..k) adds up the kernel taps t in [k - 1 - r, k + 1 - r):
        # the (one or two) taps that read the same low-res pixel once the input is upsampled
        # (python ints: nothing stored or exported)
        self.taps = [(max(0, kernel - 1 - r), min(kernel, kernel + 1 - r)) for r in range(kernel + 1)]
        self.weight = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def convt_weight(self) -> torch.Tensor:
        """(cin, cout, k+1, k+1): the transposed-conv kernel of `weight`, rows then columns."""
        def taps(x: torch.Tensor, dim: int) -> torch.Tensor:
            parts = [x.narrow(dim, i, 1) if j - i == 1 else x.narrow(dim, i, 1) + x.narrow(dim, i + 1, 1)
                     for i, j in self.taps]
            return torch.cat(parts, dim)

        return taps(taps(self.weight, 2), 3).transpose(0, 1)

    def _kernel(self) -> torch.Tensor:
        # eager inference reuses the kernel until the weight changes (in place or replaced);
        # training, tracing and export derive it from the weight every time
        if not inference_eager():
            return self.convt_weight()
        key = (self.weight._version, self.weight.data_ptr(), self.weight.device)
        if self.__dict__.get("_kernel_key") != key:
            self.__dict__["_kernel_cache"] = self.convt_weight().contiguous(memory_format=torch.channels_last)
            self.__dict__["_kernel_key"] = key
        return self.__dict__["_kernel_cache"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self._kernel(), self.bias, stride=2, padding=self.padding)
'''


class SubPixelConvParams(OpParams):
    kernel: int = Field(default=3, ge=1, le=15)
    bias: bool = True

    @model_validator(mode="after")
    def _odd(self) -> "SubPixelConvParams":
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {self.kernel}")
        return self


class SubPixelConv(OpSpec):
    name = "subpixel_conv"
    Params = SubPixelConvParams
    doc = ("nearest x2 upsampling followed by a k x k 'same' convolution, computed exactly at the "
           "low resolution (produced by the compiler's sub-pixel pass)")
    produces_channels = True
    helpers = (INFERENCE_EAGER_SRC, SUBPIXEL_SRC)
    writable = True

    def shape(self, p: SubPixelConvParams, ctx: OpCtx) -> Shape:
        _, h, w = _need_map(ctx, self.name)
        return (ctx.out_channels, 2 * h, 2 * w)

    def n_params(self, p: SubPixelConvParams, ctx: OpCtx) -> int:  # stored: the k x k kernel
        return ctx.out_channels * ctx.in_shape[0] * p.kernel * p.kernel + (ctx.out_channels if p.bias else 0)

    def macs(self, p: SubPixelConvParams, ctx: OpCtx, out: Shape) -> int:
        kp = p.kernel // 2 + 1
        n_out = out[0] * out[1] * out[2]
        return n_out * ctx.in_shape[0] * kp * kp + (n_out if p.bias else 0)

    def init_src(self, p: SubPixelConvParams, ctx: OpCtx) -> str:
        return f"SubPixelConv({ctx.in_shape[0]}, {ctx.out_channels}, {p.kernel}{_kwargs(bias=(p.bias, True))})"

    def call_src(self, p: SubPixelConvParams, ctx: OpCtx, x: str, m: str) -> str:
        return f"{m}({x})"

    def label(self, p: SubPixelConvParams) -> str:
        return f"subpixel conv{p.kernel}x{p.kernel}"


# ---------------------------------------------------------------------------------------
# the registry

REGISTRY: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        Conv(), SepConv(), ConvTranspose(), Linear(),
        Upsample(), AvgPool(), MaxPool(),
        Identity(), Zero(),
        BatchNorm(), InstanceNorm(), PixelNorm(),
        ReLU(), LeakyReLU(), Tanh(),
        Reshape(), Flatten(), LatentSlice(), GlobalSumPool(), MinibatchStddev(),
        SubPixelConv(),
    )
}


def get_spec(name: str) -> OpSpec:
    """The spec of op `name`; a readable ValueError (with a suggestion) if unknown."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown op {name!r}{hint}; known ops: {', '.join(sorted(REGISTRY))}") from None


def parse_params(spec: OpSpec, raw: dict[str, Any], strict: bool = False) -> OpParams:
    """Validate raw parameters for `spec`; a readable ValueError naming every bad key.
    `strict`: as strictly as the JSON Schema (files on disk)."""
    try:
        return spec.Params.model_validate(raw, strict=strict)
    except ValidationError as e:
        msgs = []
        fields = list(spec.Params.model_fields)
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"])
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                allowed = ", ".join(fields) if fields else "none"
                msgs.append(f"unknown parameter {key!r}{hint} for op {spec.name!r} (allowed: {allowed})")
            elif key:
                msgs.append(f"{spec.name}.{key}: {_clean(err['msg'])}")
            else:
                msgs.append(f"{spec.name}: {_clean(err['msg'])}")
        raise ValueError("; ".join(msgs)) from None


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ")
