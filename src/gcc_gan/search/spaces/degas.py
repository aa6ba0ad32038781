"""DEGAS's search space (Doveh & Giryes, "DEGAS: Differentiable Efficient Generator Search"):
a global (non-cell) generator supernet and its two-stage derivation. Its training (GLO) is
the differentiable strategy's `glo` objective (`strategies/objectives.py`).

Supernet: a fixed linear stem (z → linear → gf × b × b); for each of the three levels an
up-sampled map U_l followed by `n_normal` normal maps; a fixed BN → ReLU → conv3×3 → tanh
head. U_l is the input-weighted (softmax(β_l)) sum of
* its direct input, a mixed up op on the previous level's last map over {bn-relu-convT
  4×4, bn-relu-convT 6×6, bn-relu-nearest-conv1×1, bn-relu-nearest-conv3×3}, and
* residual mixed ops from every earlier up-sampled map U_j (the stem is U_0) over
  {no connection, nearest → conv1×1, bilinear → conv1×1} (upsampled ×2^(l−j)).
Each normal map is a mixed op on the map before it over {bn-relu-conv1×1, bn-relu-conv3×3,
max pool 3×3, avg pool 3×3, skip, bn-relu-sepconv3×3, bn-relu-dilconv3×3}.

GLO training: one learnable latent per training image (kept on the unit sphere), loss =
L2 + Laplacian-pyramid L1 between G(z_i) and image i. Each iteration reads 2 × batch
image indices: the first half takes a step on (its latents, the weights), the second half
— disjoint images — a step on the architecture (α, β).

Derivation, two stages: every edge keeps its strongest op ('no connection' excluded), and
every map keeps its strongest input (by β); if that is a residual input, the map also
keeps its direct input (so the chain of levels stays connected).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...genotype_dsl.builder import NetBuilder, op
from ...genotype_dsl.model import Network, OpCall
from ..pipeline import Pipeline, calls
from ..supernet import SinglePath, Supernet

LEVELS = 3
UP = ("convT4x4", "convT6x6", "nearest+conv1x1", "nearest+conv3x3")
NORMAL = ("conv1x1", "conv3x3", "maxpool3x3", "avgpool3x3", "skip", "sepconv3x3", "dilconv3x3")
RES = ("none", "nearest+conv1x1", "bilinear+conv1x1")


def _bnrelu(*rest: OpCall) -> tuple[OpCall, ...]:
    return calls(op("batch_norm"), "relu", *rest)


def up_candidates() -> list[tuple[OpCall, ...]]:
    return [_bnrelu(op("conv_transpose", kernel=4, stride=2, padding=1)),
            _bnrelu(op("conv_transpose", kernel=6, stride=2, padding=2)),
            _bnrelu(op("upsample", mode="nearest"), op("conv", kernel=1)),
            _bnrelu(op("upsample", mode="nearest"), op("conv", kernel=3))]


def normal_candidates() -> list[tuple[OpCall, ...]]:
    return [_bnrelu(op("conv", kernel=1)), _bnrelu(op("conv", kernel=3)),
            calls(op("max_pool", kernel=3, stride=1, padding=1)), calls(op("avg_pool", kernel=3, stride=1, padding=1)),
            calls("identity"), _bnrelu(op("sep_conv", kernel=3)), _bnrelu(op("conv", kernel=3, dilation=2))]


def res_candidates(scale: int) -> list[tuple[OpCall, ...]]:
    return [calls("none"), calls(op("upsample", mode="nearest", scale=scale), op("conv", kernel=1)),
            calls(op("upsample", mode="bilinear", scale=scale), op("conv", kernel=1))]


def input_names(level: int) -> list[str]:
    return [f"up{level}.direct"] + [f"up{level}.res{j}" for j in range(level)]


class DegasG(Supernet):
    def __init__(self, gf: int, latent: int, bottom: int, n_normal: int) -> None:
        super().__init__()
        self.gf, self.latent, self.bottom, self.n_normal = gf, latent, bottom, n_normal
        self.stem = Pipeline(calls(op("linear"), op("reshape", size=bottom)), (latent,), gf * bottom * bottom)
        self.betas = nn.ParameterDict()
        for l in range(1, LEVELS + 1):
            s = bottom * 2 ** l
            self.mixed(f"up{l}.direct", up_candidates(), (gf, s // 2, s // 2), gf, UP)
            for j in range(l):
                src = bottom * 2 ** j
                self.mixed(f"up{l}.res{j}", res_candidates(s // src), (gf, src, src), gf, RES)
            self.betas[f"up{l}"] = nn.Parameter(1e-3 * torch.randn(l + 1))
            for i in range(n_normal):
                self.mixed(f"l{l}.n{i}", normal_candidates(), (gf, s, s), gf, NORMAL)
        s = bottom * 2 ** LEVELS
        self.head = Pipeline(calls(op("batch_norm"), "relu", op("conv", kernel=3), "tanh"), (gf, s, s), 3)

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas.values()) + list(self.betas.values())

    def input_weights(self) -> dict[str, Tensor]:
        return {k: torch.softmax(b, -1) for k, b in self.betas.items()}

    def forward(self, z: Tensor, w: dict[str, Tensor], hard: bool = False,
                keep: dict[str, list[int]] | None = None) -> Tensor:
        """`keep` (one architecture, `single_path`): each map's kept inputs, summed as the
        derived network sums them, instead of the β-weighted sum of all of them."""
        ups = [self.stem(z)]
        x = ups[0]
        beta = self.input_weights() if keep is None else {}
        for l in range(1, LEVELS + 1):
            srcs = [x] + ups[:l]
            names = input_names(l)
            if keep is not None:
                terms = [self.run(names[k], srcs[k], w, hard) for k in keep[f"up{l}"]]
                u = terms[0]
                for t in terms[1:]:
                    u = u + t
            else:
                b = beta[f"up{l}"]
                u = self.run(names[0], x, w, hard) * b[0]
                for j in range(l):
                    u = u + self.run(names[j + 1], ups[j], w, hard) * b[j + 1]
            ups.append(u)
            x = u
            for i in range(self.n_normal):
                x = self.run(f"l{l}.n{i}", x, w, hard)
        return self.head(x)


def degas_choice(probs: dict[str, Any], beta: dict[str, Any]) -> dict[str, int]:
    """The derivation as choices: every edge's strongest op ('no connection' excluded) and,
    as `up{l}.input`, every map's strongest input by β (0: direct, j + 1: residual from U_j)."""
    out = {}
    for edge, p in probs.items():
        q = torch.as_tensor(p, dtype=torch.float64).clone()
        if edge.split(".")[1].startswith("res"):
            q[0] = -1.0
        out[edge] = int(q.argmax())
    for k, b in beta.items():
        out[f"{k}.input"] = int(torch.as_tensor(b).argmax())
    return out


