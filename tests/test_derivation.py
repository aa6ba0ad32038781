"""Every searcher's derivation returns a valid genotype of its method's space, for any
architecture weights: thousands of random α (and β) per searcher, no training — the
state is set directly and derived. Issue 10: ~13% of random α gave AdversarialNAS
generators with a dead node.

A searcher joins the property test with one line in `SEARCHERS`: a `Case` with
* `make()`: its derivation state, built once (supernets, a config);
* `draw(state, rng)`: set the state to random architecture weights (or sample, for
  samplers) and derive: {role: network};
* `space(state)`: the method's space as a `Space` (per searchable edge its candidate
  pipelines and its (src, dst); per fixed edge and per node what it must be).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from gcc_gan.genotype_dsl.analysis import analyze_genotype
from gcc_gan.genotype_dsl.encodings.adversarialnas import (
    adversarialnas_generator,
    parse_adversarialnas_arch,
)
from gcc_gan.genotype_dsl.model import Edge, Genotype, Network, Node, OpCall, Provenance
from gcc_gan.search.config import make_config
from gcc_gan.search.registry import working_pairs
from gcc_gan.search.spaces.adversarialnas import (
    AdvDims,
    SuperD,
    SuperG,
    build_discriminator,
    derive,
    derive_d_choices,
    derive_rows,
)
from gcc_gan.search.spaces.degas import LEVELS, DegasG, derive_degas
from gcc_gan.search.supernet import Supernet

DIMS = AdvDims(gf=4, df=4, latent=6, bottom=2)
N_CI = int(os.environ.get("GCC_GAN_DERIVE_N", "1000"))  # per searcher: 2-3 s of CPU each (2-3 ms per α)
N_SLOW = 20_000


@dataclass
class Space:
    """What a derived network may contain: `searchable` edges (name → (src, dst), allowed
    pipelines), `fixed` edges (name → the edge itself), `nodes` (name → node)."""

    searchable: dict[str, tuple[tuple[str, str], list[list[OpCall]]]] = field(default_factory=dict)
    fixed: dict[str, Edge] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)

    def check(self, net: Network) -> None:
        for n in net.nodes:
            assert self.nodes.get(n.name) == n, f"node {n.name} is not in the space"
        for e in net.edges:
            if e.name in self.searchable:
                ends, allowed = self.searchable[e.name]
                assert (e.src, e.dst) == ends, f"edge {e.name}: {e.src} → {e.dst}, expected {ends}"
                assert e.ops in allowed, f"edge {e.name}: ops {e.ops} are not a candidate"
                assert [o.op for o in e.ops] != ["none"]
            else:
                assert self.fixed.get(str(e.name)) == e, f"edge {e.name} is not in the space"


def _candidates(sup: Supernet, ends: Callable[[str], tuple[str, str]]) -> dict[str, Any]:
    return {n: (ends(n), [list(c) for c in sup.edge(n).candidates]) for n in sup.edge_names}


def _space_of(reference: Network, sup: Supernet) -> Space:
    """Edges named like the supernet's mixed edges are searchable (with the reference's
    ends); the other edges and all nodes must be as in `reference`, the network with
    every searchable edge present."""
    ref = {e.name: e for e in reference.edges}
    return Space(searchable=_candidates(sup, lambda n: (ref[n].src, ref[n].dst)),
                 fixed={str(n): e for n, e in ref.items() if n not in sup.edge_names},
                 nodes={n.name: n for n in reference.nodes})


def _randomize(*nets: Supernet, rng: np.random.Generator) -> None:
    """Architecture logits at a random scale (1e-3: near-uniform … 10: near one-hot), and
    on about a third of the edges a dominant first candidate ('none' where there is one),
    so the corner cases (a node left without input or output) come up often."""
    with torch.no_grad():
        for net in nets:
            for a in net.arch_parameters():
                v = 10 ** rng.uniform(-3, 1) * rng.standard_normal(a.shape[0])
                if rng.random() < 0.35:
                    v[0] = abs(v).max() + rng.uniform(0, 3)
                a.copy_(torch.from_numpy(v))


# --------------------------------------------------------------------------- AdversarialNAS

FULL_ROWS = [[0, 0, 1, 1, 1, 1, 1]] * 3  # every edge present


def _adv_g_space(st: dict[str, Any]) -> Space:
    ref = adversarialnas_generator(FULL_ROWS, gf=DIMS.gf, latent=DIMS.latent, bottom=DIMS.bottom).network
    return _space_of(ref, st["g"])


def _adv_d_space(st: dict[str, Any]) -> Space:
    full = {f"dcell{k}.{e}": 1 for k in range(1, 5) for e in ("e0", "e1", "e2", "d0", "d1")}
    return _space_of(build_discriminator(full, DIMS.df, DIMS.size), st["d"])


def _adv_make() -> dict[str, Any]:
    return {"g": SuperG(DIMS), "d": SuperD(DIMS)}


def _adv_g(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    _randomize(st["g"], rng=rng)
    parse_adversarialnas_arch(derive_rows(st["g"].probabilities()))  # a valid published array
    return {"generator": derive(st["g"], None)[0]}


def _adv_d(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    _randomize(st["d"], rng=rng)
    return {"discriminator": build_discriminator(derive_d_choices(st["d"].probabilities()), DIMS.df, DIMS.size)}


def test_adversarial_dead_nodes_removed_with_their_edges() -> None:
    """The issue's crash: cell 3's n2 → n3 edge derives 'none', so n2 (and n0, which only
    feeds n2 there) reach no output. They go, with their edges (skip-ins included); the
    genotype array keeps the published form."""
    g = SuperG(DIMS)
    with torch.no_grad():
        for n in g.edge_names:
            a = g.alpha(n)
            a.zero_()
            a[0 if ".up" in n else 3] = 5.0  # up: nearest; normal: conv3x3
        for e in ("cell3.c4", "cell3.c2"):  # n2 → n3 and n0 → n3: 'none'
            g.alpha(e)[0] = 9.0
    net, _, enc = derive(g, None)
    nodes = {n.name for n in net.nodes}
    assert {"cell3.n0", "cell3.n2"}.isdisjoint(nodes) and {"cell3.n1", "cell3.n3", "cell2.n2"} <= nodes
    assert not any({e.src, e.dst} & {"cell3.n0", "cell3.n2"} for e in net.edges)
    assert enc["arch"][2] == [0, 0, 3, 3, 0, 3, 0]
    analyze_genotype(Genotype(name="x", generator=net))


# --------------------------------------------------------------------------- DEGAS

N_NORMAL = 2


def _degas_make() -> dict[str, Any]:
    return {"g": DegasG(DIMS.gf, DIMS.latent, DIMS.bottom, N_NORMAL)}


def _degas(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    _randomize(st["g"], rng=rng)
    net, _ = derive_degas(st["g"])
    # DEGAS's space: every level keeps its direct input, plus at most one residual
    names = {e.name for e in net.edges}
    for lv in range(1, LEVELS + 1):
        assert f"up{lv}.direct" in names and sum(f"up{lv}.res{j}" in names for j in range(lv)) <= 1
    return {"generator": net}


def _degas_space(st: dict[str, Any]) -> Space:
    g: DegasG = st["g"]
    last = ["stem"] + [f"l{lv}.n{N_NORMAL - 1}" for lv in range(1, LEVELS + 1)]

    def ends(n: str) -> tuple[str, str]:
        a, b = n.split(".")
        if a.startswith("up"):
            lv = int(a[2:])
            src = last[lv - 1] if b == "direct" else ("stem" if b == "res0" else f"up{b[3:]}")
            return src, a
        lv, i = int(a[1:]), int(b[1:])
        return (f"up{lv}" if i == 0 else f"l{lv}.n{i - 1}"), n

    # the fixed parts and nodes: those of one derivation (every derivation has them all)
    net, _ = derive_degas(g)
    return Space(searchable=_candidates(g, ends),
                 fixed={str(e.name): e for e in net.edges if e.name in ("stem", "to_rgb")},
                 nodes={n.name: n for n in net.nodes})


# --------------------------------------------------------------------------- ask/tell strategies x spaces


def _pair_cfg(space: str) -> Any:
    return make_config("random", "tiny", dict(gf=DIMS.gf, df=DIMS.df, latent=DIMS.latent, bottom=DIMS.bottom,
                                              n_normal=N_NORMAL, population=4, space=space, reward="swd"))


def _pair_make(space: str, strategy: str) -> Callable[[], dict[str, Any]]:
    """A strategy of search/strategies over a search/space.py space at the tiny test dims."""
    def make() -> dict[str, Any]:
        from gcc_gan.search.candidates import space_class, strategy_class

        sp = space_class(space)(_pair_cfg(space))
        return {"space": sp, "strategy": strategy_class(strategy)(sp, sp.cfg, 0), "told": 0}
    return make


def _pair(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    """The strategy's next proposal (told a random score, healthy or not, so evolution's
    population and the controller move), converted by the space's `to_genotype`."""
    from gcc_gan.search.strategy import Scored

    sp, strat = st["space"], st["strategy"]
    arch = strat.ask(1)[0]
    status = "ok" if rng.random() < 0.8 else "collapsed"
    strat.tell([arch], [Scored(float(-rng.random() * 100), "swd-real", 1.0, status, macs=int(rng.integers(1, 10**6)),
                               params=int(rng.integers(1, 10**4)))])
    if sp.has("tokens"):
        assert sp.from_tokens(sp.to_tokens(arch)) == arch
    g, d, _ = sp.to_genotype(arch)
    return {"generator": g, **({"discriminator": d} if d is not None else {})}


