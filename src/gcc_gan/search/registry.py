"""The search system's three registries — spaces, strategies, evaluators — and what follows
from them: which (space, strategy) pairs work, and the four published methods as presets.

A search is a space × a strategy × an evaluator (NNI keeps model space, strategy and evaluator
apart the same way). Each is a class registered under a name, as timm's `@register_model`:

    @register_space("autogan")
    class AutoGanSpace(Space):
        capabilities = frozenset({"sample", "mutate", "tokens", "shared"})

    @register_strategy("reinforce")
    class Reinforce(Strategy):
        needs = frozenset({"tokens"})

    @register_evaluator("shared")
    class SharedWeights:
        needs = frozenset({"shared"})

What a registered class must declare (read by this module, nothing else):
  space:     `capabilities: frozenset[str]` (names in CAPABILITIES)
  strategy:  `needs: frozenset[str]` — the space capabilities it uses —, `evaluator: str | None`
             (the evaluator a step strategy brings with it — differentiable: the supernet's
             shared weights, growth: standalone children —; None: chosen with --evaluator) and
             `searcher_class(space, evaluator) -> type[search.base.Searcher]` (classmethod): the
             class the one run loop (run.py) builds (`Searcher.build`), steps, checkpoints and
             finishes
  evaluator: `needs: frozenset[str]` (e.g. "shared": the space's shared weights) and
             `searcher_class(space, strategy)` (classmethod): its loop around an ask/tell strategy

The registries fill themselves on first use by importing every module of the packages
`search.spaces`, `search.strategies` and `search.evaluators` (where the decorators run; all
three at once, so a class may register in any of them), so
importing this module stays cheap (the CLI's start-up reads no torch). Names are the CLI's
choices, its --help, `gcc-gan search --list`, the README table and the tests' parameters:
nothing else lists them. The CLI takes them from `declared()`: the names in the decorators
of those packages' source, read without importing it (importing the registered modules
loads torch, ~2 s; reading them, ~1 ms); a test holds `declared()` equal to `names()`.

What every registered class may declare beyond the above: `check_config(cfg, need)`
(classmethod; default on the bases `Space`, `Strategy`, `Evaluator`: nothing) checks the
settings that component reads; SearchConfig.validate calls the run's space's, strategy's and
evaluator's.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import BadValue

T = TypeVar("T")

# what a space can do (search/SEARCH_DESIGN: the Space protocol); a strategy needs some of them
CAPABILITIES: dict[str, str] = {
    "sample": "a uniform valid architecture (sample)",
    "mutate": "one small valid change (mutate)",
    "crossover": "a child of two architectures (crossover)",
    "tokens": "a fixed sequence of categorical choices, for a controller (tokens)",
    "relax": "a supernet with architecture parameters (relax)",
    "grow": "DGGAN's growth actions (grow)",
    "shared": "shared weights a candidate is scored on: a one-shot supernet or AutoGAN's shared GAN (shared)",
}


class Registry(Generic[T]):
    """name → registered class (filled on first use: see the module docstring)."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind, self.package = kind, package
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@REGISTRY.register("name")` on a class; the class gets `.name`."""

        def deco(cls: T) -> T:
            if name in self._items and self._items[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice ({self._items[name]!r}, {cls!r})")
            self._items[name] = cls
            setattr(cls, "name", name)
            return cls

        return deco

    def _load(self) -> None:
        _load_all()

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(sorted(self._items))

    def get(self, name: str) -> T:
        """The class registered as `name`; an unknown name is a usage error listing the known ones."""
        self._load()
        if name not in self._items:
            raise BadValue(f"--{self.kind} {name!r}: expected one of {', '.join(self.names())}")
        return self._items[name]

    def declared(self) -> tuple[str, ...]:
        """The names registered in the packages' source (`@register_<kind>("name")` or
        `<REGISTRY>.register("name")`), read without importing it: the CLI's choices at
        start-up. Where there is no source to read (a build without .py files), `names()`."""
        found = _declared()
        return found[self.kind] if found is not None else self.names()

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for reg in (SPACES, STRATEGIES, EVALUATORS):
        try:
            pkg = importlib.import_module(reg.package)
        except ModuleNotFoundError as e:
            if e.name != reg.package:
                raise
            continue  # a package not written yet registers nothing
        for m in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            importlib.import_module(f"{reg.package}.{m.name}")


_DECORATOR = re.compile(r"^[ \t]*@(?:register_(?P<kind>space|strategy|evaluator)|(?P<reg>SPACES|STRATEGIES|EVALUATORS)"
                        r"\.register)\(\s*[\"'](?P<name>[^\"']+)[\"']\s*\)", re.M)
_REG_KIND = {"SPACES": "space", "STRATEGIES": "strategy", "EVALUATORS": "evaluator"}
_declared_cache: list[dict[str, tuple[str, ...]] | None] = []  # the one scan, once made


def scan_declared(packages: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
    """kind → the sorted names the modules of `packages` register by decorator, read from
    their source without importing them; None when a package has no source to read."""
    found: dict[str, set[str]] = {"space": set(), "strategy": set(), "evaluator": set()}
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        texts = []
        for where in spec.submodule_search_locations:
            for m in pkgutil.iter_modules([where]):
                try:
                    with open(f"{where}/{m.name}.py", encoding="utf-8") as f:
                        texts.append(f.read())
                except FileNotFoundError:  # a compiled module or a sub-package: nothing to read
                    continue
        if not texts:
            return None
        for text in texts:
            for d in _DECORATOR.finditer(text):
                found[d["kind"] or _REG_KIND[d["reg"]]].add(d["name"])
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _declared() -> dict[str, tuple[str, ...]] | None:
    if not _declared_cache:
        _declared_cache.append(scan_declared((SPACES.package, STRATEGIES.package, EVALUATORS.package)))
    return _declared_cache[0]


SPACES: Registry[Any] = Registry("space", "gcc_gan.search.spaces")
STRATEGIES: Registry[Any] = Registry("strategy", "gcc_gan.search.strategies")
EVALUATORS: Registry[Any] = Registry("evaluator", "gcc_gan.search.evaluators")
register_space = SPACES.register
register_strategy = STRATEGIES.register
register_evaluator = EVALUATORS.register


# --------------------------------------------------------------------------- the pair matrix


def missing(space: str, strategy: str) -> frozenset[str]:
    """The capabilities `strategy` needs that `space` lacks (empty: the pair works)."""
    return frozenset(STRATEGIES.get(strategy).needs) - frozenset(SPACES.get(space).capabilities)


def matrix() -> dict[tuple[str, str], frozenset[str]]:
    """Every (space, strategy) pair → the capabilities the space lacks for it."""
    return {(sp, st): missing(sp, st) for sp in SPACES.names() for st in STRATEGIES.names()}


def working_pairs() -> list[tuple[str, str]]:
    return [pair for pair, lack in matrix().items() if not lack]


def _capability_list(lack: frozenset[str]) -> str:
    return ", ".join(CAPABILITIES.get(c, c) for c in sorted(lack))


def check_pair(space: str, strategy: str, evaluator: str | None = None) -> None:
    """A usage error (exit 2) for an unsupported combination: it names the capability the
    space lacks and the pairs that work. Called before anything is written."""
    lack = missing(space, strategy)
    if lack:
        works = ", ".join(f"{sp} x {st}" for sp, st in working_pairs())
        raise BadValue(f"--space {space} --strategy {strategy}: the {space} space lacks what {strategy} needs: "
                         f"{_capability_list(lack)}. Pairs that work: {works} (gcc-gan search --list)")
    if evaluator is not None and STRATEGIES.get(strategy).evaluator is None:  # else the strategy brings its own
        elack = frozenset(EVALUATORS.get(evaluator).needs) - frozenset(SPACES.get(space).capabilities)
        if elack:
            with_it = ", ".join(sp for sp in SPACES.names()
                                if not frozenset(EVALUATORS.get(evaluator).needs) - SPACES.get(sp).capabilities)
            raise BadValue(f"--evaluator {evaluator}: the {space} space lacks {_capability_list(elack)} "
                             f"(spaces that have it: {with_it or 'none'})")


def matrix_table() -> str:
    """`gcc-gan search --list`: one row per space, one column per strategy; a cell is `ok`
    or the capabilities the space lacks for that strategy."""
    strategies = STRATEGIES.names()
    m = matrix()
    rows = [["space \\ strategy", *strategies]]
    for sp in SPACES.names():
        rows.append([sp, *("ok" if not m[(sp, st)] else "lacks " + "+".join(sorted(m[(sp, st)]))
                           for st in strategies)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    presets = [f"  --method {m_}: --space {p.space} --strategy {p.strategy} --evaluator {p.evaluator} "
               f"--reward {p.reward}" for m_, p in METHOD_PRESETS.items()]
    return "\n".join([*lines, "", "presets:", *presets])


# --------------------------------------------------------------------------- the four published methods


@dataclass(frozen=True)
class MethodPreset:
    """A published method as a triple (plus its reward): `--method NAME` is exactly
    `--space S --strategy T --evaluator E --reward R` (same run, byte for byte)."""

    space: str
    strategy: str
    evaluator: str
    reward: str  # the differentiable strategy's training objective (hinge, glo), else the score


METHOD_PRESETS: dict[str, MethodPreset] = {
    "adversarial": MethodPreset("adversarialnas", "differentiable", "shared", "hinge"),  # AdversarialNAS
    "degas": MethodPreset("degas", "differentiable", "shared", "glo"),  # DEGAS
    "autogan": MethodPreset("autogan", "reinforce", "shared", "is"),  # AutoGAN
    "dggan": MethodPreset("dggan", "growth", "standalone", "fid"),  # DGGAN (WGAN-GP training, FID score)
}


def searcher_class(space: str, strategy: str, evaluator: str) -> type:
    """The class the run loop steps for this triple (built by its `Searcher.build`)."""
    return STRATEGIES.get(strategy).searcher_class(SPACES.get(space), evaluator)  # type: ignore[no-any-return]


# `--method random` (before the space x strategy redesign): the random strategy
LEGACY_METHODS = ("random",)


def preset_of(space: str, strategy: str, evaluator: str) -> str | None:
    """The published method a triple is, if any (its runs then carry the method's name, so the
    explicit form equals `--method`)."""
    return next((m for m, p in METHOD_PRESETS.items() if (p.space, p.strategy, p.evaluator) ==
                 (space, strategy, evaluator)), None)