def kept_inputs(choice: dict[str, int], level: int) -> list[int]:
    """The inputs map U_level keeps (0: direct, j + 1: residual from U_j): stage 1, its
    strongest input (`up{l}.input`); stage 2, the direct one too when that is a residual."""
    strongest = choice[f"up{level}.input"]
    return sorted({strongest} | ({0} if strongest else set()))


def single_path(g: DegasG, choice: dict[str, int]) -> SinglePath:
    """One architecture of the supernet as a module (the shared-weights evaluator's view):
    the derived network's function on the supernet's weights."""
    return SinglePath(g, choice, keep={f"up{l}": kept_inputs(choice, l) for l in range(1, LEVELS + 1)})


def degas_edges(g: DegasG) -> dict[str, int]:
    """Every choice of the derivation with its number of options (search/budget.py)."""
    return {**{n: len(g.edge(n).names) for n in g.edge_names}, **{f"{k}.input": len(b) for k, b in g.betas.items()}}


def derive_degas(g: DegasG, choice: dict[str, int] | None = None) -> tuple[Network, dict[str, Any]]:
    """The derived generator of `choice` (default: `degas_choice` of the current α, β). A
    kept residual edge whose choice is 'no connection' is invalid (ValueError): the
    derivation never makes it, a budget repair may try it."""
    beta = {k: v.detach() for k, v in g.input_weights().items()}
    choice = degas_choice(g.probabilities(), beta) if choice is None else choice

    def best(edge: str) -> int:
        if edge.split(".")[1].startswith("res") and choice[edge] == 0:
            raise ValueError(f"{edge}: a kept residual input cannot be 'no connection'")
        return choice[edge]

    b = NetBuilder(g.gf)
    z = b.latent("z", g.latent)
    ups = [b.node("stem", width=1)]
    b.edge(z, ups[0], op("linear", out_width=float(g.bottom ** 2)), op("reshape", size=g.bottom), name="stem")
    x = ups[0]
    choices: dict[str, Any] = {}
    for l in range(1, LEVELS + 1):
        names = input_names(l)
        u = b.node(f"up{l}", width=1, cell=f"level{l}")
        for k in kept_inputs(choice, l):
            e = names[k]
            idx = best(e)
            srcs = [x] + ups[:l]
            cands = up_candidates() if k == 0 else res_candidates(2 ** (l - (k - 1)))
            b.edge(srcs[k], u, *cands[idx], name=e)
            choices[e] = (UP if k == 0 else RES)[idx]
        ups.append(u)
        x = u
        for i in range(g.n_normal):
            e = f"l{l}.n{i}"
            idx = best(e)
            n = b.node(e, width=1, cell=f"level{l}")
            b.edge(x, n, *normal_candidates()[idx], name=e)
            choices[e] = NORMAL[idx]
            x = n
    b.node("rgb", channels=3)
    b.edge(x, "rgb", op("batch_norm"), "relu", op("conv", kernel=3), "tanh", name="to_rgb")
    b.output("image", "rgb")
    enc = {"format": "degas", "gf": g.gf, "latent": g.latent, "bottom": g.bottom, "n_normal": g.n_normal,
           "choices": choices, "input_weights": {k: [round(float(v), 4) for v in p] for k, p in beta.items()}}
    return b.build(), enc


