"""Mixed ops: one supernet edge choosing among candidate op pipelines.

`MixedOp.forward(x, w, mode)` takes the candidates' weights `w` (a probability vector from
the Gumbel-softmax relaxation, or a straight-through one-hot vector) and computes

* `"separate"`: Σ_i w_i · cand_i(x), one pipeline per candidate (the straightforward form);
* `"merged"`: the same sum, but candidates that are linear convolutions of the same
  (stateless-prefixed) input are ONE conv with the weighted sum of their zero-padded,
  centred kernels (`compiler.kernels.embed_kernel`, the algebra the compiler merges convs
  with). AdversarialNAS's candidates are ReLU → conv, so the ReLU is computed once and the
  convs after it merge; `identity` on that same input is the centred delta kernel, `none`
  contributes nothing; pools / upsampling pipelines stay separate;
* `"hard"`: `w` is one-hot (straight-through): only the sampled candidate runs, scaled by
  its weight so gradients still reach the architecture logits.

Dilated kernels merge with the dense ones when they fit inside the largest dense kernel
(dilconv3×3 = a sparse 5×5); the others merge among themselves at their dilation — a
single 9×9 would cost more multiply-adds than it saves calls. A conv left alone in its
group scales its output rather than its kernel, so an architecture-only step needs no
weight-gradient convolution for it. Dilated convs run as dense convs over polyphase
components (`compiler.kernels.dilated_conv`), which oneDNN computes faster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..compiler.kernels import dilated_conv, effective_size, embed_kernel
from ..genotype_dsl.model import OpCall
from ..genotype_dsl.ops import Shape
from .pipeline import Pipeline

MODES = ("merged", "separate", "hard")


@dataclass
class _ConvGroup:
    """Candidates merged into one conv: (candidate index, dilation) each."""

    prefix: int  # index of the candidate whose pipeline prefix is shared
    stride: int
    dilation: int  # of the merged conv
    size: int  # merged kernel size (in units of `dilation`)
    members: list[tuple[int, int]] = field(default_factory=list)
    identity: list[int] = field(default_factory=list)  # identity candidates as delta kernels


def _key(ops: Sequence[OpCall]) -> str:
    return json.dumps([o.model_dump(mode="json") for o in ops], sort_keys=True)


def _linear_conv(p: Pipeline) -> bool:
    """Last op a plain conv (no groups, no spectral norm, centred padding) after stateless ops."""
    if not p.calls or p.calls[-1].op != "conv":
        return False
    c = p.calls[-1].params
    stateless = all(i.call.spec.init_src(i.call.params, i.ctx) is None for i in p.infos[:-1])
    return stateless and c.groups == 1 and not c.depthwise and not c.sn and c.padding is None \
        and c.kernel % 2 == 1


class MixedOp(nn.Module):
    def __init__(self, candidates: Sequence[Sequence[OpCall]], in_shape: Shape, out_channels: int,
                 names: Sequence[str] | None = None) -> None:
        super().__init__()
        self.candidates = [tuple(c) for c in candidates]
        self.names = list(names) if names is not None else [" → ".join(o.label() for o in c) for c in candidates]
        self.kinds: list[str] = []
        pipes: list[nn.Module] = []
        for c in self.candidates:
            if [o.op for o in c] == ["none"]:
                self.kinds.append("none")
                pipes.append(nn.Identity())  # placeholder: keeps candidate indices aligned
                continue
            p = Pipeline(c, in_shape, out_channels)
            pipes.append(p)
            self.kinds.append("identity" if [o.op for o in c] == ["identity"] else
                              "conv" if _linear_conv(p) else "other")
        self.cands = nn.ModuleList(pipes)
        shapes = {self.cands[i].out_shape for i, k in enumerate(self.kinds) if k != "none"}
        if len(shapes) != 1:
            raise ValueError(f"candidate ops of a mixed edge disagree on the output shape: {sorted(shapes)}")
        self.out_shape: Shape = shapes.pop()
        self.groups, self.loose = self._plan()

    def _plan(self) -> tuple[list[_ConvGroup], list[int]]:
        """Which candidates merge into which conv; `loose` run one by one."""
        by_prefix: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
        for i, k in enumerate(self.kinds):
            if k == "conv":
                p: Pipeline = self.cands[i]  # type: ignore[assignment]
                c = p.calls[-1].params
                by_prefix.setdefault((_key(p.calls[:-1]), c.stride), []).append((i, c.kernel, c.dilation))
        groups: list[_ConvGroup] = []
        for (_, stride), mem in by_prefix.items():
            dense = [m for m in mem if m[2] == 1]
            size = max((k for _, k, _ in dense), default=0)
            rest: dict[int, list[tuple[int, int, int]]] = {}
            if dense:
                g = _ConvGroup(mem[0][0], stride, 1, size)
                for i, k, d in mem:
                    if d == 1 or effective_size(k, d) <= size:
                        g.members.append((i, d))
                    else:
                        rest.setdefault(d, []).append((i, k, d))
                groups.append(g)
            else:
                for m in mem:
                    rest.setdefault(m[2], []).append(m)
            for d, ms in rest.items():
                g = _ConvGroup(ms[0][0], stride, d, max(k for _, k, _ in ms))
                g.members = [(i, 1) for i, _, _ in ms]  # embedded in units of the dilation
                groups.append(g)
        loose = [i for i, k in enumerate(self.kinds) if k in ("other", "identity")]
        for i in [i for i in loose if self.kinds[i] == "identity"]:
            # identity = delta kernel, if a dense stride-1 group reads the same (empty-prefix) input
            for g in groups:
                pc = self.cands[g.prefix].calls  # type: ignore[union-attr]
                if len(pc) == 1 and g.stride == 1 and g.dilation == 1:
                    g.identity.append(i)
                    loose.remove(i)
                    break
        return groups, loose

    def forward(self, x: Tensor, w: Tensor, mode: str = "merged") -> Tensor:
        if mode == "hard":
            i = int(w.argmax())
            if self.kinds[i] == "none":
                return x.new_zeros(x.shape[0], *self.out_shape) * w[i]
            return self.cands[i](x) * w[i]
        out: Tensor | None = None

        def add(y: Tensor) -> None:
            nonlocal out
            out = y if out is None else out + y

        if mode == "separate":
            for i, k in enumerate(self.kinds):
                if k != "none":
                    add(self.cands[i](x) * w[i])
        elif mode == "merged":
            prefixed: dict[str, Tensor] = {}
            for g in self.groups:
                add(self._merged_conv(g, x, w, prefixed))
            for i in self.loose:
                add(self.cands[i](x) * w[i])
        else:
            raise ValueError(f"unknown mixed-op mode {mode!r}; expected one of {MODES}")
        return out if out is not None else x.new_zeros(x.shape[0], *self.out_shape)

    def _merged_conv(self, g: _ConvGroup, x: Tensor, w: Tensor, prefixed: dict[str, Tensor]) -> Tensor:
        pipe: Pipeline = self.cands[g.prefix]  # type: ignore[assignment]
        key = _key(pipe.calls[:-1])
        if key not in prefixed:
            h = x
            for m, fn in zip(list(pipe.mods)[:-1], pipe._fns[:-1]):
                h = fn(h, m)
            prefixed[key] = h
        h = prefixed[key]
        if len(g.members) == 1 and not g.identity:
            # a lone conv scales its output instead: the α gradient is then <grad, y>, not
            # a weight-gradient convolution (which an architecture-only step never needs)
            i = g.members[0][0]
            lone: nn.Conv2d = self.cands[i].mods[-1]  # type: ignore[index,assignment]
            return dilated_conv(h, lone.weight, lone.bias, lone.dilation[0], lone.stride[0]) * w[i]
        kernel: Tensor | None = None
        bias: Tensor | None = None
        for i, d in g.members:
            conv: nn.Conv2d = self.cands[i].mods[-1]  # type: ignore[index,assignment]
            k = embed_kernel(conv.weight, d, g.size) * w[i]
            kernel = k if kernel is None else kernel + k
            if conv.bias is not None:
                b = conv.bias * w[i]
                bias = b if bias is None else bias + b
        assert kernel is not None
        if g.identity:  # identity: a centred delta kernel on the same input
            delta = torch.zeros_like(kernel)
            c = torch.arange(kernel.shape[0])
            delta[c, c, g.size // 2, g.size // 2] = 1.0
            kernel = kernel + delta * sum(w[i] for i in g.identity)
        return dilated_conv(h, kernel, bias, g.dilation, g.stride)


def gumbel_weights(logits: Tensor, tau: float, hard: bool, gen: torch.Generator | None) -> Tensor:
    """Gumbel-softmax sample of `logits` at temperature `tau`; `hard`: straight-through
    one-hot (forward one-hot, backward the soft sample's gradient)."""
    # float32 CPU draws (the generator's device) whatever the logits' dtype and device
    u = torch.rand(logits.shape, generator=gen, dtype=torch.float32).clamp_(1e-10, 1 - 1e-7).to(logits)
    y = F.softmax((logits - torch.log(-torch.log(u))) / tau, dim=-1)
    if not hard:
        return y
    one = torch.zeros_like(y)
    one[y.argmax()] = 1.0
    return one - y.detach() + y
