"""The four search spaces as `search.space.Space` classes (capabilities, sample / mutate /
crossover / tokens, and `to_genotype`, the one architecture -> genotype function of each).
Each reuses its space module (spaces/adversarialnas.py, degas.py, autogan.py, dggan.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...genotype_dsl.model import Network
from ..registry import register_space
from ..space import TRIES, Arch, Need, Space, TokenSpace

# --------------------------------------------------------------------------- AdversarialNAS


@register_space("adversarialnas")
class AdversarialNasSpace(TokenSpace):
    """AdversarialNAS's G (three Up-Cells, the genotype array: 2 up + 5 normal edges each)
    and Super-D (four cells: e0, e1, e2 normal and d0, d1 down edges). Arch:
    {"g": 3 rows of 7 op indices, "d": {edge: op index}}."""

    name = "adversarialnas"
    capabilities = TokenSpace.capabilities | {"relax", "shared"}

    def floor(self) -> Any:
        """The linear stems and to-RGB conv every derivation has (`budget.fixed_floor`)."""
        from ..budget import fixed_floor
        from .adversarialnas import AdvDims, generator_network

        cfg = self.cfg
        net = generator_network([[0, 0, 1, 1, 1, 1, 1]] * 3, AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent,
                                                                      bottom=cfg.bottom))[0]
        return fixed_floor(net, ("l1", "l2", "l3", "to_rgb"), f"the AdversarialNAS space at gf {cfg.gf}",
                           "the linear stems and to-RGB conv every derivation has")

    @classmethod
    def relaxed(cls, cfg: Any, device: Any) -> Any:
        """"relax": the supernets and α the differentiable strategy trains (spaces/adversarialnas.py)."""
        from .adversarialnas import Relaxed

        return Relaxed(cfg, device)

    def one_shot(self, device: Any) -> Any:
        """"shared": Super-G and Super-D, each architecture one path through both (its G rows
        and its D edges)."""
        from ..supernet import OneShotNets, SinglePath
        from .adversarialnas import AdvDims, SuperD, SuperG, rows_to_choice

        cfg = self.cfg
        dims = AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent, bottom=cfg.bottom)
        g, d = SuperG(dims).to(device), SuperD(dims).to(device)
        return OneShotNets(g, d, lambda arch: SinglePath(g, rows_to_choice(arch["g"])),
                           lambda arch: SinglePath(d, arch["d"]))

    def _d_edges(self) -> list[str]:
        from .adversarialnas import D_CELLS

        return [f"dcell{k}.{e}" for k in range(1, D_CELLS + 1) for e in ("e0", "e1", "e2", "d0", "d1")]

    def token_sizes(self) -> list[int]:
        from ...genotype_dsl.encodings.adversarialnas import NORMAL_OPS, UP_OPS
        from .adversarialnas import DOWN_OPS

        g = [len(UP_OPS)] * 2 + [len(NORMAL_OPS)] * 5
        return g * 3 + [len(DOWN_OPS) if e.split(".")[1].startswith("d") else len(NORMAL_OPS)
                        for e in self._d_edges()]

    def to_tokens(self, arch: Arch) -> list[int]:
        return [int(v) for row in arch["g"] for v in row] + [int(arch["d"][e]) for e in self._d_edges()]

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        t = [int(v) for v in tokens]
        return {"g": [t[7 * k:7 * k + 7] for k in range(3)], "d": dict(zip(self._d_edges(), t[21:]))}

    def valid_tokens(self, tokens: Sequence[int]) -> bool:
        """G: every n2 and n3 keeps an input; D: n0's only input (e0) is never 'none', n1 keeps one."""
        from .adversarialnas import edge_fed

        arch = self.from_tokens(tokens)
        d = arch["d"]
        return edge_fed(arch["g"]) and all(d[f"{c}.e0"] and (d[f"{c}.e1"] or d[f"{c}.e2"])
                                           for c in {e.split(".")[0] for e in d})

    def to_genotype(self, arch: Arch) -> tuple[Network, Network | None, dict[str, Any]]:
        """Built as the AdversarialNAS derivation builds its result (dead nodes removed the same way)."""
        from ...genotype_dsl.encodings.adversarialnas import NORMAL_OPS
        from .adversarialnas import (
            DOWN_OPS,
            AdvDims,
            build_discriminator,
            generator_network,
        )

        cfg = self.cfg
        gnet, enc = generator_network(arch["g"], AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent, bottom=cfg.bottom))
        dch = {e: int(v) for e, v in arch["d"].items()}
        enc["discriminator"] = {"format": "adversarialnas-d", "df": cfg.df, "size": cfg.size,
                                "ops": {e: (NORMAL_OPS if e.split(".")[1].startswith("e") else DOWN_OPS)[v]
                                        for e, v in dch.items()}}
        return gnet, build_discriminator(dch, cfg.df, cfg.size), enc

    def describe(self, arch: Arch) -> str:
        return "G " + "|".join("".join(map(str, r)) for r in arch["g"])


