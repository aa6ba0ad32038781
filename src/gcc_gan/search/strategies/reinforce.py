"""AutoGAN (Gong et al. 2019): an LSTM controller trained with REINFORCE proposes generator
cells; all candidates share one GAN's weights; multi-level search grows the generator by a
cell per stage. Space: search/spaces/autogan.py; controller: search/strategies/controller.py;
rewards: search/rewards.py. This file maps the official loop (search.py:151-195, notes §1.2)
onto the run loop's steps, so checkpoints and --resume work at step granularity.

Schedule: search iteration `it` = `shared_steps` shared-GAN steps then `ctrl_steps`
controller steps (step s: it = s // per, r = s % per).
* r = 0 and it ∈ grow_at: top-K of M sampled children (by reward, shared weights) become
  the prefixes, a new controller (stage + 1) and Adam replace the old, D and the data
  resolution grow; G / D weights are kept (official: no reset on growth).
* shared step: sample a child (prefix uniformly with replacement from the top-K), one D hinge
  step, a G step every n_critic D steps (counted from the phase start as the official
  `step`); losses go to moving windows; when the G window is full and either window's
  variance is below the threshold, a reset is flagged and the rest of the phase is skipped.
* controller step: sample, reward the child, REINFORCE (clean / faithful); faithful mode
  re-creates the baseline at each controller phase.
* last step of an iteration: a flagged reset re-creates G, D and their optimizers (new
  seeds), keeping the controller.
After the last step `derive()` scores sampled children and keeps the K best; the best is the
genotype (the paper retrains the top-K from scratch and keeps the best; `gcc-gan train` does
that for each topk.json vector).

Where paper and code differ, the official code is followed (notes §1.3: the code is the
spec); its quirks (§1.4) are what `--mode` chooses between — `clean` (default) fixes them,
`faithful` reproduces them where that is cheap:
* the final top-K: clean draws M children, more (up to 20·M) until K distinct ones, and keeps
  the K best distinct ones (K retrainings of one vector teach nothing); faithful draws exactly
  M (official get_topk_arch_hidden, search.py:194) and keeps duplicates, ties ordered as the
  official `sorted(...)[::-1]` orders them (the later sample first). Growth's top-K is the
  same M samples in both modes; clean keeps the K best distinct ones, faithful keeps
  duplicates (which then weight the uniform prefix draw, as officially).
* shared G parameters a child does not use: clean gives them no Adam step (the modern
  `zero_grad(set_to_none=True)`); faithful steps them with a zero gradient once they have
  been used, as the official code's PyTorch 1.1 `zero_grad()` zeroed every gradient that
  existed. With β1 = 0 the weights do not move, but Adam's second moment shrinks by β2 per
  such step, so the next update of that slot is larger (`_g_step`).
The deviations faithful mode keeps (spectral norm, data order, resize, reward noise, …) are
listed in the README's AutoGAN fidelity table.

Under a budget (`--max-macs / --max-params / --max-latency`; gcc-gan's extension): a
full-depth child over budget is penalised in the reward and never enters the final top-K
(`fits`), and every cell also gets a width token (spaces/autogan.py): a child is then a
token vector with the cell's width last, `split_tokens` gives the AutoGAN vector and the
widths, and each child's BN statistics are re-estimated before it is scored (`supernet.recalibrate_bn`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...atomic import atomic_write_bytes, atomic_write_text
from ...genotype_dsl.encodings import sngan_discriminator
from ...genotype_dsl.model import Network
from ...seeding import mix_seed
from ..base import Searcher, adam, apply_grads
from ..budget import admit
from ..config import SearchConfig
from ..health import BAD, OK, no_healthy_candidate, summary
from ..rewards import DESCRIPTION, METRIC, Reward, Scored, resize
from ..spaces.autogan import (
    GrowingDiscriminator,
    SharedGenerator,
    child_native,
    split_tokens,
    stage_of,
    stage_tokens,
    token_names,
)
from ..supernet import recalibrate_bn, recalibrated
from .controller import Controller, Sample, clean_loss, faithful_loss

SUB_ARCH, SUB_Z_D, SUB_Z_G = 0, 1, 2  # sub-streams of a step's randomness


class AutoGanSearcher(Searcher):
    settings = frozenset({"mode"})
    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        # `--method random --space autogan`: the paper's weight-sharing random-search baseline —
        # uniform tokens instead of the controller, no policy update, all else the same
        self.uniform = cfg.method == "random"
        # under a budget, each cell's width is searched too (spaces/autogan.py: without it no
        # child of AutoGAN's space can meet a tight budget); without one, AutoGAN's space exactly
        self.widths = cfg.budget.active
        if self.widths:
            self._check_reachable()
        self.per = cfg.shared_steps + cfg.ctrl_steps
        self.stage = 0
        self.n_resets = 0
        self.prefixes: list[dict[str, Any]] = []  # {"arch", "h", "c", "reward"}
        self.baseline: float | list[float] | None = None
        self.win_g: list[float] = []
        self.win_d: list[float] = []
        self.reset_flag = False
        self.skip_shared = False
        self.events: list[dict[str, Any]] = []  # growths and resets, for provenance and the plot
        self.rewards: list[dict[str, Any]] = []  # every controller step: step, arch, reward, entropy, baseline
        self.reward_fn: Reward | None = None
        self.n_evals = 0  # reward evaluations (the search's main cost with IS)
        self.data: Any = None
        self.final: list[dict[str, Any]] | None = None
        self.unhealthy: list[dict[str, Any]] = []  # the last top-K's collapsed / diverged children
        self._build_gan()
        self._new_controller()

    # ------------------------------------------------------------------ construction
    def _check_reachable(self) -> None:
        """A MACs / params limit below every child of the space is an error before any
        training (`search/budget.space_floor`; `gcc-gan search` checks it before loading data)."""
        from ..budget import refuse_unreachable, space_floor

        refuse_unreachable(self.cfg.budget, space_floor(self.cfg))

    def bind_data(self, data: Any) -> None:
        self.data = data
        self.reward_fn = Reward(self.cfg.reward, self.cfg.reward_images, data, self.device,
                                real_seed=mix_seed(self.cfg.seed, 5), min_diversity=self.cfg.min_diversity)

    def _build_gan(self) -> None:
        cfg = self.cfg
        self.g = SharedGenerator(cfg.gf, cfg.latent, cfg.bottom, mix_seed(cfg.seed, 11, self.n_resets),
                                 widths=self.widths).to(self.device)
        # both modes: D's spectral norm is the op registry's (parametrization API: 15 warm-up power
        # iterations, u before v), not the official hook (random u, v, no warm-up, v before u),
        # so that the searched D is the `sngan_discriminator` gcc-gan compiles; a README deviation
        self.d = GrowingDiscriminator(cfg.df, cfg.size, True, mix_seed(cfg.seed, 12, self.n_resets)).to(self.device)
        self.d.stage = self.stage
        self.opt_g = adam(list(self.g.parameters()), cfg.lr, cfg.beta1, cfg.beta2)
        self.opt_d = adam(list(self.d.parameters()), cfg.lr, cfg.beta1, cfg.beta2)

    def _new_controller(self) -> None:
        with torch.random.fork_rng(devices=[]):  # PyTorch default init, from a seed of its own
            torch.manual_seed(mix_seed(self.cfg.seed, 21, self.stage))
            self.ctrl = Controller(stage_tokens(self.stage, self.widths), self.cfg.hid).to(self.device)
        # official: Adam(ctrl_lr, (beta1, beta2)) = (0, 0.9) (search.py:51-52)
        self.ctrl_opt = adam(list(self.ctrl.parameters()), self.cfg.ctrl_lr, self.cfg.beta1, self.cfg.beta2)

    def size_at(self, stage: int) -> int:
        return self.cfg.bottom * 2 ** (stage + 1)

    # ------------------------------------------------------------------ sampling
    def _hidden(self, p: dict[str, Any]) -> tuple[Tensor, Tensor]:
        def t(v: list[float]) -> Tensor:
            return torch.tensor(v, dtype=torch.float32).view(1, -1).to(self.device, torch.get_default_dtype())

        return t(p["h"]), t(p["c"])

    def sample(self, gen: torch.Generator, grad: bool = False) -> tuple[list[int], Sample]:
        """A full arch vector: a top-K prefix drawn uniformly (with replacement) and the
        current stage's tokens from the controller continuing its hidden state."""
        prefix: list[int] = []
        hidden = None
        if self.prefixes:
            p = self.prefixes[int(torch.randint(len(self.prefixes), (1,), generator=gen))]
            prefix, hidden = list(p["arch"]), self._hidden(p)
        if self.uniform:
            tokens = stage_tokens(self.stage, self.widths)
            acts = [int(torch.randint(n, (1,), generator=gen)) for n in tokens]
            n = torch.tensor(tokens, dtype=torch.float64)
            return prefix + acts, Sample(acts, -n.log(), n.log(), (torch.zeros(1, 1), torch.zeros(1, 1)))
        with torch.set_grad_enabled(grad):
            s = self.ctrl.sample(gen, hidden)
        return prefix + s.actions, s

    def _reward(self, arch: list[int], seed: int) -> Scored:
        """The child's metric, reward (higher is better) and health (search/health.py)."""
        if self.reward_fn is None:
            raise RuntimeError("bind_data() must run before rewards are computed")
        self.n_evals += 1
        child = self.g.child(arch)
        if not self.widths:
            return self.reward_fn.score(child, self.cfg.latent, self.size_at(self.stage), seed)
        with recalibrated(child, self.cfg.latent, self.cfg.reward_images, self.cfg.g_batch, mix_seed(seed, 79),
                          self.device):  # width search only: see supernet.recalibrate_bn
            return self.reward_fn.score(child, self.cfg.latent, self.size_at(self.stage), seed)

    def native(self, tokens: list[int]) -> Any:
        """A child's converted network (genotype_dsl.encodings.Native)."""
        return child_native(tokens, self.cfg.gf, self.cfg.latent, self.cfg.bottom, self.widths)

    def fits(self, arch: list[int]) -> tuple[bool, float]:
        """(within budget, relative excess) of a child; only a full-depth child (last stage) is
        held to the budget — earlier stages' children are shallower, lower-resolution
        networks whose cost the budget does not describe."""
        if not self.cfg.budget.active or self.stage < len(self.cfg.grow_at):
            return True, 0.0
        ok, c = admit(self.cfg.budget, self.native(arch).network)
        return ok, self.cfg.budget.excess(c)

    def topk(self, s: int, distinct: bool, min_distinct: bool = False) -> list[dict[str, Any]]:
        """M children sampled and scored with the shared weights (one latent seed for all:
        common random numbers, in both modes — the official fresh latents per child add noise
        to a ranking of architectures; a README deviation), the K best kept with their final
        LSTM states. `min_distinct` keeps sampling (up to 20·M) until K distinct vectors were
        seen."""
        cfg = self.cfg
        seed = mix_seed(cfg.seed, s, 77) % 2**31
        cands: list[dict[str, Any]] = []
        seen: set[tuple[int, ...]] = set()
        self.unhealthy = []
        i = 0
        while i < cfg.num_candidate or (min_distinct and len(seen) < cfg.topk and i < 20 * cfg.num_candidate):
            arch, smp = self.sample(self.gen(s, 1000 + i))
            i += 1
            key = tuple(arch)
            if distinct and key in seen:
                continue
            if not self.fits(arch)[0]:  # over budget: discarded before its reward is computed
                continue
            seen.add(key)
            h, c = smp.hidden
            sc = self._reward(arch, seed)
            if not sc.health.ok:  # a collapsed or diverged child never enters the top-K (both modes: the trust rule)
                self.unhealthy.append({"arch": arch, **sc.record()})
                continue
            cands.append({"arch": arch, "h": [float(v) for v in h.view(-1).cpu()],
                          "c": [float(v) for v in c.view(-1).cpu()], **sc.record()})
        if not cands and cfg.budget.active:  # none sampled fits: repair the controller's first sample
            arch, smp = self.sample(self.gen(s, 1000))
            arch = self.repair(arch)
            h, c = smp.hidden
            sc = self._reward(arch, seed)
            if sc.health.ok:
                cands.append({"arch": arch, "h": [float(v) for v in h.view(-1).cpu()],
                              "c": [float(v) for v in c.view(-1).cpu()], **sc.record(), "budget_repaired": True})
            else:
                self.unhealthy.append({"arch": arch, **sc.record()})
        if not cands:
            raise no_healthy_candidate([u["status"] for u in self.unhealthy], f"children sampled at step {s}",
                                       "every child the controller sampled is collapsed or diverged; try another "
                                       "--seed, or --reward fid / is")
        if cfg.mode == "faithful":  # official: sorted(ascending)[::-1], ties: the later sample first
            cands = sorted(cands, key=lambda d: d["reward"])[::-1]
        else:
            cands.sort(key=lambda d: -d["reward"])  # stable: ties keep sampling order
        return cands[:cfg.topk]

    def repair(self, arch: list[int]) -> list[int]:
        """search/budget.repair over the token vector (every token's choices; cheaper-token
        swaps, the largest compiled saving first, since tokens have no marginal probabilities)."""
        from ..budget import repair

        sizes = [n for st in range(stage_of(arch, self.widths) + 1) for n in stage_tokens(st, self.widths)]
        edges = {f"t{j}": n for j, n in enumerate(sizes)}

        def build(ch: dict[str, int]) -> Network:
            return self.native([ch[f"t{j}"] for j in range(len(sizes))]).network

        probs = {e: [1.0] * n for e, n in edges.items()}
        fixed, _, _ = repair({f"t{j}": v for j, v in enumerate(arch)}, probs, edges, build, self.cfg.budget)
        return [fixed[f"t{j}"] for j in range(len(sizes))]

    # ------------------------------------------------------------------ the run loop
    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        cfg = self.cfg
        it, r = divmod(s, self.per)
        out: dict[str, float] = {"stage": float(self.stage)}
        if r == 0:
            self.skip_shared = False
            if it in cfg.grow_at:
                self._grow(s, it)
                out["stage"] = float(self.stage)
        if r < cfg.shared_steps:
            out.update(self._shared_step(s, r, reals))
        else:
            out.update(self._controller_step(s, r))
        if r == self.per - 1 and self.reset_flag:
            self.n_resets += 1
            self._build_gan()
            self.reset_flag = False
            self.events.append({"kind": "reset", "step": s + 1, "iter": it, "stage": self.stage})
            out["reset"] = 1.0
        return out

    def _grow(self, s: int, it: int) -> None:
        self.prefixes = self.topk(s, distinct=self.cfg.mode == "clean")
        self.stage += 1
        self.d.stage = self.stage
        self._new_controller()
        self.baseline = None
        self.events.append({"kind": "grow", "step": s, "iter": it, "stage": self.stage,
                            "topk": [{"arch": p["arch"], "reward": p["reward"]} for p in self.prefixes]})

    def _shared_step(self, s: int, r: int, reals: Tensor) -> dict[str, float]:
        cfg = self.cfg
        if self.skip_shared:
            return {"skipped": 1.0}
        arch, _ = self.sample(self.gen(s, SUB_ARCH))
        child = self.g.child(arch)
        self.g.train()
        self.d.train()
        # both modes: the run loop's resumable stream gives 2·B images a step (the half-batch
        # searchers' layout) and this uses the first B: full batches, no epochs, no short last
        # batch; area resize where the official loader's PIL resize is bilinear on uint8. One data
        # path for every searcher (bit-identical --resume) outweighs these; README deviations
        real = resize(reals[:cfg.batch_size], self.size_at(self.stage))
        with torch.no_grad():
            fake = child(self.randn(real.shape[0], cfg.latent, s, SUB_Z_D))
        # two D passes as the official code (each advances spectral norm's power iteration)
        d_loss = F.relu(1.0 - self.d(real)).mean() + F.relu(1.0 + self.d(fake)).mean()
        apply_grads(d_loss, list(self.d.parameters()), self.opt_d)
        out = {"d_loss": d_loss.item()}
        self.win_d = (self.win_d + [out["d_loss"]])[-cfg.reset_window:]
        if r % cfg.n_critic == 0:
            g_loss = -self.d(child(self.randn(cfg.g_batch, cfg.latent, s, SUB_Z_G))).mean()
            self._g_step(g_loss, child)
            out["g_loss"] = g_loss.item()
            self.win_g = (self.win_g + [out["g_loss"]])[-cfg.reset_window:]
        if len(self.win_g) == cfg.reset_window:  # official: only once the G window is full
            vg, vd = float(np.var(self.win_g)), float(np.var(self.win_d))
            if vg < cfg.reset_threshold or vd < cfg.reset_threshold:
                self.reset_flag, self.skip_shared = True, True
                self.win_g, self.win_d = [], []
                self.events.append({"kind": "reset_flag", "step": s + 1, "iter": s // self.per, "var_g": vg,
                                    "var_d": vd, "stage": self.stage})
        return out

    def _g_step(self, loss: Tensor, child: nn.Module) -> None:
        """One Adam step of the shared G on the child's gradients. Faithful mode also steps,
        with a zero gradient, every shared parameter the child does not use but an earlier
        child did: the official `gen_optimizer.zero_grad()` (PyTorch 1.1) zeroed the existing
        gradients instead of dropping them, and Adam steps any parameter whose gradient is not
        None. "Used before" is exactly "has Adam state" (Adam creates it at a parameter's
        first step), so this needs no bookkeeping of its own and survives --resume."""
        used = list(child.parameters())
        stale: list[nn.Parameter] = []
        if self.cfg.mode == "faithful":
            ids = {id(p) for p in used}
            stale = [p for p in self.g.parameters() if id(p) not in ids and self.opt_g.state.get(p)]
            for p in stale:
                p.grad = torch.zeros_like(p)
        try:
            apply_grads(loss, used, self.opt_g)
        finally:
            for p in stale:
                p.grad = None

    def _controller_step(self, s: int, r: int) -> dict[str, float]:
        cfg = self.cfg
        if r == cfg.shared_steps and cfg.mode == "faithful":
            self.baseline = None  # official: `baseline = None` at every train_controller call
        self.ctrl.train()
        arch, smp = self.sample(self.gen(s, SUB_ARCH), grad=True)
        sc = self._reward(arch, mix_seed(cfg.seed, s, 78) % 2**31)
        scores = sc.record()  # the metric (swd_real / fid / is), reward, status
        if not sc.health.ok:  # collapsed or diverged: recorded, never learned from as a reward (the trust rule)
            self.rewards.append({"step": s + 1, "stage": self.stage, "arch": arch, **scores, "reward": None,
                                 "total": None, "baseline": None, "entropy": float(smp.entropies.detach().sum())})
            return {}
        reward = sc.reward
        ok, excess = self.fits(arch)
        raw = reward
        if not ok:  # penalised below any within-budget reward of its sign: r - |r|·(1 + excess)
            reward = reward - abs(reward) * (1.0 + excess)
        if self.uniform:  # random search: the reward is only recorded
            self.rewards.append({"step": s + 1, "stage": self.stage, "arch": arch, **scores, "reward": reward,
                                 "total": reward, "baseline": reward, "entropy": float(smp.entropies.sum())})
            return {"reward": reward}
        if cfg.mode == "clean":
            b0 = self.baseline if isinstance(self.baseline, float) else None
            loss, total, b = clean_loss(smp, reward, b0, cfg.entropy_coeff, cfg.baseline_decay)
            self.baseline = b
        else:
            prev = None if self.baseline is None else torch.tensor(self.baseline).view(-1, 1).to(smp.log_probs)
            loss, rewards, bt = faithful_loss(smp, reward, prev, cfg.entropy_coeff, cfg.baseline_decay)
            total, b = rewards.mean().item(), bt.mean().item()
            self.baseline = [float(v) for v in bt.detach().view(-1).cpu()]
        apply_grads(loss, list(self.ctrl.parameters()), self.ctrl_opt)
        ent = float(smp.entropies.detach().sum())
        self.rewards.append({"step": s + 1, "stage": self.stage, "arch": arch, **scores, "reward": reward,
                             "total": total, "baseline": b, "entropy": ent, **({} if ok else {"raw_reward": raw})})
        return {"ctrl_loss": loss.item(), "reward": reward, "baseline": b, "entropy": ent}

    # ------------------------------------------------------------------ state
    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d, "ctrl": self.ctrl}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.opt_g, "d": self.opt_d, "ctrl": self.ctrl_opt}

    def extra_state(self) -> dict[str, Any]:
        return {"stage": self.stage, "n_resets": self.n_resets, "prefixes": self.prefixes,
                "baseline": self.baseline, "win_g": self.win_g, "win_d": self.win_d,
                "reset_flag": self.reset_flag, "skip_shared": self.skip_shared, "events": self.events,
                "rewards": self.rewards, "n_evals": self.n_evals}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.n_resets = int(state.get("n_resets", 0))
        self.stage = int(state.get("stage", 0))
        self._build_gan()  # the right seeds; the checkpoint's tensors are loaded next
        self._new_controller()  # this stage's token heads
        self.prefixes = list(state.get("prefixes", []))
        b = state.get("baseline")
        self.baseline = [float(v) for v in b] if isinstance(b, list) else (None if b is None else float(b))
        self.win_g = [float(v) for v in state.get("win_g", [])]
        self.win_d = [float(v) for v in state.get("win_d", [])]
        self.reset_flag = bool(state.get("reset_flag", False))
        self.skip_shared = bool(state.get("skip_shared", False))
        self.events = list(state.get("events", []))
        self.rewards = list(state.get("rewards", []))
        self.n_evals = int(state.get("n_evals", 0))

    def token_names(self) -> list[str]:
        """Names of the current controller's tokens, e.g. cell2.conv."""
        return [f"cell{self.stage + 1}.{t}" for t in token_names(self.stage, self.widths)]

    def log_extra(self) -> dict[str, Any]:
        """The current controller's token distributions along its greedy path from the best
        prefix (no randomness consumed), and the last controller step's numbers."""
        if self.uniform:
            dists = [[1.0 / n] * n for n in stage_tokens(self.stage, self.widths)]
        else:
            with torch.no_grad():
                hidden = self._hidden(self.prefixes[0]) if self.prefixes else None
                dists = self.ctrl.distributions(hidden)
        rec: dict[str, Any] = {"stage": self.stage, "resets": self.n_resets,
                               "tokens": dict(zip(self.token_names(), [[round(v, 5) for v in d] for d in dists]))}
        if self.rewards:
            last = self.rewards[-1]
            rec.update({"last_arch": last["arch"], "last_reward": None if last["reward"] is None
                        else round(last["reward"], 6), "last_status": last.get("status", OK)})
        return rec

    # ------------------------------------------------------------------ results
    def _final(self) -> list[dict[str, Any]]:
        if self.final is None:
            clean = self.cfg.mode == "clean"  # faithful: M samples, duplicates kept (see the module doc)
            self.final = self.topk(self.cfg.iters, distinct=clean, min_distinct=clean)
            if self.widths:  # the emitted child keeps the BN statistics its reward was measured with
                seed = mix_seed(self.cfg.seed, self.cfg.iters, 77) % 2**31  # topk()'s reward seed
                recalibrate_bn(self.g.child(self.final[0]["arch"]), self.cfg.latent, self.cfg.reward_images,
                               self.cfg.g_batch, mix_seed(seed, 79), self.device)
        return self.final

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        best = self._final()[0]
        nat = self.native(best["arch"])
        d = sngan_discriminator(df=self.cfg.df, size=self.size_at(self.stage), sn=True).network
        key = self.metric_key()
        return nat.network, d, dict(nat.encoding), {key: best[key], "reward": best["reward"],
                                                    **({"swd": best["swd"]} if best.get("swd") is not None else {}),
                                                    **({"diversity": best["diversity"]} if "diversity" in best else {})}

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        if self.reward_fn is None:
            return None
        return self.reward_fn.protocol(data, "one per child, derived from --seed and the step")

    def metric_key(self) -> str:
        """The stored name of the reward's metric: swd_real (x 1e3), fid or is."""
        return METRIC[self.cfg.reward].replace("-", "_")

    def health_summary(self) -> str:
        st = [r["status"] for r in self.rewards if r.get("status")]
        return (summary(st, "children rewarded by the controller") + f"; the final top-K sampling skipped "
                f"{len(self.unhealthy)} collapsed/diverged")

    def health_counts(self) -> dict[str, int]:
        """Collapsed / diverged children among the controller's and the final top-K's evaluations."""
        st = [r.get("status", OK) for r in self.rewards] + [u["status"] for u in self.unhealthy]
        return {b: st.count(b) for b in BAD}

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        """Every full-depth child the controller evaluated (last stage), and the final top-K."""
        from ..pareto import Candidate

        full = len(self._final()[0]["arch"])
        key = self.metric_key()  # the metric itself (one unit everywhere), not the derived reward
        evals = [(f"child-step{r['step']}", r["arch"], r.get(key), r["step"]) for r in self.rewards
                 if len(r["arch"]) == full and r.get("status", OK) == OK and r.get(key) is not None]
        evals += [(f"top{j + 1}", p["arch"], p[key], self.cfg.iters) for j, p in enumerate(self._final())]
        cands = [Candidate(n, self.native(a).network, float(r), st)
                 for n, a, r, st in evals]
        return cands, key, key == "is"

    def provenance_extra(self) -> dict[str, Any]:
        cfg = self.cfg
        stages = [{"stage": 0, "from_step": 0}] + [
            {"stage": e["stage"], "from_step": e["step"], "prefixes": [p["arch"] for p in e["topk"]]}
            for e in self.events if e["kind"] == "grow"]
        info = {**self._arch_record(self._final()[0]["arch"]), "reward": cfg.reward,
                "reward_definition": DESCRIPTION[cfg.reward],
                "mode": cfg.mode, "stages": stages, "resets": [e["step"] for e in self.events if e["kind"] == "reset"]}
        how = "--method random --space autogan" if self.uniform else f"--method autogan --mode {cfg.mode}"
        return {"notes": f"gcc-gan search {how} --preset {cfg.preset} --reward {cfg.reward}; "
                         f"{'random' if self.uniform else 'autogan'} search: {json.dumps(info, separators=(',', ':'))}",
                "search_cost": {"resets": float(self.n_resets), "reward_evals": float(self.n_evals),
                                **{f"children_{k}": float(v) for k, v in self.health_counts().items()}}}

    def _arch_record(self, tokens: list[int]) -> dict[str, Any]:
        """{"arch": the AutoGAN vector} (+ "widths": per-cell multipliers of gf when searched)."""
        arch, widths = split_tokens(tokens, self.widths)
        return {"arch": arch} if widths is None else {"arch": arch, "widths": widths}

    def write_outputs(self, out: Path) -> None:
        """topk.json, child.safetensors (the best child's shared weights, canonical layout) and
        controller.png."""
        from safetensors.torch import save

        from ...train.checkpoint import tensors_of
        from ..plots_reinforce import plot_controller

        final = self._final()
        doc = {"reward": self.cfg.reward, "reward_definition": DESCRIPTION[self.cfg.reward], "gf": self.cfg.gf,
               "latent": self.cfg.latent, "bottom": self.cfg.bottom,
               "metric": METRIC[self.cfg.reward], "health": self.health_counts(),
               "topk": [{**self._arch_record(p["arch"]), **{k: p[k] for k in (self.metric_key(), "reward", "swd",
                                                                              "diversity") if k in p}}
                        for p in final],
               "stages": [e for e in self.events if e["kind"] == "grow"],
               "resets": [e for e in self.events if e["kind"] != "grow"]}
        atomic_write_text(out / "topk.json", json.dumps(doc, indent=1) + "\n")
        child = self.g.child(final[0]["arch"])
        atomic_write_bytes(out / "child.safetensors", save(tensors_of(child), metadata={
            "format": "pt", **{k: json.dumps(v) for k, v in self._arch_record(final[0]["arch"]).items()},
            "searcher": "autogan"}))
        plot_controller(out / "history.jsonl", self.rewards, self.events, out / "controller.png")

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images of the best child with the shared weights (eval mode: shared BN statistics)."""
        child = self.g.child(self._final()[0]["arch"])
        was = child.training
        child.eval()
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(mix_seed(self.cfg.seed, 7)))
        try:
            out = child(z.to(self.device))
        finally:
            child.train(was)
        assert isinstance(out, Tensor)
        return out

