"""Compiler-aware search: budgets on the compiled generator (`compiler.cost`).

Every searcher uses one of three hooks:

* `admit(budget, net)` — discard-before-training (random search, AutoGAN candidates): the
  compiled cost, and whether it fits (DGGAN admits a child by the cost of its cheapest
  completion to the target instead: `strategies/growth.py`, `Reach`);
* `ArchPenalty` (over `ExpectedCost`) — the differentiable strategy (AdversarialNAS, DEGAS):
  the expected compiled cost under the architecture distribution of a space's `Relaxation`
  as a function of α, and the Lagrangian penalty added to G's architecture loss;
* `repair(...)` (`repair_relaxed` for a relaxation) — derive only architectures within
  budget: greedy next-cheaper-op repair;
* `BudgetFilter` — any ask/tell strategy (search/candidates.py): an over-budget proposal is
  dropped and re-asked (counted, never trained), built on `admit`;
* `space_floor(cfg)` / `refuse_unreachable` — a limit below a sound lower bound of every
  architecture the space derives is refused before anything is loaded or trained.

The expected cost is *context-aware*: the candidate costs of an edge are measured by
compiling the current architecture a* (the derivation of the current α) with only that
edge's op swapped, so an op is charged what it costs after the passes *in its place*
(a 3×3 conv reading a nearest-upsampled map is charged its sub-pixel form, one reading a
bilinear map is not). With p = softmax(α) per edge,

    E[cost](α) = C(a*) + Σ_e Σ_i p_e,i · (C(a*[e ← i]) − C(a*)),

exactly C(a) when α is one-hot at a (then a* = a), and its gradient w.r.t. α_e is the
softmax-weighted deviation of edge e's in-context costs from their mean, i.e. it moves
probability to cheaper ops. The table is compiled only when a* changes (cached per a*; the
cost model itself caches per network), so a step that keeps a* costs one build of a*. A swap
that would make the architecture invalid is charged C(a*) (no gradient through it).

Penalty (a Lagrangian with dual ascent, not a fixed FBNet-style weight): for each limited
quantity q ∈ {MACs, params} with limit M_q, G's architecture loss gets
λ_q · (E[q] / M_q − 1), and after every step λ_q ← max(0, λ_q + η (E[q] / M_q − 1)), from
λ_q = 0: the multiplier grows while the expected architecture is over budget and decays to
zero once it is within (then quality alone drives α; a budget never exceeded changes nothing). Latency is not differentiable here; it is
enforced by the derivation (measured on the backend) and by discarding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..bench.budget import Budget
from ..compiler.cost import Cost, compiled_cost
from ..errors import GccGanError
from ..genotype_dsl.model import Network

Choice = dict[str, int]  # edge name → op index
Build = Callable[[Choice], Network | None]  # None: the choice is not a valid architecture
QUANTITIES = ("macs", "params")


class BudgetUnreachable(GccGanError):
    """No derivable architecture fits the budget: a setting of the run, so `--resume` (which
    keeps it) cannot help; the search must be run again with a larger one."""


def admit(budget: Budget, net: Network) -> tuple[bool, Cost]:
    """Whether a candidate generator fits the budget, and its compiled cost. The hook a
    searcher calls before training a child: `ok, cost = admit(cfg.budget, gnet)`."""
    c = budget.cost(net) if budget.active else compiled_cost(net)
    return budget.fits(c), c


@dataclass(frozen=True)
class Floor:
    """A sound lower bound on the compiled cost of every generator a search space can
    derive (each quantity bounded on its own), and what it is, for the message."""

    macs: int
    params: int
    space: str  # "the AdversarialNAS space at gf 8"
    basis: str  # how the bound is found: "its linear stems and to-RGB conv alone"


def refuse_unreachable(budget: Budget, floor: Floor | None) -> None:
    """A MACs / params limit below the space's floor: no architecture of the space fits, so
    the search is refused before any data is loaded or anything trained (latency has no
    such bound: it is measured on the derived network)."""
    if floor is None:
        return
    over = [f"{v:,} {q} (over --max-{flag} {lim:,})" for q, flag, v, lim in
            (("MACs", "macs", floor.macs, budget.max_macs), ("params", "params", floor.params, budget.max_params))
            if lim is not None and v > lim]
    if over:
        raise BudgetUnreachable(f"no architecture within the budget ({budget.describe()}) exists in {floor.space}: "
                                f"every one compiles to at least {' and '.join(over)}, a lower bound from "
                                f"{floor.basis}. Nothing was trained; search with a limit at or above that bound")


def fixed_floor(net: Network, fixed: Sequence[str], space: str, basis: str) -> Floor:
    """A floor from the edges `fixed` of `net`, which every network of its space contains
    unchanged, each alone into its node (so never merged with another): a linear keeps its
    compiled cost whatever the passes do around it (no pass rewrites a linear into fewer
    MACs or parameters); a k×k conv keeps its parameters and costs at least the fewer MACs
    of its two compiled forms — as written, or the sub-pixel form it takes when it reads a
    nearest-upsampled map (k > 1, stride 1; a 1×1 conv may run at a lower resolution, so it
    is not counted). Every other op is counted as 0. Sound, not tight."""
    from ..genotype_dsl.analysis import analyze
    from ..genotype_dsl.model import OpCall
    from ..genotype_dsl.ops import OpCtx

    info = analyze(net)
    macs = params = 0
    for e in info.edges:
        if e.edge.name not in fixed:
            continue
        for op in e.ops:
            name, p = op.call.op, op.call.params
            if name == "linear":
                macs += op.call.spec.macs(p, op.ctx, op.call.spec.shape(p, op.ctx))
                params += op.call.spec.n_params(p, op.ctx)
            elif name == "conv" and p.kernel > 1 and p.stride == 1:
                params += op.call.spec.n_params(p, op.ctx)
                m = op.call.spec.macs(p, op.ctx, op.call.spec.shape(p, op.ctx))
                c, h, w = op.ctx.in_shape
                if p.kernel % 2 and h % 2 == 0 and w % 2 == 0:
                    sub = OpCall.of("subpixel_conv", kernel=p.kernel, bias=p.bias)
                    ctx = OpCtx((c, h // 2, w // 2), op.ctx.out_channels)
                    m = min(m, sub.spec.macs(sub.params, ctx, sub.spec.shape(sub.params, ctx)))
                macs += m
    return Floor(macs, params, space, basis)


def space_floor(cfg: Any) -> Floor | None:
    """The floor of the space `cfg` searches (a SearchConfig), from the space itself
    (`Space.floor()`: AutoGAN and DGGAN enumerate their cheapest networks; AdversarialNAS
    and DEGAS, too large for that, take `fixed_floor` of what every derivation has); None
    without a MACs or params limit."""
    if not (cfg.max_macs is not None or cfg.max_params is not None):
        return None
    from .registry import SPACES

    return SPACES.get(cfg.space)(cfg).floor()  # type: ignore[no-any-return]


def _limits(budget: Budget) -> dict[str, int]:
    return {q: v for q, v in (("macs", budget.max_macs), ("params", budget.max_params)) if v is not None}


@dataclass
class ExpectedCost:
    """The expected compiled cost of a supernet's generator under its α (see the module
    docstring). `edges`: name → number of ops; `build`: a choice → its network."""

    edges: Mapping[str, int]
    build: Build
    budget: Budget
    lam0: float = 0.0  # a slack budget then never touches α (see SearchConfig.budget_lambda)
    lr: float = 0.1
    lam: dict[str, float] = field(default_factory=dict)
    _tables: dict[tuple[Any, ...], tuple[Cost, dict[str, Tensor]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for q in _limits(self.budget):
            self.lam.setdefault(q, self.lam0)

    def cost(self, choice: Choice) -> Cost | None:
        net = self.build(choice)
        return None if net is None else compiled_cost(net)

    def _context(self, choice: Choice) -> tuple[Cost, dict[str, Tensor]]:
        """C(a*) and the table of a*: the context network is built once per call (keyed by
        the network, which may depend on more than α: DEGAS's β), the table once per a*."""
        ctx = self.build(choice)
        if ctx is None:
            raise ValueError(f"the context architecture {choice} is not valid")
        key = (*(choice[e] for e in self.edges), ctx.model_dump_json())  # the swaps depend on both
        hit = self._tables.get(key)
        if hit is not None:
            return hit
        base = compiled_cost(ctx)
        out: dict[str, Tensor] = {}
        for e, n in self.edges.items():
            rows = []
            for i in range(n):
                c = base if i == choice[e] else (self.cost({**choice, e: i}) or base)
                rows.append([float(c.macs), float(c.params)])
            out[e] = torch.tensor(rows, dtype=torch.float64)
        if len(self._tables) > 64:
            self._tables.clear()
        self._tables[key] = (base, out)
        return base, out

    def table(self, choice: Choice) -> dict[str, Tensor]:
        """edge → (n_ops, 2) tensor of [MACs, params] of a* with that edge swapped."""
        return self._context(choice)[1]

    def expected(self, probs: Mapping[str, Tensor], choice: Choice) -> dict[str, Tensor]:
        """{'macs': E[MACs], 'params': E[params]} as differentiable scalars (float64)."""
        base, tab = self._context(choice)
        tot = torch.tensor([float(base.macs), float(base.params)], dtype=torch.float64)
        for e in self.edges:
            p = probs[e].to(torch.float64)
            t = tab[e].to(p.device)
            tot = tot.to(p.device) + (p[:, None] * (t - t[choice[e]])).sum(0)
        return {"macs": tot[0], "params": tot[1]}

    def penalty(self, probs: Mapping[str, Tensor], choice: Choice) -> tuple[Tensor, dict[str, float]]:
        """The Lagrangian term for G's architecture loss, and a log record; then one dual
        ascent step on the multipliers."""
        exp = self.expected(probs, choice)
        limits = _limits(self.budget)
        dev = next(iter(probs.values())).device
        term = torch.zeros((), dtype=torch.float64, device=dev)
        log: dict[str, float] = {}
        for q, m in limits.items():
            ratio = exp[q] / m
            term = term + self.lam[q] * (ratio - 1)
            r = float(ratio.detach())
            log[f"exp_{q}_ratio"] = r
            log[f"lambda_{q}"] = self.lam[q]
            self.lam[q] = max(0.0, self.lam[q] + self.lr * (r - 1))
        return term.to(torch.get_default_dtype()), log

    def state(self) -> dict[str, float]:
        return dict(self.lam)

    def load_state(self, st: Mapping[str, float]) -> None:
        self.lam.update({k: float(v) for k, v in st.items()})


@dataclass(frozen=True)
class Relaxation:
    """What a relaxed space (a supernet with architecture parameters) shows the budget: its
    choices (`edges`: name → number of options), `build` (a choice → its generator), and,
    read at the current α, `dist()` (the differentiable distribution over each choice's
    options), `context()` (the choice derived now, a*) and `probs()` (the options'
    probabilities, for the repair's ranking)."""

    edges: Mapping[str, int]
    build: Build
    dist: Callable[[], Mapping[str, Tensor]]
    context: Callable[[], Choice]
    probs: Callable[[], Mapping[str, Sequence[float]]]


class ArchPenalty:
    """The differentiable strategy's budget penalty: `ExpectedCost`'s Lagrangian term at
    the relaxation's current α and a*, with one dual-ascent step per call."""

    def __init__(self, relax: Relaxation, cfg: Any) -> None:
        self.relax = relax
        self.cost = ExpectedCost(relax.edges, relax.build, cfg.budget, cfg.budget_lambda, cfg.budget_lr)

    def term(self) -> tuple[Tensor, dict[str, float]]:
        return self.cost.penalty(self.relax.dist(), self.relax.context())

    def state(self) -> dict[str, float]:
        return self.cost.state()

    def load_state(self, st: Mapping[str, float]) -> None:
        self.cost.load_state(st)


def repair_relaxed(relax: Relaxation, budget: Budget) -> tuple[Choice, list[dict[str, Any]]]:
    """The differentiable strategy's derivation within budget: `repair` of a* under α."""
    choice, _, steps = repair(relax.context(), relax.probs(), relax.edges, relax.build, budget)
    return choice, steps


def repair(choice: Choice, probs: Mapping[str, Sequence[float]], edges: Mapping[str, int], build: Build,
           budget: Budget, allowed: Callable[[str, int], bool] = lambda e, i: True,
           ) -> tuple[Choice, Cost, list[dict[str, Any]]]:
    """Derive within budget: while the derived architecture is over budget, take the
    single-edge swap to a *cheaper* op (compiled cost of the swapped architecture, in the
    quantity that is over: MACs when MACs or latency are, params otherwise) whose op is the
    most likely under α (ties: the larger saving); stop when it fits. Every swap strictly
    lowers the cost, so this ends; when no swap lowers it any more, no single-edge path
    reaches the budget and the error says what the cheapest reached costs."""
    net = build(choice)
    if net is None:
        raise ValueError("the derived architecture is not valid")
    cost = budget.cost(net)
    steps: list[dict[str, Any]] = []
    while not budget.fits(cost):
        params_only = (budget.max_params is not None and cost.params > budget.max_params
                       and not (budget.max_macs is not None and cost.macs > budget.max_macs)
                       and not (budget.max_latency_ms is not None and (cost.latency_ms or 0) > budget.max_latency_ms))
        key = (lambda c: c.params) if params_only else (lambda c: c.macs)
        best: tuple[float, float, str, int, Cost] | None = None
        # the swaps, most likely first (stable: edge order within equal probabilities), so
        # only those down to the first cheaper one and its ties are compiled — the same pick
        # as scanning them all in edge order for the largest (probability, saving)
        swaps = sorted(((float(probs[e][i]), e, i) for e, n in edges.items() for i in range(n)
                        if i != choice[e] and allowed(e, i)), key=lambda t: -t[0])
        for p, e, i in swaps:
            if best is not None and p < best[0]:
                break
            c2 = None if (nn := build({**choice, e: i})) is None else compiled_cost(nn)
            if c2 is None or key(c2) >= key(cost):
                continue
            cand = (p, float(key(cost) - key(c2)), e, i, c2)
            if best is None or cand[:2] > best[:2]:
                best = cand
        if best is None:
            raise BudgetUnreachable(f"no architecture within the budget ({budget.describe()}) is reachable from the "
                              f"derived one by cheaper-op swaps: the cheapest reached compiles to "
                              f"{cost.macs:,} MACs, {cost.params:,} params")
        _, _, e, i, _ = best
        steps.append({"edge": e, "from": choice[e], "to": i, "p": round(best[0], 5)})
        choice = {**choice, e: i}
        net = build(choice)
        assert net is not None
        cost = budget.cost(net)
    return choice, cost, steps


def check_final(budget: Budget, gnet: Network) -> Cost:
    """The emitted generator's compiled cost; over budget is a searcher bug, never written."""
    c = budget.cost(gnet) if budget.active else compiled_cost(gnet)
    if not budget.fits(c):
        raise RuntimeError(f"the derived generator is over budget ({budget.describe()}): it compiles to "
                           f"{c.macs:,} MACs, {c.params:,} params"
                           + (f", {c.latency_ms:.3f} ms" if c.latency_ms is not None else ""))
    return c


def budget_record(budget: Budget, c: Cost) -> dict[str, float]:
    """The provenance's record (search_cost): the limits given and the final compiled cost."""
    rec: dict[str, float] = {"compiled_macs": float(c.macs), "compiled_params": float(c.params)}
    if c.latency_ms is not None:
        rec["compiled_latency_ms"] = round(c.latency_ms, 4)
    for k, v in (("budget_max_macs", budget.max_macs), ("budget_max_params", budget.max_params),
                 ("budget_max_latency_ms", budget.max_latency_ms)):
        if v is not None:
            rec[k] = float(v)
    return rec


class BudgetFilter:
    """Any ask/tell proposer under a budget (as NNI's strategy middleware `Filter` wraps a
    strategy): each proposal's generator is compiled (`admit`) and an over-budget one is
    dropped and re-asked — counted, never evaluated, never told. `ask` returns only
    architectures that fit, with their compiled cost (`cost(arch)`). After `max_redraws` × n
    rejections in one ask the budget is declared out of the proposer's reach (the space's
    floor, `refuse_unreachable`, refuses a budget below every architecture before this)."""

    def __init__(self, proposer: Any, space: Any, budget: Budget, max_redraws: int = 500) -> None:
        self.proposer, self.space, self.budget, self.max_redraws = proposer, space, budget, max_redraws
        self.rejected = 0
        self._costs: dict[str, Cost] = {}

    def cost(self, arch: Any) -> Cost:
        key = self.space.key(arch)
        if key not in self._costs:
            self._costs[key] = admit(self.budget, self.space.to_genotype(arch)[0])[1]
        return self._costs[key]

    def fits(self, arch: Any) -> bool:
        return not self.budget.active or self.budget.fits(self.cost(arch))

    def ask(self, n: int) -> list[Any]:
        kept: list[Any] = []
        dropped = 0
        while len(kept) < n:
            for a in self.proposer.ask(n - len(kept)):
                if self.fits(a):
                    kept.append(a)
                else:
                    dropped += 1
            if dropped > self.max_redraws * n:
                raise BudgetUnreachable(f"{self.proposer.name} search: {dropped} proposed architectures of the "
                                        f"{self.space.name} space were all over the budget ({self.budget.describe()})"
                                        f"; {len(kept)} of {n} fit. Raise the budget")
        self.rejected += dropped
        return kept

    def state_dict(self) -> dict[str, Any]:
        return {"rejected": self.rejected}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.rejected = int(d.get("rejected", 0))
