"""Random search in the AdversarialNAS space (the paper's ablation baseline).

`candidates` architectures (G genotype array and Super-D choices) are drawn uniformly
among the valid genotype arrays (rejection: every n2 and n3 keeps an input; nodes that
then reach no output are removed, as the AdversarialNAS derivation does), each is trained
as a plain GAN with the shared trainer (`train.GanTrainer`: hinge loss, Adam lr 2e-4 betas
(0, 0.9), n_critic 1) for an equal share of the iteration budget, and scored with a cheap
discriminator-independent proxy: `swd-real` ×1e3 (search/rewards.py, the search's SWD
reward) between `reward_images` (presets: 256) generated and as many real images; lower is better. Each candidate's
health (search/health.py) is checked on the same images and its training losses; the
best healthy candidate's G and D form the genotype, and a run with none ends with an
error. A D-independent score is needed because each candidate has its own D, so D losses
are not comparable across candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...compiler.interpreter import Interpreter
from ...genotype_dsl.encodings.adversarialnas import NORMAL_OPS, UP_OPS
from ...genotype_dsl.model import Network
from ...train.config import TrainConfig
from ...seeding import mix_seed
from ...train.trainer import GanTrainer
from ...errors import GccGanError
from ..base import Searcher
from ..budget import admit
from ..config import SearchConfig
from ..health import BAD, OK, Health, combine, loss_health, no_healthy_candidate, summary, weights_health
from ..rewards import Reward
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
        self.scores: list[float] = []  # swd-real x 1e3 of each candidate (inf: diverged before scoring)
        self.status: list[str] = []  # each candidate's health (search/health.py)
        self.reasons: list[str] = []
        self.diversity: list[float | None] = []  # per-pixel std over the latents / the data's
        self.loss_health = Health()  # the current candidate's training losses
        self.data: Any = None
        self.reward: Reward | None = None
        self._build(0)

    def bind_data(self, data: Any) -> None:
        self.data = data
        self.reward = Reward("swd", min(self.cfg.reward_images, len(data)), data, self.device, real_seed=self.cfg.seed,
                             min_diversity=self.cfg.min_diversity)

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        return None if self.reward is None else self.reward.protocol(data, self.cfg.seed % 2**32)

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
        if self.loss_health.ok:  # a candidate that diverges is recorded as such, not the whole run
            self.loss_health = loss_health({"d_loss": out["d_loss"], "g_loss": out["g_loss"]})
        if not self.loss_health.ok:
            out = {"candidate": float(k)}  # its losses are not the run's: the run loop would stop
        if s + 1 == end:
            self._score()
            if k + 1 < self.cfg.candidates:  # so a checkpoint here holds the next one's fresh state
                self._build(k + 1)
        return out

    @torch.no_grad()
    def _score(self) -> None:
        """Score the finished candidate (swd-real x 1e3) and record its health."""
        assert self.reward is not None
        h = combine(self.loss_health, weights_health(self.trainer.g.parameters()))
        value = float("inf")
        if h.ok:
            sc = self.reward.score(self.trainer.g, self.cfg.latent, self.cfg.size, self.cfg.seed % 2**32)
            value, h = sc.value, sc.health
        self.scores.append(value)
        self.status.append(h.status)
        self.reasons.append(h.reason)
        self.diversity.append(h.diversity)
        self.loss_health = Health()

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.trainer.g, "d": self.trainer.d}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.trainer.opt_g, "d": self.trainer.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return {"candidate": self.k, "scores": self.scores, "status": self.status, "reasons": self.reasons,
                "diversity": self.diversity, "loss_health": [self.loss_health.status, self.loss_health.reason]}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.scores = [float(v) for v in state.get("scores", [])]
        self.status = list(state.get("status", [OK] * len(self.scores)))
        self.reasons = list(state.get("reasons", [""] * len(self.scores)))
        self.diversity = list(state.get("diversity", [None] * len(self.scores)))
        self.loss_health = Health(*state.get("loss_health", [OK, ""]))
        k = int(state.get("candidate", 0))
        if k != self.k:
            self._build(k)

    def log_extra(self) -> dict[str, Any]:
        return {"scores": [round(v, 5) if np.isfinite(v) else None for v in self.scores], "status": self.status}

    def kept(self) -> int:
        """The best healthy candidate; none healthy is the run's error (search/health.py)."""
        ok = [k for k, st in enumerate(self.status) if st == OK]
        if not ok:
            raise no_healthy_candidate(self.status, "candidates", "try another --seed or more --iters")
        return min(ok, key=lambda k: (self.scores[k], k))

    def health_summary(self) -> str:
        return summary(self.status)

    def kept_health(self) -> dict[str, Any]:
        return {"status": OK, "diversity": self.diversity[self.kept()]}

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        best = self.kept()
        g, d, enc = self.networks(best)
        enc["random_search"] = {"candidates": [{"arch": a[0], "swd_real": s if np.isfinite(s) else None, "status": st,
                                                **({"reason": r} if r else {})}
                                               for a, s, st, r in zip(self.archs, self.scores, self.status,
                                                                      self.reasons)],
                                "kept": best, "proxy": f"swd-real x 1e3 (lower is better), {self.cfg.reward_images} images",
                                "health": {b: self.status.count(b) for b in BAD},
                                "discarded_over_budget": self.discarded}
        return g, d, enc, {"swd_real": self.scores[best]}

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        from ..pareto import Candidate

        return ([Candidate(f"random-cand{k}", self.networks(k)[0], s, self._span(k)[1])
                 for k, s in enumerate(self.scores) if self.status[k] == OK], "swd_real", False)

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images of the last candidate trained (the kept one is named in the genotype)."""
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(mix_seed(self.cfg.seed, 7)))
        return self.trainer.sample(z, ema=False)