# --------------------------------------------------------------------------- DEGAS


@register_space("degas")
class DegasSpace(TokenSpace):
    """DEGAS's global generator: every supernet edge's op and every up-sampled map's input
    (`up{l}.input`: 0 direct, j + 1 the residual from U_j; a kept residual input whose op is
    'no connection' is invalid, as the derivation never makes it). Arch: {choice: index} in
    `degas_edges` order; G only (a standalone evaluator trains it against
    `default_discriminator`)."""

    name = "degas"
    capabilities = TokenSpace.capabilities | {"relax", "shared"}

    def floor(self) -> Any:
        """The linear stem and to-RGB conv every derivation has (`budget.fixed_floor`)."""
        from ..budget import fixed_floor
        from .degas import DegasG, derive_degas

        cfg = self.cfg
        net = derive_degas(DegasG(cfg.gf, cfg.latent, cfg.bottom, cfg.n_normal))[0]
        return fixed_floor(net, ("stem", "to_rgb"), f"the DEGAS space at gf {cfg.gf}",
                           "the linear stem and to-RGB conv every derivation has")

    @classmethod
    def relaxed(cls, cfg: Any, device: Any) -> Any:
        """"relax": DEGAS's supernet and its α, β (spaces/degas.py), trained with the GLO objective."""
        from .degas import Relaxed

        return Relaxed(cfg, device)

    def one_shot(self, device: Any) -> Any:
        """"shared": DEGAS's supernet, each architecture one path (its ops and the map inputs
        its derivation keeps), against `default_discriminator` (the space searches no D)."""
        from ...compiler.interpreter import Interpreter
        from ..space import default_discriminator
        from ..supernet import OneShotNets
        from .degas import DegasG, single_path

        cfg = self.cfg
        g = DegasG(cfg.gf, cfg.latent, cfg.bottom, cfg.n_normal).to(device)
        d = Interpreter(default_discriminator(cfg.df, self.resolution)).to(device)
        return OneShotNets(g, d, lambda arch: single_path(g, arch), lambda arch: d)

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        from .degas import DegasG, degas_edges

        self._g = DegasG(cfg.gf, cfg.latent, cfg.bottom, cfg.n_normal)  # the derivation reads its dims (and β)
        self._edges = degas_edges(self._g)

    def token_sizes(self) -> list[int]:
        return list(self._edges.values())

    def to_tokens(self, arch: Arch) -> list[int]:
        return [int(arch[e]) for e in self._edges]

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        return dict(zip(self._edges, (int(v) for v in tokens)))

    def valid_tokens(self, tokens: Sequence[int]) -> bool:
        """`derive_degas`'s rule without building the network: a map's kept residual input
        (`up{l}.input` = j + 1) is never 'no connection' (op 0 of `up{l}.res{j}`)."""
        from .degas import LEVELS

        c = self.from_tokens(tokens)
        return all(c[f"up{lv}.input"] == 0 or c[f"up{lv}.res{c[f'up{lv}.input'] - 1}"] != 0
                   for lv in range(1, LEVELS + 1))

    def to_genotype(self, arch: Arch) -> tuple[Network, Network | None, dict[str, Any]]:
        from .degas import derive_degas

        net, enc = derive_degas(self._g, {k: int(v) for k, v in arch.items()})
        enc.pop("input_weights", None)  # the supernet's β: not this architecture's
        return net, None, enc

    def describe(self, arch: Arch) -> str:
        return "".join(str(arch[e]) for e in self._edges)


