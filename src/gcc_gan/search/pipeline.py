"""Op pipelines as modules, built from the op registry (the interpreter's `build_op`), so a
supernet's candidate ops are exactly the ops its derived genotype will contain."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from ..compiler.interpreter import build_op
from ..genotype_dsl.analysis import OpInfo
from ..genotype_dsl.model import OpCall
from ..genotype_dsl.ops import OpCtx, Shape


def op_info(call: OpCall, in_shape: Shape, out_channels: int) -> OpInfo:
    """The OpInfo of `call` on `in_shape`; channel-producing ops produce `out_channels`
    unless the call fixes `out_channels` itself (`out_width` is not used by supernets)."""
    spec, p = call.spec, call.params
    oc = in_shape[0]
    if spec.produces_channels:
        oc = getattr(p, "out_channels", None) or out_channels
    ctx = OpCtx(in_shape=tuple(in_shape), out_channels=oc)
    out = spec.shape(p, ctx)
    return OpInfo(call, ctx, out, spec.n_params(p, ctx), spec.macs(p, ctx, out))


def calls(*ops: str | OpCall) -> tuple[OpCall, ...]:
    return tuple(o if isinstance(o, OpCall) else OpCall.of(o) for o in ops)


class Pipeline(nn.Module):
    """Applies a list of registry ops in order (like one edge of the interpreter)."""

    def __init__(self, ops: Sequence[OpCall], in_shape: Shape, out_channels: int) -> None:
        super().__init__()
        self.calls = tuple(ops)
        self.infos: list[OpInfo] = []
        self.mods = nn.ModuleList()
        self._fns: list[Callable[[Tensor, nn.Module | None], Tensor]] = []
        shape = tuple(in_shape)
        for c in self.calls:
            info = op_info(c, shape, out_channels)
            m, fn = build_op(info)
            self.infos.append(info)
            self.mods.append(m if m is not None else nn.Identity())
            self._fns.append(fn)
            shape = info.out_shape
        self.in_shape, self.out_shape = tuple(in_shape), shape

    def forward(self, x: Tensor) -> Tensor:
        for m, fn in zip(self.mods, self._fns):
            x = fn(x, m)
        return x

    @property
    def params(self) -> int:
        return sum(i.params for i in self.infos)
