"""Supernet plumbing shared by the searchers: named mixed edges with architecture logits,
Gumbel-softmax sampling with an annealed temperature, and op probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..genotype_dsl.model import OpCall
from ..genotype_dsl.ops import Shape
from .mixed import MixedOp, gumbel_weights

SAMPLING = ("soft", "hard")


def _key(name: str) -> str:
    return name.replace(".", "__")


class Supernet(nn.Module):
    """Base of the searchable networks. Subclasses add edges with `mixed(...)` and read
    their per-step weights from the dict `forward` receives (`sample_weights`)."""

    def __init__(self) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        self.alphas = nn.ParameterDict()
        self.edge_names: list[str] = []
        self.mode = "merged"  # "merged" | "separate"; "hard" is chosen per call by sampling

    def mixed(self, name: str, candidates: Sequence[Sequence[OpCall]], in_shape: Shape, out_channels: int,
              names: Sequence[str]) -> MixedOp:
        m = MixedOp(candidates, in_shape, out_channels, names)
        self.edges[_key(name)] = m
        # small random logits (DARTS: 1e-3 · N(0, 1)) so ties break without favouring index 0
        self.alphas[_key(name)] = nn.Parameter(1e-3 * torch.randn(len(candidates)))
        self.edge_names.append(name)
        return m

    def edge(self, name: str) -> MixedOp:
        return self.edges[_key(name)]  # type: ignore[return-value]

    def alpha(self, name: str) -> Tensor:
        return self.alphas[_key(name)]

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def sample_weights(self, tau: float, hard: bool, gen: torch.Generator | None) -> dict[str, Tensor]:
        return {n: gumbel_weights(self.alpha(n), tau, hard, gen) for n in self.edge_names}

    def mean_weights(self) -> dict[str, Tensor]:
        """softmax(α): the deterministic relaxation (evaluation, probabilities)."""
        return {n: torch.softmax(self.alpha(n), -1) for n in self.edge_names}

    def run(self, name: str, x: Tensor, w: dict[str, Tensor], hard: bool) -> Tensor:
        return self.edge(name)(x, w[name], "hard" if hard else self.mode)

    @torch.no_grad()
    def probabilities(self) -> dict[str, list[float]]:
        return {n: [round(float(v), 5) for v in p] for n, p in self.mean_weights().items()}

    def op_names(self) -> dict[str, list[str]]:
        return {n: self.edge(n).names for n in self.edge_names}


def temperature(step: int, total: int, tau_max: float, tau_min: float) -> float:
    """Exponential annealing from tau_max (step 0) to tau_min (last step)."""
    if total <= 1:
        return tau_min
    return tau_max * math.exp(math.log(tau_min / tau_max) * min(step, total - 1) / (total - 1))
