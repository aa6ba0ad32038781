"""Random search in the AdversarialNAS space (the paper's ablation baseline).

`candidates` architectures (G genotype array and Super-D choices) are drawn uniformly
among the valid genotype arrays (rejection: every n2 and n3 keeps an input; nodes that
then reach no output are removed, as the AdversarialNAS derivation does), each is trained
as a plain GAN with the shared trainer (`train.GanTrainer`: hinge loss, Adam lr 2e-4 betas
(0, 0.9), n_critic 1) for an equal share of the iteration budget, and scored with a cheap
discriminator-independent proxy: the sliced Wasserstein distance between 256 generated and
256 real images (128 fixed random directions in pixel space at 16×16; lower is better).
The best candidate's G and D form the genotype. A D-independent score is needed because
each candidate has its own D, so D losses are not comparable across candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...compiler.interpreter import Interpreter
from ...genotype_dsl.encodings.adversarialnas import NORMAL_OPS, UP_OPS
from ...genotype_dsl.model import Network
from ...train.config import TrainConfig
from ...train.trainer import GanTrainer, mix_seed
from ...errors import GccGanError
from ..base import Searcher
from ..budget import admit
from ..config import SearchConfig
from ..spaces.adversarialnas import (
    D_CELLS,
    DOWN_OPS,
    AdvDims,
    build_discriminator,
    edge_fed,
    generator_network,
)


def sample_architecture(rng: np.random.Generator) -> tuple[list[list[int]], dict[str, int]]:
    while True:
        rows = [[int(rng.integers(len(UP_OPS))) for _ in range(2)] + [int(rng.integers(len(NORMAL_OPS)))
                                                                       for _ in range(5)] for _ in range(3)]
        if edge_fed(rows):
            break
    d: dict[str, int] = {}
    for k in range(1, D_CELLS + 1):
        d[f"dcell{k}.e0"] = int(rng.integers(1, len(NORMAL_OPS)))  # n0's only input: never 'none'
        while True:
            e1, e2 = (int(rng.integers(len(NORMAL_OPS))) for _ in range(2))
            if e1 or e2:
                break
        d[f"dcell{k}.e1"], d[f"dcell{k}.e2"] = e1, e2
        for i in range(2):
            d[f"dcell{k}.d{i}"] = int(rng.integers(len(DOWN_OPS)))
    return rows, d


def candidate_networks(arch: tuple[list[list[int]], dict[str, int]], cfg: SearchConfig,
                       ) -> tuple[Network, Network, dict[str, Any]]:
    """(generator, discriminator, encoding record) of a sampled architecture, built as the
    AdversarialNAS derivation builds its result (so dead nodes are removed the same way)."""
    rows, dch = arch
    dims = AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent, bottom=cfg.bottom)
    gnet, enc = generator_network(rows, dims)
    enc["discriminator"] = {"format": "adversarialnas-d", "df": cfg.df, "size": cfg.size,
                            "ops": {e: (NORMAL_OPS if e.split(".")[1].startswith("e") else DOWN_OPS)[v]
                                    for e, v in dch.items()}}
    return gnet, build_discriminator(dch, cfg.df, cfg.size), enc


def sliced_wasserstein(a: Tensor, b: Tensor, n_dir: int = 128, seed: int = 0, size: int = 16) -> float:
    """SWD between two image sets (N, C, H, W) at `size`×`size`, fixed random directions."""
    a = F.adaptive_avg_pool2d(a.float(), size).flatten(1)
    b = F.adaptive_avg_pool2d(b.float(), size).flatten(1)
    dirs = F.normalize(torch.randn(a.shape[1], n_dir, generator=torch.Generator().manual_seed(seed)), dim=0)
    pa, pb = (a @ dirs).sort(0).values, (b @ dirs).sort(0).values
    return float((pa - pb).abs().mean())


class RandomSearcher(Searcher):
    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        rng = np.random.default_rng(mix_seed(cfg.seed, 4242))
        self.archs, self.discarded = [], 0
        while len(self.archs) < cfg.candidates:  # a budget discards candidates before any training
            arch = sample_architecture(rng)
            if not cfg.budget.active or admit(cfg.budget, candidate_networks(arch, cfg)[0])[0]:
                self.archs.append(arch)
                continue
            self.discarded += 1
            if self.discarded >= 2000 * cfg.candidates:
                raise GccGanError(f"random search: {self.discarded} sampled architectures were all over the budget "
                                  f"({cfg.budget.describe()}); {len(self.archs)} fit. Raise the budget")
        self.per = cfg.iters // cfg.candidates  # equal budget; the remainder goes to the last one
        self.scores: list[float] = []
        self.data: Any = None
        self._build(0)

    def bind_data(self, data: Any) -> None:
        self.data = data

    def _span(self, k: int) -> tuple[int, int]:
        start = k * self.per
        return start, (self.cfg.iters if k == self.cfg.candidates - 1 else start + self.per)

    def networks(self, k: int) -> tuple[Network, Network, dict[str, Any]]:
        return candidate_networks(self.archs[k], self.cfg)

    def _build(self, k: int) -> None:
        cfg = self.cfg
        self.k = k
        gnet, dnet, _ = self.networks(k)
        torch.manual_seed(mix_seed(cfg.seed, k))
        tc = TrainConfig(iters=self._span(k)[1] - self._span(k)[0], batch_size=cfg.batch_size,
                         d_batch_size=2 * cfg.batch_size, n_critic=1, lr_g=cfg.lr, lr_d=cfg.lr, beta1=cfg.beta1,
                         beta2=cfg.beta2, lr_decay=False, ema=0.0, seed=mix_seed(cfg.seed, k)).validate()
        self.trainer = GanTrainer(Interpreter(gnet), Interpreter(dnet), cfg.latent, tc, self.device)

    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        k = min(s // self.per, self.cfg.candidates - 1)
        if k != self.k:
            self._build(k)
        start, end = self._span(k)
        self.trainer.step = s - start
        res = self.trainer.train_step([reals])
        out = {"d_loss": float(res.d_loss), "g_loss": float(res.g_loss), "candidate": float(k)}
        if s + 1 == end:
            self.scores.append(self._score())
            if k + 1 < self.cfg.candidates:  # so a checkpoint here holds the next one's fresh state
                self._build(k + 1)
        return out

    @torch.no_grad()
    def _score(self) -> float:
        n = min(256, len(self.data))
        idx = np.random.default_rng(self.cfg.seed).choice(len(self.data), size=n, replace=False)
        real = self.data.batch(np.sort(idx))
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(mix_seed(self.cfg.seed, 7)))
        fake = self.trainer.sample(z, ema=False)
        return sliced_wasserstein(fake, real, seed=self.cfg.seed)

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.trainer.g, "d": self.trainer.d}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.trainer.opt_g, "d": self.trainer.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return {"candidate": self.k, "scores": self.scores}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.scores = [float(v) for v in state.get("scores", [])]
        k = int(state.get("candidate", 0))
        if k != self.k:
            self._build(k)

    def log_extra(self) -> dict[str, Any]:
        return {"scores": [round(v, 5) for v in self.scores]}

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        best = int(np.argmin(self.scores))
        g, d, enc = self.networks(best)
        enc["random_search"] = {"candidates": [{"arch": a[0], "score": s} for a, s in zip(self.archs, self.scores)],
                                "kept": best, "proxy": "sliced Wasserstein distance, 256 images at 16x16",
                                "discarded_over_budget": self.discarded}
        return g, d, enc, {"proxy_swd": self.scores[best]}

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        from ..pareto import Candidate

        return ([Candidate(f"random-cand{k}", self.networks(k)[0], s, self._span(k)[1])
                 for k, s in enumerate(self.scores)], "proxy_swd", False)

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images of the last candidate trained (the kept one is named in the genotype)."""
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(mix_seed(self.cfg.seed, 7)))
        return self.trainer.sample(z, ema=False)