_IN_SPACE = ("adversarialnas", "degas", "dggan", "autogan")  # spaces with an in-space check here


def _pair_space(space: str) -> Callable[[dict[str, Any]], Any]:
    def checks(st: dict[str, Any]) -> Any:
        if space == "adversarialnas":
            adv = _adv_make()
            return {"generator": _adv_g_space(adv), "discriminator": _adv_d_space(adv)}
        if space == "degas":
            return _degas_space({"g": st["space"]._g})
        if space == "dggan":
            return _dggan_space({"cfg": st["space"].cfg})
        assert space == "autogan"
        return {"generator": _AutoganSpace(), "discriminator": _SnganD()}
    return checks


class _SnganD:
    """AutoGAN's D is SNGAN's, fixed: the network `sngan_discriminator` builds."""

    def check(self, net: Network) -> None:
        from gcc_gan.genotype_dsl.encodings import sngan_discriminator

        assert net == sngan_discriminator(df=DIMS.df, size=DIMS.bottom * 8, sn=True).network


# --------------------------------------------------------------------------- DGGAN


class _DgganSpace:
    """DGGAN's space is open-ended (it grows), so its check is by rule: every edge is a base
    edge, a grown conv of the action set, or a FADE block edge, and G's image matches D's input."""

    def __init__(self, cfg: Any, base: Network) -> None:
        self.cfg, self.base = cfg, {e.name: e for e in base.edges}

    def check(self, net: Network) -> None:
        from gcc_gan.genotype_dsl.analysis import analyze
        from gcc_gan.genotype_dsl.builder import op
        from gcc_gan.search.spaces.dggan import _d_conv, _g_conv

        cfg = self.cfg
        grown_g = [_g_conv(k) for k in cfg.dg_kernels]
        grown_d = [_d_conv(k) for k in cfg.dg_kernels]
        chans = {n.name: n.n_channels(net.base_width) for n in net.nodes}
        for e in net.edges:
            name = str(e.name)
            if name.startswith(("g_c", "d_c")) and name[3:].isdigit():
                assert e.ops in (grown_g if name[0] == "g" else grown_d), f"{name}: {e.ops} is not an action"
                assert chans[e.dst] in cfg.dg_filters, f"{name}: {chans[e.dst]} filters"
            elif m := re.fullmatch(r"(g_up|d_dn|g_torgb_r|d_fromrgb_r)(\d+)(_a|_b)?", name):
                kind, r = m.group(1) + (m.group(3) or ""), int(m.group(2))
                assert cfg.d0 <= r <= cfg.target and (r // cfg.d0) & (r // cfg.d0 - 1) == 0, name
                want = {"g_up_a": [op("upsample"), *_g_conv(3)], "g_up_b": _g_conv(3), "g_torgb_r": [op("conv", kernel=1)],
                        "d_fromrgb_r": _d_conv(1), "d_dn_a": _d_conv(3), "d_dn_b": [*_d_conv(3), op("avg_pool")]}
                assert e.ops == want[kind], f"{name}: {e.ops}"
            else:  # a base edge; the one after D's fromRGB reads whatever was grown there
                base = self.base.get(name)
                assert base is not None and e.model_copy(update={"src": base.src}) == base, f"edge {name}"
        out = analyze(net)
        size = (out.output_shapes.get("image") or (0, *[out.input_shapes["x"][1]] * 2))[1]
        assert cfg.d0 <= size <= cfg.target


def _dggan_make() -> dict[str, Any]:
    from gcc_gan.search.spaces.dggan import actions

    cfg = make_config("dggan", "tiny", dict(reward="swd"))
    return {"cfg": cfg, "acts": actions(cfg.dg_kernels, cfg.dg_filters)}


def _dggan(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    """A random route of random length under the forcing rule; the candidate (settled) after it.
    Half the FADEs narrow G's new block to a width a budget may pick (`fade_widths`)."""
    from dataclasses import replace

    from gcc_gan.search.spaces.dggan import (
        FADE,
        base_pair,
        fade_widths,
        grow,
        resolution,
        settle,
    )
    from gcc_gan.search.strategies.growth import allowed

    cfg = st["cfg"]
    g, d = base_pair(cfg.d0, cfg.dg_channels, cfg.latent)
    widths = fade_widths(cfg.dg_channels, cfg.dg_filters)
    for s in range(int(rng.integers(cfg.max_steps + 1))):
        al = allowed(st["acts"], resolution(d), cfg.target, cfg.max_steps - s)
        a = al[int(rng.integers(len(al)))]
        if a.kind == FADE.kind and rng.integers(2):
            a = replace(a, filters=int(rng.choice(widths)))
        g, d = grow(g, d, a, cfg.dg_channels)
        g, d = settle(g), settle(d)
    return {"generator": g, "discriminator": d}


def _dggan_space(st: dict[str, Any]) -> dict[str, Any]:
    from gcc_gan.search.spaces.dggan import base_pair

    g, d = base_pair(st["cfg"].d0, st["cfg"].dg_channels, st["cfg"].latent)
    return {"generator": _DgganSpace(st["cfg"], g), "discriminator": _DgganSpace(st["cfg"], d)}


def _autogan_make() -> dict[str, Any]:
    from gcc_gan.search.spaces.autogan import stage_tokens
    from gcc_gan.search.strategies.controller import Controller

    torch.manual_seed(0)
    # without and with the width token a budgeted search adds to each cell
    ctrls = {w: [Controller(stage_tokens(stage, w), 8) for stage in range(3)] for w in (False, True)}
    return {"ctrls": ctrls, "gen": torch.Generator().manual_seed(0)}


def _autogan(st: dict[str, Any], rng: np.random.Generator) -> dict[str, Network]:
    """A child the controller samples at a random stage (random prefix and LSTM state, logits
    scaled at random so peaked distributions occur too; half of them with per-cell width
    tokens, as under a budget), converted as search does."""
    from gcc_gan.search.spaces.autogan import child_native, stage_tokens

    stage, widths = int(rng.integers(3)), bool(rng.integers(2))
    ctrl = st["ctrls"][widths][stage]
    prefix = [int(rng.integers(n)) for s in range(stage) for n in stage_tokens(s, widths)]
    hidden = (torch.from_numpy(rng.standard_normal((1, 8))).float(),
              torch.from_numpy(rng.standard_normal((1, 8))).float()) if stage else None
    scale = float(rng.choice([1.0, 8.0]))
    with torch.no_grad():
        for q in ctrl.parameters():
            q.mul_(scale)
        smp = ctrl.sample(st["gen"], hidden)
        for q in ctrl.parameters():
            q.div_(scale)
    return {"generator": child_native(prefix + smp.actions, 4, 6, 2, widths).network}


class _AutoganSpace:
    """The AutoGAN cell space by rule: the latent and base width search uses, ops only from
    the cell vocabulary (no `none`, no pools), one ×2 upsampling per cell from the 2×2
    bottom, and an RGB image out."""

    OPS = {"linear", "reshape", "conv", "conv_transpose", "upsample", "batch_norm", "instance_norm", "relu", "tanh"}

    def check(self, net: Network) -> None:
        from gcc_gan.genotype_dsl.analysis import analyze

        assert net.inputs[0].dim == 6 and net.base_width == 4
        ops = {o.op for e in net.edges for o in e.ops}
        assert ops <= self.OPS, ops - self.OPS
        cells = {n.cell for n in net.nodes if n.cell}
        assert cells and cells <= {"cell1", "cell2", "cell3"}
        assert analyze(net).output_shapes["image"] == (3, 2 * 2 ** len(cells), 2 * 2 ** len(cells))


def _autogan_space(st: dict[str, Any]) -> dict[str, Any]:
    return {"generator": _AutoganSpace()}


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], Any]
    draw: Callable[[Any, np.random.Generator], dict[str, Network]]
    space: Callable[[Any], Any]  # a Space, {role: Space}, or anything with check(net)
    share: float = 1.0  # of N_CI / N_SLOW draws (a strategy's draw also learns: slower than a derivation)