def degas_builder(g: DegasG) -> Any:
    """choice → derived generator with the current β (None when invalid): search/budget.py."""
    def build(choice: dict[str, int]) -> Network | None:
        try:
            return derive_degas(g, choice)[0]
        except ValueError:
            return None
    return build


# --------------------------------------------------------------------------- the relaxed space


class Relaxed:
    """The space relaxed for the differentiable strategy (strategies/differentiable.py): the
    DEGAS supernet; its architecture is α (ops) and β (each map's input)."""

    G_ARCH = "arch"

    def __init__(self, cfg: Any, device: Any) -> None:
        self.g = DegasG(cfg.gf, cfg.latent, cfg.bottom, cfg.n_normal).to(device)
        self.d = None
        self.edges = degas_edges(self.g)  # α's edges and β's input choices

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.g}

    def arch_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"arch": self.g.arch_parameters()}

    def set_mode(self, mode: str) -> None:
        self.g.mode = mode

    def _dist(self) -> dict[str, Tensor]:
        """softmax(α) per edge and softmax(β) per map's input (differentiable)."""
        return {**self.g.mean_weights(), **{f"{k}.input": b for k, b in self.g.input_weights().items()}}

    def _beta(self) -> dict[str, list[float]]:
        return {k: [float(v) for v in b.detach()] for k, b in self.g.input_weights().items()}

    def relaxation(self) -> Any:
        from ..budget import Relaxation

        g = self.g
        return Relaxation(self.edges, degas_builder(g), self._dist, lambda: degas_choice(g.probabilities(), self._beta()),
                          lambda: {**g.probabilities(), **{f"{k}.input": v for k, v in self._beta().items()}})

    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        return {"generator": self.g.probabilities()}

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        return {"generator": self.g.op_names()}

    def log_extra(self) -> dict[str, Any]:
        return {"input_weights": {k: [round(float(v), 5) for v in p.detach()] for k, p in self.g.input_weights().items()}}

    def derive(self, choice: None = None) -> tuple[Network, None, dict[str, Any]]:
        net, enc = derive_degas(self.g)
        return net, None, enc

    def derive_choice(self, choice: dict[str, int], enc: dict[str, Any]) -> tuple[Network, dict[str, Any]]:
        return derive_degas(self.g, choice)

    def finish_encoding(self, enc: dict[str, Any]) -> dict[str, Any]:
        return enc
