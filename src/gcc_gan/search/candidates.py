"""The candidate loop: any ask/tell strategy × any space with `sample`, candidates trained on
their own (evaluators/standalone.py), inside the one run loop (search/run.py).

One run-loop iteration is one round (a generation):

    archs = BudgetFilter(strategy).ask(population)   # over-budget ones redrawn, never trained
    results = evaluator.evaluate(new ones)           # executor jobs; repeats reuse their score
    strategy.tell(archs, results)

so `--iters` is the number of rounds (evolution: generations), `population` the candidates
per round and `candidate_iters` each one's training iterations. The run loop checkpoints
through the Searcher interface: the strategy's JSON state, every evaluated candidate
(architecture, score, health, compiled cost) and the budget filter's count in
`extra_state`; the best candidate's trained generator (and a strategy's controller) as
module tensors. A killed run resumes from the last round's checkpoint and repeats the
rounds after it exactly (the jobs are deterministic functions of their spec).

Results: genotype.json = the best-scoring healthy candidate (every evaluated candidate is
within the budget, and the best-scoring one is always on the front); pareto.csv /
pareto.png (search/pareto.py) every healthy candidate, score against compiled MACs, the
front highlighted; `--pareto K` the K best front members; candidates.csv every candidate
with its status; generator.safetensors the winner's trained weights. A collapsed or
diverged candidate is kept in candidates.csv with its status and nowhere else; with no
healthy candidate the run ends with `no_healthy_candidate`'s error.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..atomic import atomic_write_bytes, atomic_write_text
from ..genotype_dsl.model import Network
from ..seeding import mix_seed
from .base import Searcher
from .budget import BudgetFilter
from .config import SearchConfig
from .health import BAD, OK, no_healthy_candidate, summary
from .space import Space
from .strategy import Scored, Strategy

CSV_FIELDS = ["id", "round", "arch", "compiled_macs", "compiled_params", "metric", "score", "reward", "status",
              "reason"]


def space_class(name: str) -> type[Space]:
    from .registry import SPACES

    return SPACES.get(name)  # type: ignore[no-any-return]


def strategy_class(name: str) -> type[Strategy]:
    from .registry import STRATEGIES

    return STRATEGIES.get(name)  # type: ignore[no-any-return]


class CandidateSearcher(Searcher):
    settings = frozenset({"population", "candidate_iters", "executor", "address", "workers"})
    schedule = "candidates"

    def __init__(self, cfg: SearchConfig, device: torch.device, space: type[Space] | None = None,
                 strategy: type[Strategy] | None = None) -> None:
        super().__init__(cfg, device)
        self.space = (space or space_class(cfg.space))(cfg)
        self.strategy = (strategy or strategy_class(cfg.strategy))(
            self.space, cfg, mix_seed(cfg.seed, 4242))
        self.filter = BudgetFilter(self.strategy, self.space, cfg.budget)
        self.cands: list[dict[str, Any]] = []  # every evaluated candidate: id, round, arch, scored
        self._by_key: dict[str, int] = {}
        self.best: int | None = None  # index into cands of the best healthy candidate
        self.best_g: nn.Module | None = None  # its trained generator
        self.evaluator: Any = None
        self.data_spec: str | None = None
        self.console: Any = None
        self.inception_weights: str | None = None

    # --------------------------------------------------------------- run-loop hooks
    def bind_run(self, out: Path, data_spec: str, console: Any) -> None:
        self.data_spec, self.console = data_spec, console

    def preflight(self) -> None:
        """The FID / IS reward's Inception weights, before the run directory is made."""
        from .rewards import preflight_weights

        self.inception_weights = preflight_weights(self.cfg.reward, self.inception_weights)

    def bind_data(self, data: Any) -> None:
        from .evaluators.training import StandaloneEvaluator

        self.evaluator = StandaloneEvaluator(self.space, self.cfg, self.device, data, self.data_spec, self.console,
                                             self.inception_weights)

    def session(self) -> Any:
        """The evaluator's executor held across rounds (worker processes or Ray started once)."""
        assert self.evaluator is not None, "bind_data() first"
        return self.evaluator.session()

    def describe(self) -> str:
        cfg = self.cfg
        return (f"({cfg.preset} preset, {self.space.name} space, {cfg.iters} rounds x {cfg.population} candidates x "
                f"{cfg.candidate_iters} iterations, {self._objective()} loss, reward {cfg.reward})")

    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        assert self.evaluator is not None, "bind_data() first"
        archs = self.filter.ask(self.cfg.population)
        new = [a for k, a in {self.space.key(a): a for a in archs}.items() if k not in self._by_key]
        ids = [f"c{len(self.cands) + j:04d}" for j in range(len(new))]
        seeds = [mix_seed(self.cfg.seed, len(self.cands) + j, 11) for j in range(len(new))]
        recs = self.evaluator.evaluate(new, seeds, ids)
        for cid, a, rec in zip(ids, new, recs):
            cost = self.filter.cost(a)
            sc = Scored(reward=-math.inf if rec.get("reward") is None else float(rec["reward"]),
                        metric=rec.get("metric") or "", value=rec.get("score"), status=rec.get("status", "failed"),
                        reason=rec.get("reason") or "", macs=int(cost.macs), params=int(cost.params),
                        diversity=rec.get("diversity"),
                        iters=int(rec.get("iters") or 0))
            self._by_key[self.space.key(a)] = len(self.cands)
            self.cands.append({"id": cid, "round": self.round_of(s), "arch": a, "scored": sc})
            if self.best_index() == len(self.cands) - 1:  # a new best: keep its trained generator
                self.best = len(self.cands) - 1
                self._load_best(rec["g_weights"])
        results = [self.cands[self._by_key[self.space.key(a)]]["scored"] for a in archs]
        self.strategy.tell(archs, results)
        out = {"candidates": float(len(self.cands)), "over_budget": float(self.filter.rejected)}
        if self.best is not None:
            out["reward"] = float(self.cands[self.best]["scored"].reward)
        return out

    @classmethod
    def build(cls, cfg: SearchConfig, device: torch.device, space: Any, strategy: Any) -> Searcher:
        return cls(cfg, device, space, strategy)

    def round_of(self, s: int) -> int:
        """The round (generation) run-loop step `s` runs, from 1."""
        return s + 1

    def _load_best(self, blob: bytes | None) -> None:
        from ..compiler.interpreter import Interpreter
        from .evaluators.training import load_bytes

        assert self.best is not None
        g = Interpreter(self.space.train_pair(self.cands[self.best]["arch"])[0])
        if blob is not None:
            g.load_state_dict(load_bytes(blob))
        self.best_g = g.to(self.device).eval()

    def modules(self) -> dict[str, nn.Module]:
        mods = {f"strategy.{k}": m for k, m in self.strategy.modules().items()}
        return {**mods, **({"best_g": self.best_g} if self.best_g is not None else {})}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {f"strategy.{k}": o for k, o in self.strategy.optimizers().items()}

    def extra_state(self) -> dict[str, Any]:
        return {"strategy": self.strategy.state_dict(), "filter": self.filter.state_dict(), "best": self.best,
                "candidates": [{**c, "scored": c["scored"].to_json()} for c in self.cands]}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.strategy.load_state_dict(state["strategy"])
        self.filter.load_state_dict(state["filter"])
        self.cands = [{**c, "scored": Scored.from_json(c["scored"])} for c in state["candidates"]]
        self._by_key = {self.space.key(c["arch"]): i for i, c in enumerate(self.cands)}
        self.best = state["best"]
        self.best_g = None
        if self.best is not None:
            self._load_best(None)  # the module; its weights are loaded from the checkpoint next

    def log_extra(self) -> dict[str, Any]:
        return {"best": None if self.best is None else self.cands[self.best]["id"],
                "status": [c["scored"].status for c in self.cands]}

    # --------------------------------------------------------------- results
    def best_index(self) -> int | None:
        """The healthy candidate with the highest reward (ties: the first evaluated); a collapsed
        or diverged one never, whatever its metric read."""
        ok = [i for i, c in enumerate(self.cands) if c["scored"].ok]
        return max(ok, key=lambda i: (self.cands[i]["scored"].reward, -i)) if ok else None

    def _winner(self) -> dict[str, Any]:
        if self.best is None:
            raise no_healthy_candidate([c["scored"].status for c in self.cands], "candidates",
                                       "try another --seed, more --candidate-iters, or a larger population")
        return self.cands[self.best]

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        win = self._winner()
        g, d, enc = self.space.to_genotype(win["arch"])
        sc: Scored = win["scored"]
        enc = {**enc, "candidate_search": {
            "space": self.space.name, "strategy": self.strategy.name, "kept": win["id"], "arch": win["arch"],
            "candidates": len(self.cands), "over_budget_redrawn": self.filter.rejected,
            "health": {b: sum(c["scored"].status == b for c in self.cands) for b in BAD},
            "score": f"{sc.metric} ({'higher' if sc.metric == 'is' else 'lower'} is better), {self.score_note()}"}}
        key = sc.metric.replace("-", "_")
        metrics = {key: float(sc.value or 0.0), "reward": sc.reward}
        if sc.diversity is not None:
            metrics["diversity"] = float(sc.diversity)
        return g, d, enc, metrics

    def score_note(self) -> str:
        """How each candidate was scored, for the genotype's record."""
        return f"{self.cfg.reward_images} images, after {self.cfg.candidate_iters} iterations each"

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        return None if self.evaluator is None else self.evaluator.protocol(data)

    def health_summary(self) -> str:
        return summary([c["scored"].status for c in self.cands])

    def kept_health(self) -> dict[str, Any]:
        """The winner was health-checked when it was scored (its samples' diversity)."""
        return {"status": OK, "diversity": self._winner()["scored"].diversity}

    def provenance_extra(self) -> dict[str, Any]:
        cfg = self.cfg
        iters = sum(c["scored"].iters for c in self.cands)
        return {"search_cost": {"candidate_iters": float(iters), "candidates": float(len(self.cands)),
                                "over_budget_redrawn": float(self.filter.rejected)},
                "notes": f"gcc-gan search --space {self.space.name} --strategy {self.strategy.name} --preset "
                         f"{cfg.preset} --reward {cfg.reward} (population {cfg.population}, {cfg.iters} rounds, "
                         f"{cfg.candidate_iters} iterations per candidate, {self._objective()} loss)"}

    def _objective(self) -> str:
        return self.evaluator.objective if self.evaluator is not None else (self.cfg.objective or self.space.objective)

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        """Every healthy candidate (score: its metric in its own unit; collapsed / diverged never listed)."""
        from .pareto import Candidate

        ok = [c for c in self.cands if c["scored"].ok]
        metric = ok[0]["scored"].metric if ok else "score"
        return ([Candidate(c["id"], self.space.to_genotype(c["arch"])[0], float(c["scored"].value), c["round"],
                           c["scored"].macs, c["scored"].params) for c in ok],
                metric.replace("-", "_"), metric == "is")

    def write_outputs(self, out: Path) -> None:
        """candidates.csv (every candidate, with its status) and the winner's generator.safetensors."""
        from .evaluators.training import weights_bytes

        buf = io.StringIO()
        w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for c in self.cands:
            sc: Scored = c["scored"]
            w.writerow({"id": c["id"], "round": c["round"], "arch": self.space.describe(c["arch"]),
                        "compiled_macs": sc.macs, "compiled_params": sc.params, "metric": sc.metric,
                        "score": "" if sc.value is None else f"{sc.value:.6g}",
                        "reward": "" if not math.isfinite(sc.reward) else f"{sc.reward:.6g}", "status": sc.status,
                        "reason": sc.reason})
        atomic_write_text(out / "candidates.csv", buf.getvalue())
        from .plots import _save, candidates_figure

        metric = self._winner()["scored"].metric
        unit = " ×1e3" if metric.startswith("swd") else ""
        _save(candidates_figure([{"scores": [c["scored"].value if c["scored"].ok else 0.0 for c in self.cands],
                                  "status": [c["scored"].status for c in self.cands]}],
                                title=f"{self.strategy.name} search candidates ({self.space.name} space)",
                                ylabel=f"{metric}{unit} ({'higher' if metric == 'is' else 'lower'} is better)",
                                kept=self.best), out / "candidates.png")
        if self.best_g is not None:
            atomic_write_bytes(out / "generator.safetensors", weights_bytes(self.best_g.state_dict()))

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images of the winner's trained generator."""
        self._winner()
        assert self.best_g is not None
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(mix_seed(self.cfg.seed, 7)))
        return self.best_g(z.to(self.device)).clamp(-1, 1)