SEARCHERS = [
    Case("adversarial-G", _adv_make, _adv_g, _adv_g_space),
    Case("adversarial-D", _adv_make, _adv_d, _adv_d_space),
    Case("degas", _degas_make, _degas, _degas_space),
    Case("dggan", _dggan_make, _dggan, _dggan_space),
    Case("autogan", _autogan_make, _autogan, _autogan_space),
]


def _candidate_loop(space: str, strategy: str) -> bool:
    """Whether the pair runs in the candidate loop (search/candidates.py): an ask/tell strategy
    with standalone candidates."""
    from gcc_gan.search.registry import STRATEGIES
    from gcc_gan.search.strategy import Strategy

    return issubclass(STRATEGIES.get(strategy), Strategy) and \
        make_config(None, "tiny", {"space": space, "strategy": strategy}).evaluator == "standalone"


# every (space, ask/tell strategy) pair of the candidate search, from the registry
PAIRS = [(st, sp) for sp, st in working_pairs() if _candidate_loop(sp, st)]
SEARCHERS += [Case(f"{st}-{sp}", _pair_make(sp, st), _pair, _pair_space(sp), 0.02 if st == "reinforce" else 0.1)
              for st, sp in PAIRS if sp in _IN_SPACE]


def _sweep(case: Case, n: int, seed: int) -> None:
    state = case.make()
    spaces = case.space(state)
    rng = np.random.default_rng(seed)
    for i in range(n):
        nets = case.draw(state, rng)
        geno = Genotype(name=f"{case.name}-{i}", provenance=Provenance(searcher=case.name), **nets)
        analyze_genotype(geno)  # valid: every node fed and live, shapes agree
        for role, net in nets.items():
            (spaces[role] if isinstance(spaces, dict) else spaces).check(net)