# --------------------------------------------------------------------------- AutoGAN


@register_space("autogan")
class AutoGanSpace(TokenSpace):
    """AutoGAN's three generator cells at full depth (the 14-number arch vector; under a
    compiled-cost budget, a width token per cell: spaces/autogan.py). D: SNGAN's. Arch: the
    token list."""

    name = "autogan"
    capabilities = TokenSpace.capabilities | {"shared"}
    # AutoGAN's own shared-GAN schedule (strategies/reinforce.py) runs these strategies on the
    # shared weights: the controller (the published method) and its random-search baseline
    shared_searchers = frozenset({"reinforce", "random"})

    def floor(self) -> Any:
        """Its cheapest children, enumerated (every cell at the narrowest width)."""
        from ..budget import Floor
        from .autogan import WIDTHS, cheapest_cost

        cfg = self.cfg
        macs, params = cheapest_cost(cfg.gf, cfg.latent, cfg.bottom, True)
        return Floor(macs, params, f"the AutoGAN space at gf {cfg.gf}", f"its cheapest children (every cell "
                     f"×{min(WIDTHS):g} wide; all 216 such children compiled)")

    @classmethod
    def runs_shared_gan(cls, cfg: Any) -> bool:
        """Whether AutoGAN's own shared-GAN searcher runs (strategies/reinforce.py: the
        controller, or uniform tokens for random, on the shared GAN's schedule), so its
        schedule settings apply."""
        from ..registry import searcher_class

        return searcher_class(cls.name, cfg.strategy, cfg.evaluator) is cls.shared_searcher_class()

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        if not cls.runs_shared_gan(cfg):
            return
        from ..rewards import REWARDS
        from ..strategies.controller import MODES

        need("reward", cfg.reward in REWARDS, f"--reward {cfg.reward!r}: expected one of {', '.join(REWARDS)}")
        need("mode", cfg.mode in MODES, f"--mode {cfg.mode!r}: expected one of {', '.join(MODES)}")
        need("grow_at", len(cfg.grow_at) == 2 and 0 < cfg.grow_at[0] < cfg.grow_at[1] < cfg.search_iters,
             f"grow_at {list(cfg.grow_at)}: two growth iterations 0 < g1 < g2 < search_iters "
             f"({cfg.search_iters}), so all three stages run")
        need("shared_steps", cfg.shared_steps >= 1 and cfg.ctrl_steps >= 1 and cfg.n_critic >= 1,
             "shared_steps, ctrl_steps and n_critic must be at least 1")
        need("topk", cfg.num_candidate >= cfg.topk >= 1, f"top-K {cfg.topk} of {cfg.num_candidate} candidates: "
             "need 1 <= K <= M")
        need("reset_window", cfg.reset_window >= 2, f"reset window {cfg.reset_window}: must be at least 2")
        steps = cfg.search_iters * (cfg.shared_steps + cfg.ctrl_steps)
        need("iters", cfg.iters == steps, f"--iters {cfg.iters}: an AutoGAN search runs search_iters × "
             f"(shared_steps + ctrl_steps) = {steps} steps; change the schedule, not --iters")

    @classmethod
    def shared_searcher_class(cls) -> Any:
        """"shared" for `shared_searchers`: candidates scored on AutoGAN's shared GAN
        (strategies/reinforce.py; the random strategy there draws uniform tokens)."""
        from ..strategies.reinforce import AutoGanSearcher

        return AutoGanSearcher

    def one_shot(self, device: Any) -> Any:
        """"shared" for the other strategies (evolution): AutoGAN's shared generator, every
        architecture a full-depth child, against SNGAN's D (the genotype's)."""
        from ...compiler.interpreter import Interpreter
        from ...seeding import mix_seed
        from ..space import default_discriminator
        from ..supernet import OneShotNets
        from .autogan import SharedGenerator

        cfg = self.cfg
        g = SharedGenerator(cfg.gf, cfg.latent, cfg.bottom, mix_seed(cfg.seed, 62), widths=self.widths).to(device)
        d = Interpreter(default_discriminator(cfg.df, self.resolution)).to(device)
        return OneShotNets(g, d, g.child, lambda arch: d)

    @property
    def widths(self) -> bool:
        return bool(self.cfg.budget.active)

    def token_sizes(self) -> list[int]:
        from .autogan import STAGES, stage_tokens

        return [n for st in range(STAGES) for n in stage_tokens(st, self.widths)]

    def to_tokens(self, arch: Arch) -> list[int]:
        return [int(v) for v in arch]

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        return [int(v) for v in tokens]

    def to_genotype(self, arch: Arch) -> tuple[Network, Network | None, dict[str, Any]]:
        from ...genotype_dsl.encodings import sngan_discriminator
        from .autogan import child_native

        cfg = self.cfg
        nat = child_native(arch, cfg.gf, cfg.latent, cfg.bottom, self.widths)
        return nat.network, sngan_discriminator(df=cfg.df, size=cfg.size, sn=True).network, dict(nat.encoding)

    def describe(self, arch: Arch) -> str:
        return "".join(map(str, arch))


