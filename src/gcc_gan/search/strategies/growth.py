"""DGGAN's Algorithm 1, top-K greedy pruning (notes §2.3, §2.6), and random search in its space.

Each step, every (parent, action) pair is kept with probability p (none kept: one action per
parent, notes §2.6.3); each child trains from its parent's weights (WGAN-GP, drift term,
ProgGAN fade-in for FADE) as an independent executor job, and is scored (FID, or the
explicit SWD proxy). Scores are normalised per resolution by the step's median at that
resolution (§2.6.1); the top K children become the parents (parents never survive). When
the remaining steps equal the remaining doublings, only FADE is allowed (§2.6.2); the
emitted candidate is the best one at the target resolution.

Under a compute budget (`--max-macs / --max-params / --max-latency`, issue 16) the search
prunes by reachability (`Reach`): a child is admitted only when its cheapest completion —
the child plus the remaining FADEs at the narrowest FADE width, priced by the compiler's
cost model on the IR, without training — fits the budget, so every trained state can still
reach the target within it and the search never walks into a dead end. A drawn pair that
fails is recorded as 'over budget' (never trained). A FADE takes the widest width of
`fade_widths` whose child stays completable: the paper's width whenever the budget allows,
a narrower G block only where it must (the one extension of the paper's space; without a
budget the search is the paper's, draw for draw).

Random search in this space is the random strategy in the candidate loop (`--space dggan
--strategy random`, search/candidates.py): each candidate one whole route of allowed actions.

RUN/
  search.json, history.jsonl (one line per finished candidate and per step)
  checkpoints/step-N/        the search state (tree, parents, scores, finished children and
                             the sha256 of their weights), checkpointed after every candidate
  candidates/<id>/           each candidate's settled genotype.json and weights.safetensors
  genotype.json, generator.safetensors, discriminator.safetensors   the winner
  candidates.csv, growth_tree.png, score_vs_ratio.png, score_by_action.png, samples.png
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import nn

from ...atomic import atomic_write_bytes, atomic_write_text
from ...bench.budget import Budget
from ...compiler.cost import Cost
from ...errors import GccGanError
from ...genotype_dsl.model import Genotype, Network, Provenance
from ...seeding import mix_seed
from ..base import Searcher
from ..config import SearchConfig
from ..evaluators.training import dataset, split_weights, weights_bytes
from ..health import OK, no_healthy_candidate, summary
from ..registry import register_strategy
from ..space import Need
from ..spaces.dggan import (
    FADE,
    Action,
    FadeNet,
    actions,
    base_pair,
    cheapest_completion,
    doublings,
    fade_widths,
    grow,
    net_cost,
    resolution,
    settle,
)

STATE_FORMAT = 1
CSV_FIELDS = ["id", "parent", "action", "step", "resolution", "g_params", "d_params", "g_macs", "d_macs",
              "metric", "score", "norm_score", "swd", "diversity", "status", "reason"]


# --------------------------------------------------------------------------- one candidate (a job)

def train_candidate(spec: dict[str, Any]) -> dict[str, Any]:
    """One DGGAN child: the standalone evaluator's job (evaluators/training.py `train_pair`)
    with ProgGAN's recipe (WGAN-GP with the drift term, Adam betas (0, 0.99), fade-in from the
    parent's weights), writing its settled genotype and weights under spec['dir']; its record
    adds the settled pair's sizes. A deterministic function of `spec`: local and Ray give the
    same bytes."""
    from ..evaluators.training import train_pair

    g_net, d_net = Network.model_validate(spec["g"]), Network.model_validate(spec["d"])
    res = resolution(d_net)
    rec = train_pair({**spec, "loss": "wgan-gp", "beta1": 0.0, "beta2": 0.99, "resolution": res})
    rec.pop("reward", None)  # DGGAN ranks by the score (lower is better), normalised per resolution
    (gp, gm), (dp, dm) = net_cost(settle(g_net)), net_cost(settle(d_net))
    return {**rec, "g_params": gp, "g_macs": gm, "d_params": dp, "d_macs": dm, "resolution": res}


# --------------------------------------------------------------------------- the search


def allowed(acts: list[Action], res: int, target: int, remaining: int) -> list[Action]:
    """The actions a parent at `res` may take with `remaining` steps left (notes §2.6.2)."""
    left = doublings(res, target)
    if left >= remaining:
        return [FADE]  # the remaining steps are all needed to reach the target
    return [a for a in acts if a.kind != "FADE" or left > 0]


Admit = Callable[[str, Action], tuple[Action | None, Cost]]  # (parent, action) → admitted action or None


class Reach:
    """Reachability pruning under a budget: a state is kept only when its cheapest completion
    (`cheapest_completion`: the remaining FADEs at the narrowest FADE width) compiles within
    the budget. Priced by the compiler's cost model on the IR (`Budget.cost`), no training."""

    def __init__(self, budget: Budget, target: int, channels: int, filters: tuple[int, ...]) -> None:
        self.budget, self.target, self.channels = budget, target, channels
        self.widths = fade_widths(channels, filters)

    def completion(self, g: Network) -> Cost:
        return self.budget.cost(cheapest_completion(g, self.target, self.widths[-1]))

    def admit(self, g: Network, d: Network, a: Action) -> tuple[Action | None, Cost]:
        """The action as admitted (a FADE with the widest width that stays completable) and
        the child's completion cost, or None and the cheapest completion cost seen."""
        options = [a] if a.kind != "FADE" else [FADE if w == self.channels else Action("FADE", 0, w)
                                                 for w in self.widths]
        cost: Cost | None = None
        for b in options:
            cost = self.completion(grow(g, d, b, self.channels)[0])
            if self.budget.fits(cost):
                return b, cost
        assert cost is not None
        return None, cost


