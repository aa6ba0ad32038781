"""Search spaces as one protocol: what an architecture is and what it can do.

A space declares its `capabilities` (strings, SEARCH_DESIGN.md): a strategy needs some of
them (`Strategy.needs`) and the registry pairs the two by these names alone.

* "sample"    `sample(rng)`: a uniform valid architecture
* "mutate"    `mutate(arch, rng)`: one small valid change
* "crossover" `crossover(a, b, rng)`: a child of two parents
* "tokens"    `token_sizes()`, `to_tokens(arch)`, `from_tokens(tokens)`: a fixed sequence of
              categorical choices (a controller samples them)
* "relax"     a supernet with architecture parameters (differentiable strategies)
* "grow"      DGGAN's actions (the growth strategy)
* "shared"    `one_shot(device)`: shared weights a candidate is scored on (`supernet.OneShotNets`:
              AutoGAN's shared generator; a relaxed supernet run one path at a time); a space
              may also run its own shared-weights schedule for some strategies
              (`shared_searchers`, `shared_searcher_class()`: AutoGAN's)

An architecture (`Arch`) is a JSON value (lists, dicts of ints and strings), so a strategy
checkpoints its population as JSON. `to_genotype(arch)` is the one function that turns an
architecture of the space into (G, D or None, encoding record): the network a converter
builds for that space's published encoding (adversarialnas / autogan arrays, DEGAS's
derivation, DGGAN's grown pair). `train_pair(arch)` is the pair a standalone evaluator
trains: the genotype's own D, or — for a space that searches no discriminator (DEGAS) —
`default_discriminator`.

Token spaces (adversarialnas, degas, autogan) share `TokenSpace`: sampling is uniform over
the valid token vectors (rejection), a mutation re-draws one token to another value, a
crossover takes each token from either parent (uniform crossover), each retried until
valid. DGGAN's architecture is a route of actions from the base pair, one per step
(`max_steps`), each allowed by DGGAN's FADE forcing rule, so every route ends at the
target resolution.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from ..genotype_dsl.model import Network

Arch = Any  # a JSON value
# `need(field, ok, message)`: SearchConfig.validate's one error builder (the field's component
# path, then the message); each component's `check_config(cfg, need)` reports through it
Need = Callable[[str, bool, str], None]
CAPABILITIES = ("sample", "mutate", "crossover", "tokens", "relax", "grow", "shared")
TRIES = 10_000  # rejection draws before a space is declared unable to produce a valid architecture


def default_discriminator(df: int, size: int) -> Network:
    """The D a standalone evaluator trains with a generator-only space (DEGAS searches G by
    GLO, with no D): SNGAN's ResNet discriminator with spectral norm — AutoGAN's D
    (`genotype_dsl.encodings.sngan_discriminator`) — at the search's df and image size."""
    from ..genotype_dsl.encodings import sngan_discriminator

    return sngan_discriminator(df=df, size=size, sn=True).network


class Space:
    """One search space, built from the search config (`Space(cfg)`)."""

    name: ClassVar[str] = ""  # set by @register_space
    capabilities: ClassVar[frozenset[str]] = frozenset()
    objective: ClassVar[str] = "hinge"  # the GAN loss a standalone evaluator trains its candidates with
    # strategies the space's own shared-weights searcher runs (`shared_searcher_class`; their default
    # evaluator is then "shared"); any other strategy on shared weights: evaluators/oneshot.py
    shared_searchers: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        """The settings this space reads, checked before anything runs (`need` per setting);
        called by SearchConfig.validate for the run's space. Default: nothing of its own."""

    def floor(self) -> Any:
        """A sound lower bound of the compiled cost of every generator of this space at these
        sizes (`search.budget.Floor`): a budget below it is refused before any training."""
        raise NotImplementedError

    # capabilities -------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        raise NotImplementedError

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        raise NotImplementedError

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        raise NotImplementedError

    def token_sizes(self) -> list[int]:
        raise NotImplementedError

    def one_shot(self, device: Any) -> Any:
        """"shared": this space's shared weights (`search.supernet.OneShotNets`), freshly initialised."""
        raise NotImplementedError

    def to_tokens(self, arch: Arch) -> list[int]:
        raise NotImplementedError

    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        raise NotImplementedError

    # every space ----------------------------------------------------------------------
    def to_genotype(self, arch: Arch) -> tuple[Network, Network | None, dict[str, Any]]:
        raise NotImplementedError

    def describe(self, arch: Arch) -> str:
        return json.dumps(arch, separators=(",", ":"))

    def train_pair(self, arch: Arch) -> tuple[Network, Network]:
        """(G, D) a standalone evaluator trains: the genotype's, D defaulted where it has none."""
        g, d, _ = self.to_genotype(arch)
        return g, d if d is not None else default_discriminator(self.cfg.df, self.resolution)

    @property
    def resolution(self) -> int:
        """The generated images' size."""
        return int(self.cfg.size)

    def key(self, arch: Arch) -> str:
        """Identity of an architecture (duplicates are evaluated once)."""
        return json.dumps(arch, sort_keys=True, separators=(",", ":"))

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


class TokenSpace(Space):
    """A space whose architectures are token vectors with a validity rule."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "mutate", "crossover", "tokens"})

    def valid_tokens(self, tokens: Sequence[int]) -> bool:
        return True

    def _first_valid(self, draw: Any, what: str) -> Arch:
        for _ in range(TRIES):
            t = [int(v) for v in draw()]
            if self.valid_tokens(t):
                return self.from_tokens(t)
        raise RuntimeError(f"{self.name}: no valid {what} in {TRIES} draws")

    def sample(self, rng: np.random.Generator) -> Arch:
        sizes = self.token_sizes()
        return self._first_valid(lambda: [rng.integers(n) for n in sizes], "sample")

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """One token re-drawn to a different value (a position with one choice is never picked)."""
        base, sizes = self.to_tokens(arch), self.token_sizes()
        free = [i for i, n in enumerate(sizes) if n > 1]

        def draw() -> list[int]:
            t = list(base)
            i = free[int(rng.integers(len(free)))]
            t[i] = (t[i] + 1 + int(rng.integers(sizes[i] - 1))) % sizes[i]
            return t
        return self._first_valid(draw, "mutation")

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        ta, tb = self.to_tokens(a), self.to_tokens(b)
        return self._first_valid(lambda: [x if rng.random() < 0.5 else y for x, y in zip(ta, tb)], "crossover")