@pytest.mark.parametrize("case", SEARCHERS, ids=lambda c: c.name)
def test_derivation_valid_and_in_space_for_random_weights(case: Case) -> None:
    _sweep(case, max(1, int(N_CI * case.share)), seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("case", SEARCHERS, ids=lambda c: c.name)
def test_derivation_valid_and_in_space_for_random_weights_long(case: Case) -> None:
    _sweep(case, max(1, int(N_SLOW * case.share)), seed=1)


# --------------------------------------------------------------------------- every (space, strategy) pair
# What each pair's run loop proposes or derives (its searcher, search/run.make_searcher), drawn
# through the searcher's own code, becomes a genotype through the space's one `to_genotype`,
# equal to what the searcher itself emits, that validates, builds and runs. Parametrized from
# the registry: a new pair is covered, a new kind of searcher fails here until it has a drawer.
PAIR_EXAMPLES = int(os.environ.get("GCC_GAN_PAIR_EXAMPLES", "6"))
PER_EXAMPLE = 2  # architectures drawn per example


def _build_and_run(g: Network, d: Network | None) -> None:
    """Valid (every node fed and live, shapes agree), and each network runs on a batch of 2."""
    from gcc_gan.compiler.interpreter import Interpreter
    from gcc_gan.genotype_dsl.analysis import analyze

    analyze_genotype(Genotype(name="pair", generator=g, discriminator=d))
    for net in (g, d):
        if net is None:
            continue
        shapes = analyze(net).input_shapes
        with torch.no_grad():
            y = Interpreter(net)(*(torch.randn(2, *shapes[i.name]) for i in net.inputs))
        for t in (y if isinstance(y, tuple) else (y,)):
            assert t.shape[0] == 2 and bool(torch.isfinite(t).all())


def _tell_random(strat: Any, archs: list[Any], rng: np.random.Generator) -> None:
    from gcc_gan.search.strategy import Scored

    strat.tell(archs, [Scored(float(-rng.random() * 100), "swd-real", 1.0, "ok" if rng.random() < 0.8 else "collapsed",
                              macs=int(rng.integers(1, 10**6)), params=int(rng.integers(1, 10**4))) for _ in archs])


def _draw_candidates(s: Any, space: Any, rng: np.random.Generator) -> list[tuple[Network, Network | None]]:
    """The candidate loop: its budget filter's `ask` (the strategy's proposals), told random scores."""
    archs = s.filter.ask(PER_EXAMPLE)
    _tell_random(s.strategy, archs, rng)
    return [space.to_genotype(a)[:2] for a in archs]


def _draw_autogan(s: Any, space: Any, rng: np.random.Generator) -> list[tuple[Network, Network | None]]:
    """AutoGAN's shared-weights loop: a child sampled at a random stage from random top-K
    prefixes (controller logits scaled at random; `random`: uniform tokens), as `sample` does."""
    from gcc_gan.search.spaces.autogan import stage_tokens

    s.stage = int(rng.integers(3))
    s._new_controller()
    hid = s.cfg.hid
    s.prefixes = [{"arch": [int(rng.integers(n)) for k in range(s.stage) for n in stage_tokens(k, s.widths)],
                   "h": rng.standard_normal(hid).tolist(), "c": rng.standard_normal(hid).tolist()}
                  for _ in range(2)] if s.stage else []
    with torch.no_grad():
        for q in s.ctrl.parameters():
            q.mul_(float(rng.choice([1.0, 8.0])))
    out = []
    for _ in range(PER_EXAMPLE):
        arch, _ = s.sample(torch.Generator().manual_seed(int(rng.integers(2**31))))
        g, d, _ = space.to_genotype(arch)
        assert g == s.native(arch).network  # what the searcher emits for that vector
        out.append((g, d if s.stage == 2 else None))  # D: SNGAN's at the full size (a full-depth child's)
    return out


def _derived_arch(space: Any, relaxed: Any) -> Any:
    """The relaxed space's current derivation in the space's own architecture form."""
    from gcc_gan.search.spaces.adversarialnas import derive_d_choices

    if space.name == "adversarialnas":
        return {"g": derive_rows(relaxed.g.probabilities()), "d": derive_d_choices(relaxed.d.probabilities())}
    if space.name == "degas":
        return relaxed.relaxation().context()
    raise AssertionError(f"the {space.name} space is relaxed: give its derivation's architecture here")


def _draw_differentiable(s: Any, space: Any, rng: np.random.Generator) -> list[tuple[Network, Network | None]]:
    """The differentiable strategy: random architecture weights (near-uniform to near one-hot,
    a dominant first op on a third of the edges), derived by the searcher (with its budget repair)."""
    out = []
    for _ in range(PER_EXAMPLE):
        with torch.no_grad():
            for group in s.space.arch_groups().values():
                for a in group:
                    v = 10 ** rng.uniform(-3, 1) * rng.standard_normal(tuple(a.shape))
                    if rng.random() < 0.35:
                        v.reshape(-1)[0] = abs(v).max() + rng.uniform(0, 3)
                    a.copy_(torch.from_numpy(v))
        g, d, _, _ = s.derive()
        g2, d2, _ = space.to_genotype(_derived_arch(space, s.space))
        assert g == g2 and (d is None or d == d2), "the derivation differs from the space's to_genotype"
        out.append((g, d))
    return out


def _draw_growth(s: Any, space: Any, rng: np.random.Generator) -> list[tuple[Network, Network | None]]:
    """DGGAN's growth: `plan_children` from random parents (the selection is by score; any two
    here), under the budget's reachability pruning when there is one; each route through `to_genotype`."""
    import dataclasses

    from gcc_gan.search.spaces.dggan import resolution
    from gcc_gan.search.strategies.growth import plan_children

    cfg = s.cfg
    routes: dict[str, list[Any]] = {"c0": []}
    st: dict[str, Any] = {"step": 0, "parents": ["c0"], "nodes": {"c0": {"resolution": cfg.d0}}}
    out = [space.to_genotype([])[:2]]
    for step in range(cfg.max_steps):
        st["step"] = step
        nets = {p: space.to_genotype(routes[p])[:2] for p in st["parents"]}
        admit = None if s.reach is None else (lambda p, a, n=nets: s.reach.admit(*n[p], a))
        kids = [k for k in plan_children(st, dataclasses.replace(cfg, seed=int(rng.integers(2**31))), s.acts, admit)
                if k.get("status") != "over budget"]
        if not kids:
            break
        for k in kids:
            routes[k["id"]] = routes[k["parent"]] + [k["action"]]
            g, d, _ = space.to_genotype(routes[k["id"]])
            st["nodes"][k["id"]] = {"resolution": resolution(d)}
            out.append((g, d))
        st["parents"] = [str(p) for p in rng.choice([k["id"] for k in kids], min(cfg.dg_k, len(kids)), replace=False)]
    assert all(resolution(d) <= cfg.target for _, d in out)
    return out


DRAWERS = {"CandidateSearcher": _draw_candidates, "AutoGanSearcher": _draw_autogan,
           "DifferentiableSearcher": _draw_differentiable, "GrowthSearcher": _draw_growth}
_STATE: dict[tuple[str, str, bool], tuple[Any, Any]] = {}


def _searcher(space: str, strategy: str, budget: bool) -> tuple[Any, Any]:
    """(the run loop's searcher, the registered space), at the micro sizes of test_pairs; with
    `budget`, a slack --max-macs (AutoGAN's width tokens, DGGAN's narrower FADEs and the budget
    filter / repair are then in play)."""
    from test_pairs import micro

    from gcc_gan.search.registry import SPACES
    from gcc_gan.search.run import make_searcher

    key = (space, strategy, budget)
    if key not in _STATE:
        over = micro(space, strategy)
        if budget:
            over["max_macs"] = 10**12
        cfg = make_config(None, "tiny", over)
        _STATE[key] = (make_searcher(cfg, torch.device("cpu")), SPACES.get(space)(cfg))
    return _STATE[key]


@pytest.mark.parametrize("space,strategy", working_pairs(), ids=[f"{a}-{b}" for a, b in working_pairs()])
@settings(max_examples=PAIR_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=hst.integers(0, 2**32 - 1), budget=hst.booleans())
def test_every_pair_proposes_genotypes_that_build_and_run(one_thread: None, space: str, strategy: str, seed: int,
                                                          budget: bool) -> None:
    s, sp = _searcher(space, strategy, budget)
    kind = type(s).__name__
    assert kind in DRAWERS, f"{space} x {strategy} runs a new searcher ({kind}): add its drawer to DRAWERS"
    rng = np.random.default_rng(seed)
    nets = DRAWERS[kind](s, sp, rng)
    assert nets
    for g, d in nets:
        _build_and_run(g, d)