def plan_children(state: dict[str, Any], cfg: SearchConfig, acts: list[Action],
                  admit: Admit | None = None) -> list[dict[str, Any]]:
    """The step's children, a pure function of (seed, step, parents) — and, under a budget,
    of `admit` (the reachability pruning): a drawn pair it rejects is planned as an 'over
    budget' child (recorded, never trained); the empty-set rule draws among
    admissible actions only. Ids and seeds follow the draw order, so without rejections the
    plan is the unbudgeted one."""
    s = state["step"]
    rng = np.random.default_rng(mix_seed(cfg.seed, s, 7))
    remaining = cfg.max_steps - s
    nodes = state["nodes"]
    seen: dict[tuple[str, Action], tuple[Action | None, Cost | None]] = {}

    def ok(p: str, a: Action) -> tuple[Action | None, Cost | None]:
        if admit is None:
            return a, None
        if (p, a) not in seen:
            seen[(p, a)] = admit(p, a)
        return seen[(p, a)]

    def options(p: str, al: list[Action]) -> list[tuple[Action, Cost | None]]:
        return [(b, c) for b, c in (ok(p, a) for a in al) if b is not None]

    per = [(p, allowed(acts, nodes[p]["resolution"], cfg.target, remaining)) for p in state["parents"]]
    planned: list[tuple[str, Action, Cost | None, bool]] = []  # (parent, action, completion cost, admitted)
    draws = rng.random(sum(len(a) for _, a in per))
    drawn = [pa for pa, x in zip(((p, a) for p, al in per for a in al), draws) if x < cfg.dg_p]
    for p, a in drawn:
        b, c = ok(p, a)
        planned.append((p, a if b is None else b, c, b is not None))
    if not any(adm for *_, adm in planned):  # notes §2.6.3: no pair kept, so one action per parent
        for p, al in per:
            opts = options(p, al)
            if opts:
                b, c = opts[int(rng.integers(len(opts)))]
                planned.append((p, b, c, True))
        state.setdefault("resampled", []).append(s)
    out = []
    for j, (p, a, c, adm) in enumerate(planned):
        child: dict[str, Any] = {"id": f"s{s + 1}-{j:03d}", "parent": p, "action": a.to_dict(), "step": s + 1,
                                 "seed": mix_seed(cfg.seed, s + 1, j)}
        if c is not None:  # under a budget: the compiled MACs of the child's cheapest completion
            child["completion_macs"] = c.macs
            if not adm:
                child["status"] = "over budget"
        out.append(child)
    return out


