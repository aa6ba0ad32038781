"""Supernet plumbing shared by the searchers: named mixed edges with architecture logits,
Gumbel-softmax sampling with an annealed temperature, and op probabilities; and the
single-path view of a space's shared weights (`OneShotNets`, `SinglePath`, `recalibrated`)
that the shared-weights evaluator trains and scores (evaluators/oneshot.py)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
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


# --------------------------------------------------------------------------- single-path one-shot


class SinglePath(nn.Module):
    """One architecture of a supernet as a plain module: every edge runs only its chosen op
    (hard one-hot weights), as single-path one-shot NAS (Guo et al., 2020) trains and scores
    a supernet. `choice` maps edge names to op indices (other keys are ignored); `kw` goes to
    the supernet's forward (DEGAS: the map inputs the architecture keeps)."""

    def __init__(self, net: Supernet, choice: dict[str, int], **kw: Any) -> None:
        super().__init__()
        self.net, self.kw = net, kw
        p = next(net.parameters())
        self.w = {n: F.one_hot(torch.tensor(int(choice[n])), len(net.edge(n).names)).to(p.device, p.dtype)
                  for n in net.edge_names}

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x, self.w, hard=True, **self.kw)
        assert isinstance(out, Tensor)
        return out


@dataclass
class OneShotNets:
    """A space's shared weights for the shared-weights evaluator: the modules to train and
    checkpoint (`g`, `d`) and each architecture's generator and discriminator on them (plain
    modules sharing those parameters)."""

    g: nn.Module
    d: nn.Module
    generator: Callable[[Any], nn.Module]
    discriminator: Callable[[Any], nn.Module]


def _bns(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(child: nn.Module, latent: int, n: int, batch: int, seed: int, device: Any) -> None:
    """Re-estimate `child`'s BN statistics on its own features: exact averages over `n`
    latents of their own stream (`seed`). Shared BN statistics mix every architecture trained
    on them, and a child scored on another's can collapse to one constant image (dead ReLUs
    after a shifted mean): Once-for-All / AutoSlim re-calibrate a sub-network's BN before
    scoring it."""
    bns = _bns(child)
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was = child.training
    child.train()
    gen = torch.Generator().manual_seed(seed % 2**63)
    try:
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), latent, generator=gen)
            child(z.to(device))
    finally:
        child.train(was)
        for m, mom in zip(bns, momenta):
            m.momentum = mom


@contextlib.contextmanager
def recalibrated(child: nn.Module, latent: int, n: int, batch: int, seed: int, device: Any) -> Iterator[None]:
    """Inside: `recalibrate_bn(child, ...)`; after: the shared statistics as they were
    (scoring one child must not change the others)."""
    saved = [(m, {k: v.clone() for k, v in m.state_dict().items()}) for m in _bns(child)]
    try:
        recalibrate_bn(child, latent, n, batch, seed, device)
        yield
    finally:
        for m, st in saved:
            m.load_state_dict(st)
