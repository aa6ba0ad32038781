"""What the search run loop needs from a searcher."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..distributed import SINGLE, DataParallel
from ..genotype_dsl.model import Network
from ..seeding import mix_seed
from .config import SearchConfig


class Searcher:
    """One search method. `step(s, reals)` runs iteration `s` on `reals` (2 × batch real
    images — under data parallel this rank's shard of each half —, or the global indices
    for DEGAS) and returns its losses (the mean over the ranks); all randomness of iteration `s`
    comes from `self.gen(s, sub)`, so a resumed run repeats an uninterrupted one."""

    reads_images: bool = True  # False: step() gets dataset indices (DEGAS)
    n_items: int = 0  # with reads_images False: how many items the indices range over

    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self._gen = torch.Generator()
        self.dp: DataParallel = SINGLE  # set by the run loop under torch.distributed (distributed.py)

    def gen(self, s: int, sub: int) -> torch.Generator:
        return self._gen.manual_seed(mix_seed(self.cfg.seed, s, sub))

    def randn(self, n: int, dim: int, s: int, sub: int) -> Tensor:
        # drawn in float32 on the CPU whatever the default dtype and device, so a float64
        # or CUDA run sees the same numbers
        return torch.randn(n, dim, generator=self.gen(s, sub), dtype=torch.float32).to(
            self.device, torch.get_default_dtype())

    # to override ---------------------------------------------------------------------
    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """State beyond modules and optimizers, as JSON (checkpoints hold no pickle)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Called before module / optimizer states are loaded (it may rebuild them)."""

    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        """{network: {edge: op probabilities}} (empty for searchers without α)."""
        return {}

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        return {}

    def log_extra(self) -> dict[str, Any]:
        return {}

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        """(generator, discriminator or None, encoding record, metrics)."""
        raise NotImplementedError

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        """How candidates were scored (search/rewards.py `reward_protocol`), for the provenance's
        `evaluation`;
        None for a searcher that scores no candidates (the differentiable ones)."""
        return None

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images in [-1, 1] from the current supernet / candidate (for a preview grid)."""
        raise NotImplementedError


def adam(params: list[nn.Parameter], lr: float, b1: float, b2: float, wd: float = 0.0) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(b1, b2), weight_decay=wd)


def apply_grads(loss: Tensor, params: list[nn.Parameter], opt: torch.optim.Optimizer,
                dp: DataParallel = SINGLE) -> None:
    """Gradients of `loss` w.r.t. `params` only (none wasted on the other parameters),
    averaged over the data-parallel ranks (`loss` is the mean over this rank's shard), step."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    dp.average(grads)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p in params:
        p.grad = None