def healthy(r: dict[str, Any]) -> bool:
    """A trained candidate with a score that is neither diverged nor collapsed (search/health.py)."""
    return r.get("status", "ok") == OK and r.get("score") is not None


def normalise(records: list[dict[str, Any]]) -> None:
    """norm_score = score / median score of the step's healthy children at that resolution
    (notes §2.6.1); none for an unhealthy child, which never ranks."""
    by_res: dict[int, list[float]] = {}
    for r in records:
        if healthy(r):
            by_res.setdefault(r["resolution"], []).append(r["score"])
    for r in records:
        sc = r.get("score")
        med = statistics.median(by_res[r["resolution"]]) if healthy(r) else None
        r["norm_score"] = None if med is None else (sc / med if med else sc)


def select(records: list[dict[str, Any]], k: int) -> list[str]:
    """The K best healthy children by normalised score (ties by id): the next parents."""
    ok = [r for r in records if r.get("norm_score") is not None]
    ok.sort(key=lambda r: (r["norm_score"], r["id"]))
    return [r["id"] for r in ok[:k]]


class GrowthSearcher(Searcher):
    settings = frozenset({"dg_k", "dg_p", "executor", "address", "workers"})
    """DGGAN's top-K growth as a run-loop searcher: one loop
    step is one growth step (the base candidate trains in the first); the children of a step
    are executor jobs, the search state is checkpointed after every finished child."""

    reads_data = False  # the jobs read the data themselves
    own_progress = True  # the executor's, per step

    def __init__(self, cfg: SearchConfig, device: Any) -> None:
        super().__init__(cfg, device)
        self.acts = actions(cfg.dg_kernels, cfg.dg_filters)
        self.reach = Reach(cfg.budget, cfg.target, cfg.dg_channels, cfg.dg_filters) if cfg.budget.active else None
        self.inception_weights: str | None = None
        self.events = 0
        self.state: dict[str, Any] = self.fresh_state()
        self.resumed_from: int | None = None  # the step a --resume continued from
        self.ex: Any = None  # the executor, while the loop holds `session()`
        self.out, self.data_spec, self.console = Path("."), "", Console(quiet=True)

    def bind_run(self, out: Path, data_spec: str, console: Any) -> None:
        self.out, self.data_spec, self.console = out, data_spec, console

    def steps(self) -> int:
        return self.cfg.max_steps

    def describe(self) -> str:
        cfg = self.cfg
        what = f"top-K growth, K {cfg.dg_k}, p {cfg.dg_p}"
        return (f"({cfg.preset} preset, dggan space, {what}, {cfg.d0}×{cfg.d0} → {cfg.target}×{cfg.target} in "
                f"{cfg.max_steps} steps, reward {cfg.reward}, {cfg.executor} executor)")

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        from ..evaluators.training import job_executor

        ex = job_executor(self.cfg, self.console)  # one local worker: in this process, as the candidate loop's
        with ex.session():
            self.ex = ex
            try:
                yield
            finally:
                self.ex = None

    def history_record(self, step: int, losses: dict[str, float], elapsed: float) -> dict[str, Any] | None:
        return None  # one line per finished candidate and per step, written as they happen (`log`)

    def checkpoint_due(self, step: int) -> bool:
        return False  # checkpointed after every finished candidate and every step (`save`)

    def resumed_step(self, seq: int, state: dict[str, Any]) -> int:
        return int(self.state["step"])

    def modules(self) -> dict[str, nn.Module]:
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    def preflight(self) -> None:
        """Fail before any training (and in this process) when the FID weights are missing or
        no network within the budget reaches the target."""
        self.check_base()
        from ..rewards import preflight_weights

        self.inception_weights = preflight_weights(self.cfg.reward, self.inception_weights)

    # ---------------------------------------------------------------- state
    def fresh_state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "step": 0, "nodes": {}, "parents": [], "planned": [], "events": 0}

    def save(self) -> None:
        self.state["events"] = self.events = self.events + 1
        self.checkpoint(self.events, int(self.state["step"]))

    def extra_state(self) -> dict[str, Any]:
        return {"search": self.state}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        st = extra["search"]
        if st.get("format") != STATE_FORMAT:
            raise ValueError(f"search state format {st.get('format')!r}")
        # a child whose weights are missing or damaged is trained again
        for cid, n in list(st["nodes"].items()):
            if n.get("status") in ("failed", "over budget"):  # nothing was trained
                continue
            f = self.out / "candidates" / cid / "weights.safetensors"
            if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != n["sha256"]:
                self.console.print(f"warning: {f} is missing or damaged; {cid} is trained again",
                                   highlight=False, markup=False)
                del st["nodes"][cid]
        self.state, self.events, self.resumed_from = st, int(st["events"]), int(st["step"])

    def log(self, rec: dict[str, Any]) -> None:
        with open(self.out / "history.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")

    # ---------------------------------------------------------------- jobs
    def job_spec(self, c: dict[str, Any], g: Network, d: Network, iters: int) -> dict[str, Any]:
        cfg = self.cfg
        parent = c.get("parent")
        return {"id": c["id"], "g": g.model_dump(mode="json", exclude_none=True),
                "d": d.model_dump(mode="json", exclude_none=True),
                "parent_weights": str(self.out / "candidates" / parent / "weights.safetensors") if parent else None,
                "dir": str(self.out / "candidates" / c["id"]), "seed": c["seed"], "iters": iters,
                "latent": cfg.latent, "batch_size": cfg.batch_size, "lr": cfg.dg_lr, "gp_weight": cfg.gp_weight,
                "drift": cfg.drift, "fade_share": cfg.fade_share, "equalized_lr": cfg.equalized_lr, "data": self.data_spec, "size": cfg.target,
                "reward": cfg.reward, "reward_images": cfg.reward_images, "device": str(self.device), "reward_seed": cfg.seed % 2**32, "inception_weights": self.inception_weights,
                "min_diversity": cfg.min_diversity}

    def networks(self, cid: str) -> tuple[Network, Network]:
        geno = Genotype.model_validate_json((self.out / "candidates" / cid / "genotype.json").read_text())
        assert geno.generator is not None and geno.discriminator is not None
        return geno.generator, geno.discriminator

    def admit(self) -> Admit | None:
        """The reachability pruning for `plan_children` (None without a budget)."""
        reach = self.reach
        if reach is None:
            return None
        nets: dict[str, tuple[Network, Network]] = {}

        def admit(p: str, a: Action) -> tuple[Action | None, Cost]:
            if p not in nets:
                nets[p] = self.networks(p)
            return reach.admit(*nets[p], a)
        return admit

    def check_base(self) -> None:
        """Under a budget, fail before any training when even the cheapest network that reaches
        the target (the base plus the FADEs at the narrowest width) is over it."""
        if self.reach is None:
            return
        cfg = self.cfg
        g, _ = base_pair(cfg.d0, cfg.dg_channels, cfg.latent)
        c = self.reach.completion(g)
        if not cfg.budget.fits(c):
            n = doublings(cfg.d0, cfg.target)
            raise GccGanError(
                f"no network in the DGGAN space reaches {cfg.target}x{cfg.target} within the budget "
                f"({cfg.budget.describe()}): the cheapest, the base plus {n} FADE(s) with {self.reach.widths[-1]}-wide "
                f"G blocks, compiles to {c.macs:,} MACs, {c.params:,} params")

    def run_jobs(self, planned: list[dict[str, Any]], executor: Any, label: str) -> None:
        from ...executor.base import Job

        todo = [c for c in planned if c["id"] not in self.state["nodes"]]
        jobs = []
        for c in todo:
            if c.get("status") == "over budget":  # the plan's reachability pruning: discarded before training
                self.state["nodes"][c["id"]] = {**c, "score": None, "resolution": None, "iters": 0, "sha256": None}
                self.log({"event": "candidate", "id": c["id"], "parent": c.get("parent"), "step": c["step"],
                          "action": Action.from_dict(c["action"]).label, "status": "over budget",
                          "completion_macs": c["completion_macs"]})
                continue
            if c.get("parent"):
                g, d = grow(*self.networks(c["parent"]), Action.from_dict(c["action"]), self.cfg.dg_channels)
                iters = self.cfg.child_iters
            else:
                g, d = base_pair(self.cfg.d0, self.cfg.dg_channels, self.cfg.latent)
                iters = self.cfg.init_iters
            jobs.append(Job(c["id"], train_candidate, (self.job_spec(c, g, d, iters),), threads=1))
        by_id = {c["id"]: c for c in todo}

        def done(r: Any) -> None:
            c = by_id[r.key]
            if not r.ok:
                rec = {**c, "status": "failed", "error": r.error, "score": None, "resolution": None,
                       "iters": 0, "sha256": None}
            else:
                rec = {**c, **r.value, "attempts": r.attempts}
            self.state["nodes"][c["id"]] = rec
            self.log({"event": "candidate", **{k: rec.get(k) for k in ("id", "parent", "step", "resolution", "metric",
                                                                         "score", "swd", "diversity", "status",
                                                                         "reason", "wall_s")},
                      "action": Action.from_dict(c["action"]).label if c.get("action") else "base"})
            self.save()

        executor.run(jobs, on_result=done, progress=self.console.is_terminal, label=label)

    # ---------------------------------------------------------------- one step
    def _base(self) -> None:
        """The base candidate, trained once (in the first step), which everything grows from."""
        cfg = self.cfg
        base = {"id": "c0", "parent": None, "action": None, "step": 0, "seed": mix_seed(cfg.seed, 0, 0)}
        if "c0" not in self.state["nodes"]:
            self.run_jobs([base], self.ex, "base")
        c0 = self.state["nodes"]["c0"]
        if not healthy(c0):
            if c0.get("status") == "failed":
                raise GccGanError(f"the base candidate failed ({c0.get('error')})")
            raise no_healthy_candidate([c0["status"]], "candidates (the base)",
                                       f"the base candidate is {c0['status']} ({c0.get('reason')}), so nothing can "
                                       "grow from it: try another --seed or more base iterations")
        if not self.state["parents"] and self.state["step"] == 0:
            self.state["parents"] = ["c0"]

    def step(self, s_: int, batch: Any) -> dict[str, float]:
        """One growth step: plan the children of the parents, train them, keep the best."""
        cfg, ex = self.cfg, self.ex
        self._base()
        if self.state["step"] >= cfg.max_steps:  # the search ended early (no child fits the budget)
            return {}
        if not self.state["planned"]:
            self.state["planned"] = plan_children(self.state, cfg, self.acts, self.admit())
            self.save()
        planned = self.state["planned"]
        s = self.state["step"] + 1
        if all(c.get("status") == "over budget" for c in planned):
            # under a budget, every parent is at the target and none can grow within it
            # (below the target a FADE always can: pruning keeps only completable states)
            self.run_jobs(planned, ex, f"step {s}")
            self.console.print(f"step {s}/{cfg.max_steps}: no child of the parents fits the budget; the search "
                               "ends here", highlight=False)
            self.log({"event": "step", "step": s, "children": len(planned), "parents": [], "ended": True})
            self.state.update(step=cfg.max_steps, planned=[])
            self.save()
            return {}
        self.console.print(f"step {s}/{cfg.max_steps}: {len(planned)} children of {len(set(self.state['parents']))} "
                           "parent(s)", highlight=False)
        self.run_jobs(planned, ex, f"step {s}")
        recs = [self.state["nodes"][c["id"]] for c in planned]
        normalise(recs)
        parents = select(recs, cfg.dg_k)
        if not parents:
            over = ", or was over the budget" if self.cfg.budget.active else ""
            raise no_healthy_candidate([r.get("status", "?") for r in recs], f"children at step {s}",
                                       f"every child failed, diverged or collapsed{over}, so nothing can grow: "
                                       "try another --seed or --reward")
        self.log({"event": "step", "step": s, "children": len(recs), "parents": parents,
                  "best_norm": min((r["norm_score"] for r in recs if r["norm_score"] is not None), default=None)})
        self.state.update(step=s, parents=parents, planned=[])
        self.save()
        return {}

    # ---------------------------------------------------------------- results
    def winner(self) -> dict[str, Any]:
        at = [n for n in self.state["nodes"].values() if n.get("resolution") == self.cfg.target and healthy(n)]
        if not at:
            within = f" within the budget ({self.cfg.budget.describe()})" if self.cfg.budget.active else ""
            reached = [n.get("status", "?") for n in self.state["nodes"].values()
                       if n.get("resolution") == self.cfg.target]
            raise no_healthy_candidate(reached, f"candidates at {self.cfg.target}x{self.cfg.target}{within}",
                                       "try another --seed or --reward, or more candidate iterations")
        return min(at, key=lambda n: (n["score"], n["id"]))

    def route(self, cid: str) -> list[str]:
        out = []
        while cid:
            out.append(cid)
            cid = self.state["nodes"][cid].get("parent")
        return out[::-1]

    def pareto_candidates(self, out: Path) -> tuple[list[Any], str, bool]:
        """Every trained candidate at the target resolution (the ones a route can end with),
        scored by its raw reward (lower is better): see search/pareto.py."""
        from ..pareto import Candidate

        at = sorted((n for n in self.state["nodes"].values() if n.get("resolution") == self.cfg.target
                     and healthy(n)), key=lambda n: n["id"])
        metric = metric_name(self.cfg.reward).replace("-", "_")
        return [Candidate(n["id"], self.networks(n["id"])[0], float(n["score"]), int(n["step"])) for n in at], metric, False

    def cost_iters(self) -> int:
        return sum(int(n.get("iters") or 0) for n in self.state["nodes"].values())

    def _statuses(self) -> list[str]:
        return [n.get("status", "?") for n in self.state["nodes"].values()]

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        """The winner: the best healthy candidate at the target resolution, and its route."""
        cfg, st = self.cfg, self.state
        best = self.winner()
        route = self.route(best["id"])
        g, d = self.networks(best["id"])
        enc = {"format": "dggan", "route": route, "actions": [Action.from_dict(st["nodes"][c]["action"]).label
                                                                for c in route[1:]],
               "k": cfg.dg_k, "p": cfg.dg_p, "policy": "topk",
               "routes": None,  # the encoding's format (random routes now search in the candidate loop)
               "reward": cfg.reward, "reward_kind": "FID (Inception)" if cfg.reward == "fid"
               else "swd-real x 1e3 (explicit proxy, no Inception weights; lower is better)",
               "health": summary(self._statuses()), "d0": cfg.d0, "target": cfg.target, "max_steps": cfg.max_steps,
               # under a budget: the G-block widths a FADE could take (widest that stays completable)
               **({"fade_widths": self.reach.widths} if self.reach is not None else {})}
        metrics = {metric_name(cfg.reward).replace("-", "_"): float(best["score"]),
                   **({"swd": float(best["swd"])} if best.get("swd") is not None else {}),
                   **({"diversity": float(best["diversity"])} if best.get("diversity") is not None else {})}
        return g, d, enc, metrics

    def health_summary(self) -> str | None:
        return summary(self._statuses())

    def kept_health(self) -> dict[str, Any] | None:
        return {"status": OK, "diversity": self.winner().get("diversity")}  # each child checked as it was scored

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        from ..rewards import reward_protocol

        cfg = self.cfg
        return reward_protocol(cfg.reward, cfg.reward_images, min(cfg.reward_images, len(dataset(data, cfg.target))),
                               data, cfg.seed % 2**32, self.inception_weights)

    def provenance_extra(self) -> dict[str, Any]:
        statuses = self._statuses()
        return {"search_cost": {"candidate_iters": float(self.cost_iters()), "candidates": float(len(statuses)),
                                **{f"candidates_{k}": float(statuses.count(k)) for k in ("diverged", "collapsed")}}}

    def provenance(self, prov: Provenance) -> Provenance:
        """Candidate-iterations, not loop iterations, are a growth search's cost."""
        cfg = self.cfg
        notes = (f"gcc-gan search --method {cfg.method}" + (" --space dggan" if cfg.method == "random" else "")
                 + f" --preset {cfg.preset} --k {cfg.dg_k} --p {cfg.dg_p} --reward {cfg.reward}")
        return prov.model_copy(update={
            "searcher": cfg.method,
            "search_cost": {k: v for k, v in prov.search_cost.items() if k != "iters"},
            "notes": notes + (f" ({cfg.budget.describe()})" if cfg.budget.active else "")})

    def result_name(self) -> str:
        return f"dggan-search-seed{self.cfg.seed}"

    def _winner_weights(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        from safetensors.torch import load_file

        return split_weights(load_file(str(self.out / "candidates" / self.winner()["id"] / "weights.safetensors")))

    def write_outputs(self, out: Path) -> None:
        """The winner's weights, candidates.csv, the growth tree and the paper's analyses."""
        from ..plots_growth import plot_analysis, plot_tree

        wg, wd = self._winner_weights()
        atomic_write_bytes(out / "generator.safetensors", weights_bytes(wg))
        atomic_write_bytes(out / "discriminator.safetensors", weights_bytes(wd))
        nodes = sorted(self.state["nodes"].values(), key=lambda n: (n["step"], n["id"]))
        write_csv(out / "candidates.csv", nodes)
        metric = metric_name(self.cfg.reward)
        plot_tree(nodes, set(self.route(self.winner()["id"])), out / "growth_tree.png", metric)
        plot_analysis(nodes, out, metric)

    @torch.no_grad()
    def samples(self, n: int) -> torch.Tensor:
        gen = FadeNet(self.networks(self.winner()["id"])[0])
        gen.load_state_dict(self._winner_weights()[0], strict=True)
        z = torch.randn(n, self.cfg.latent, generator=torch.Generator().manual_seed(self.cfg.seed))
        return gen.eval()(z).clamp(-1, 1)  # type: ignore[no-any-return]


def metric_name(reward: str) -> str:
    from ..rewards import METRIC

    return METRIC[reward]


def write_csv(path: Path, nodes: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for n in nodes:
        act = Action.from_dict(n["action"]).label if n.get("action") else "base"
        w.writerow({**{k: n.get(k) for k in CSV_FIELDS}, "action": act, "parent": n.get("parent") or "",
                    **{k: "" if n.get(k) is None else f"{n[k]:.6g}" for k in ("score", "norm_score", "swd", "diversity")},
                    "reason": n.get("reason") or n.get("error") or ""})
    atomic_write_text(path, buf.getvalue())


@register_strategy("growth")
class Growth:
    """DGGAN's top-K greedy growth: children trained on their own from their parent's weights."""

    needs = frozenset({"grow"})
    evaluator = "standalone"

    @classmethod
    def searcher_class(cls, space: Any, evaluator: str) -> type[Searcher]:
        return GrowthSearcher

    @classmethod
    def check_config(cls, cfg: SearchConfig, need: Need) -> None:
        need("dg_k", cfg.dg_k >= 1, f"--k {cfg.dg_k}: must be at least 1")
        need("dg_p", 0 < cfg.dg_p <= 1, f"--p {cfg.dg_p}: must be in (0, 1]")
        need("init_iters", cfg.init_iters >= 1 and cfg.child_iters >= 1, "candidate iterations must be at least 1")
        need("fade_share", 0 < cfg.fade_share <= 1, f"fade share {cfg.fade_share}: must be in (0, 1]")