# --------------------------------------------------------------------------- DGGAN


@register_space("dggan")
class DgganSpace(Space):
    """DGGAN's grown G/D pairs: an architecture is a route of `max_steps` actions from the
    base pair (each {"kind", "kernel", "filters"}), each allowed by the forcing rule (when
    the steps left equal the doublings left, only FADE), so every route ends at the target
    resolution. Under a budget a FADE may also take a narrower G block (`fade_widths`), as
    the growth search does."""

    name = "dggan"
    capabilities = frozenset({"sample", "mutate", "crossover", "grow"})
    objective = "wgan-gp"  # DGGAN's (ProgGAN's) loss, with the drift term

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        """Its resolutions, actions and routes (whatever the strategy), and its scores."""
        need("reward", cfg.reward in ("fid", "swd"), f"--reward {cfg.reward!r}: DGGAN scores by fid (FID, needs the "
             "Inception weights) or swd (the explicit SWD proxy)")
        ratio = cfg.target // cfg.d0 if cfg.d0 >= 1 else 0
        need("target", cfg.d0 >= 4 and cfg.target >= cfg.d0 and ratio & (ratio - 1) == 0 and cfg.target % cfg.d0 == 0,
             f"resolutions {cfg.d0} → {cfg.target}: the target must be the base resolution (at least 4) times a "
             "power of two")
        doublings = ratio.bit_length() - 1
        need("max_steps", cfg.max_steps >= doublings, f"max_steps {cfg.max_steps}: reaching {cfg.target}x{cfg.target} "
             f"from {cfg.d0}x{cfg.d0} needs at least {doublings} steps (one FADE each)")
        need("dg_kernels", bool(cfg.dg_kernels) and all(k % 2 == 1 and 1 <= k <= 15 for k in cfg.dg_kernels),
             f"kernels {list(cfg.dg_kernels)}: odd sizes between 1 and 15 ('same' padding)")
        need("dg_filters", bool(cfg.dg_filters) and all(1 <= f <= 4096 for f in cfg.dg_filters),
             f"filters {list(cfg.dg_filters)}: between 1 and 4096")

    def floor(self) -> Any:
        """Its cheapest network: the base plus the FADEs to the target at the narrowest width."""
        from ...compiler.cost import compiled_cost
        from ..budget import Floor
        from .dggan import base_pair, cheapest_completion, doublings, fade_widths

        cfg = self.cfg
        width = fade_widths(cfg.dg_channels, cfg.dg_filters)[-1]
        c = compiled_cost(cheapest_completion(base_pair(cfg.d0, cfg.dg_channels, cfg.latent)[0], cfg.target, width))
        return Floor(c.macs, c.params, f"the DGGAN space to {cfg.target}x{cfg.target}", f"its cheapest network (the "
                     f"base plus {doublings(cfg.d0, cfg.target)} FADE(s) with {width}-wide G blocks)")

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        from .dggan import Action, actions, fade_widths

        self.acts = actions(cfg.dg_kernels, cfg.dg_filters)
        if cfg.budget.active:
            self.acts += [Action("FADE", 0, w) for w in fade_widths(cfg.dg_channels, cfg.dg_filters)
                          if w != cfg.dg_channels]

    @property
    def resolution(self) -> int:
        return int(self.cfg.target)

    def allowed(self, res: int, remaining: int) -> list[Any]:
        """The actions at resolution `res` with `remaining` steps left (notes §2.6.2)."""
        left = (self.cfg.target // res).bit_length() - 1
        if left >= remaining:
            return [a for a in self.acts if a.kind == "FADE"]
        return [a for a in self.acts if a.kind != "FADE" or left > 0]

    def _walk(self, route: list[Any], pick: Any) -> Arch:
        """A valid route: each step keeps `route[i]` when allowed there, else `pick(options)`."""
        res, out = self.cfg.d0, []
        for i in range(self.cfg.max_steps):
            opts = self.allowed(res, self.cfg.max_steps - i)
            a = route[i] if i < len(route) and route[i] in opts else pick(opts)
            out.append(a)
            res *= 2 if a.kind == "FADE" else 1
        return [a.to_dict() for a in out]

    def _route(self, arch: Arch) -> list[Any]:
        from .dggan import Action

        return [Action.from_dict(a) for a in arch]

    def sample(self, rng: np.random.Generator) -> Arch:
        return self._walk([], lambda opts: opts[int(rng.integers(len(opts)))])

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """One step's action re-drawn among the others allowed there; later steps that the
        change makes illegal are re-drawn (so the route still ends at the target)."""
        route = self._route(arch)
        pick = lambda opts: opts[int(rng.integers(len(opts)))]
        for _ in range(TRIES):
            i = int(rng.integers(len(route)))
            res = self.cfg.d0 * 2 ** sum(a.kind == "FADE" for a in route[:i])
            opts = [a for a in self.allowed(res, self.cfg.max_steps - i) if a != route[i]]
            if opts:
                return self._walk(route[:i] + [pick(opts)] + route[i + 1:], pick)
        raise RuntimeError("dggan: no step of the route has another allowed action")

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        """One-point: a's first steps, then b's (re-drawn where no longer allowed)."""
        ra, rb = self._route(a), self._route(b)
        cut = int(rng.integers(1, len(ra))) if len(ra) > 1 else 0
        return self._walk(ra[:cut] + rb[cut:], lambda opts: opts[int(rng.integers(len(opts)))])

    def pair(self, arch: Arch) -> tuple[Network, Network]:
        from .dggan import base_pair, grow, settle

        cfg = self.cfg
        g, d = base_pair(cfg.d0, cfg.dg_channels, cfg.latent)
        for a in self._route(arch):
            g, d = grow(g, d, a, cfg.dg_channels)
            g, d = settle(g), settle(d)
        return g, d

    def to_genotype(self, arch: Arch) -> tuple[Network, Network | None, dict[str, Any]]:
        g, d = self.pair(arch)
        labels = [a.label for a in self._route(arch)]
        return g, d, {"format": "dggan", "actions": labels, "d0": self.cfg.d0, "target": self.cfg.target,
                      "max_steps": self.cfg.max_steps}

    def describe(self, arch: Arch) -> str:
        return " > ".join(a.label for a in self._route(arch))


