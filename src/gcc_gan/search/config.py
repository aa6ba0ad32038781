"""Search settings and presets.

`tiny` finishes in a few minutes on a 2-core CPU (narrow supernets, small batches, a few
hundred iterations; architecture LR raised to 3e-3 so the logits visibly move in that
budget). `paper` is the published protocol (AdversarialNAS: gf 256 / df 128, weights Adam
lr 2e-4 betas (0, 0.9), architecture Adam lr 3e-4 betas (0.5, 0.9) weight decay 1e-4).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..bench.budget import LATENCY_BACKENDS, Budget
from ..errors import GccGanError
from .registry import LEGACY_METHODS

PRESET_NAMES = ("tiny", "paper")


@dataclass(frozen=True)
class SearchConfig:
    method: str = "adversarial"
    preset: str = "tiny"
    iters: int = 120
    batch_size: int = 8  # per half-batch (each iteration reads 2 × batch_size real images)
    gf: int = 8
    df: int = 8
    latent: int = 24
    bottom: int = 4  # image size = bottom · 8
    lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    arch_lr: float = 3e-3
    arch_beta1: float = 0.5
    arch_beta2: float = 0.9
    arch_wd: float = 1e-4
    tau_max: float = 1.0
    tau_min: float = 0.2
    sampling: str = "soft"
    fixed_d: bool = False
    n_images: int = 512  # DEGAS: GLO training images (one learnable latent each)
    n_normal: int = 1  # DEGAS: normal maps after each up-sampled map
    # AutoGAN (search/autogan.py; notes §1.3). One run-loop step is one shared-GAN D step or
    # one controller step: an iteration is shared_steps + ctrl_steps steps, so iters follows.
    search_iters: int = 9
    grow_at: tuple[int, ...] = (3, 6)
    shared_steps: int = 16
    ctrl_steps: int = 4
    n_critic: int = 2
    g_batch: int = 32
    hid: int = 32
    ctrl_lr: float = 3.5e-4
    entropy_coeff: float = 1e-4
    baseline_decay: float = 0.9
    reset_threshold: float = 1e-3
    reset_window: int = 8
    num_candidate: int = 4
    topk: int = 2
    reward: str = "is"
    reward_images: int = 64
    mode: str = "clean"
    # the search as space x strategy x evaluator (search/registry.py); `method` names the run:
    # the published method the pair is (METHOD_PRESETS), else the strategy
    space: str = "adversarialnas"
    strategy: str = "differentiable"
    evaluator: str = "shared"
    # DGGAN (search/strategies/growth.py; notes §2): top-K greedy pruning over grown G/D pairs
    dg_k: int = 2
    dg_p: float = 0.4
    d0: int = 4  # base resolution
    target: int = 16  # target resolution (the data's size); d0 · 2^n
    max_steps: int = 5
    dg_kernels: tuple[int, ...] = (3, 7)
    dg_filters: tuple[int, ...] = (8, 16, 32)
    dg_channels: int = 16  # width of the base block and of each FADE block
    init_iters: int = 80  # the base candidate's iterations
    child_iters: int = 40  # each child's iterations from inherited weights
    fade_share: float = 0.2  # α goes 0 -> 1 over this share of a FADE child's iterations
    dg_lr: float = 1e-3
    gp_weight: float = 10.0
    drift: float = 1e-3
    equalized_lr: bool = False  # ProgGAN's equalized learning rate (the paper preset; see spaces/dggan.py)
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    # ---- candidate search (issue 22, branch cand; search/candidates.py): random / evolution / reinforce
    # over any space, each candidate trained on its own (evaluators/standalone.py). One run-loop
    # iteration is one round (evolution: a generation): `population` candidates asked, each trained
    # `candidate_iters` iterations with the `objective` loss, scored by `reward`, told.
    population: int = 4
    candidate_iters: int = 30
    objective: str = ""  # "": the space's own (hinge; DGGAN: wgan-gp with lr dg_lr and the drift term)
    evolution_cost: str = "macs"  # evolution's second objective: compiled macs or params
    # ---- the one-shot shared-weights evaluator (evaluators/oneshot.py): the supernet's training
    # steps before the `iters` rounds score candidates on its weights
    supernet_iters: int = 200
    # ---- end of the candidate-search block
    # budgets on the compiled generator (compiler/cost.py, search/budget.py); None: no limit
    max_macs: int | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None
    latency_backend: str = "torch"
    # initial Lagrange multiplier of each limited quantity: 0, so a budget the search never
    # exceeds leaves it exactly as without one (a positive start would push α to cheap ops
    # for its first ~λ/budget_lr steps even under a slack budget)
    budget_lambda: float = 0.0
    budget_lr: float = 0.1  # its dual-ascent step per iteration
    # candidate health (search/health.py): collapsed below this fraction of the data's per-pixel
    # std over the latents; 0 turns the collapse check off (tests of other things on micro runs)
    min_diversity: float = 0.25
    seed: int = 0
    log_every: int = 5
    checkpoint_every: int = 25

    @property
    def size(self) -> int:
        return self.bottom * 8

    @property
    def budget(self) -> Budget:
        return Budget(self.max_macs, self.max_params, self.max_latency_ms, self.latency_backend)

    def validate(self) -> SearchConfig:
        """The common checks, then each component's own (`check_config` of the run's space,
        strategy and evaluator classes, search/registry.py); every error names the setting's
        path (`strategy.dg_k: ...`)."""
        def need(field: str, ok: bool, msg: str) -> None:
            if not ok:  # the setting's path in the per-component view, then what is wrong
                raise GccGanError(f"{COMPONENT[field]}.{field}: {msg}")

        from .registry import EVALUATORS, SPACES, STRATEGIES, check_pair, preset_of

        # an unknown name: a usage error naming the known ones
        space, strategy, evaluator = SPACES.get(self.space), STRATEGIES.get(self.strategy), EVALUATORS.get(self.evaluator)
        check_pair(self.space, self.strategy, self.evaluator)
        need("evaluator", strategy.evaluator in (None, self.evaluator), f"--strategy {self.strategy} evaluates on "
             f"its own terms ({strategy.evaluator}); --evaluator {self.evaluator} does not apply to it")
        need("method", self.method == (preset_of(self.space, self.strategy, self.evaluator) or self.strategy),
             f"method {self.method!r} does not name --space {self.space} --strategy {self.strategy}")
        need("preset", self.preset in PRESET_NAMES,
             f"--preset {self.preset!r}: expected one of {', '.join(PRESET_NAMES)}")
        need("iters", self.iters >= 1, f"--iters {self.iters}: must be at least 1")
        need("sampling", self.sampling in ("soft", "hard"), f"--sampling {self.sampling!r}: expected soft or hard")
        need("seed", 0 <= self.seed < 2**63, f"--seed {self.seed}: must be a non-negative integer")
        need("batch_size", self.batch_size >= 2, f"batch size {self.batch_size}: must be at least 2")
        need("population", self.population >= 2, f"{self.population}: must be at least 2")
        need("evolution_cost", self.evolution_cost in ("macs", "params"),
             f"{self.evolution_cost!r}: expected macs or params")
        need("fixed_d", not self.fixed_d or self.method == "adversarial", "--fixed-d applies to AdversarialNAS "
             "(--method adversarial) only")
        need("log_every", self.log_every >= 1 and self.checkpoint_every >= 1,
             "log/checkpoint intervals must be at least 1")
        need("latency_backend", self.latency_backend in LATENCY_BACKENDS,
             f"--latency-backend {self.latency_backend!r}: expected one "
             f"of {', '.join(LATENCY_BACKENDS)}")
        need("max_macs", all(v is None or v > 0 for v in (self.max_macs, self.max_params, self.max_latency_ms)),
             "--max-macs / --max-params / --max-latency must be positive")
        need("min_diversity", 0 <= self.min_diversity < float("inf"),
             f"min_diversity {self.min_diversity}: must be >= 0")
        need("budget_lambda", self.budget_lambda >= 0 and self.budget_lr >= 0,
             "budget multiplier and its step must be >= 0")
        for check in (evaluator.check_config, space.check_config, strategy.check_config):
            check(self, need)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def components(self) -> dict[str, dict[str, Any]]:
        """The settings per component (space, strategy, evaluator, budget, run): the view a
        setting's path names (`strategy.dg_k`); the flat fields stay the searchers' view."""
        out: dict[str, dict[str, Any]] = {c: {} for c in COMPONENTS}
        for k, v in self.to_dict().items():
            out[COMPONENT[k]][k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "strategy" not in kw:  # a run from before the space x strategy split: its method says which
            kw["method"], kw["space"], kw["strategy"], kw["evaluator"] = resolve(
                kw.get("method", "adversarial"), kw.get("space") if kw.get("method") == "random" else None, None, None)
            if kw["strategy"] == "differentiable":
                from .registry import METHOD_PRESETS

                kw["reward"] = METHOD_PRESETS[kw["method"]].reward
        for key in ("grow_at", "dg_kernels", "dg_filters"):  # JSON lists
            if key in kw:
                kw[key] = tuple(int(v) for v in kw[key])
        return cls(**kw)


# Each setting's component: SearchConfig is one flat, frozen record (what the searchers read and
# search.json stores, so a run resumes with exactly its settings), grouped here into the five
# components a search is made of; a validation error names the setting by this path.
COMPONENTS = ("space", "strategy", "evaluator", "budget", "run")
_GROUPS: dict[str, tuple[str, ...]] = {
    "space": ("space", "gf", "df", "latent", "bottom", "n_normal", "d0", "target", "dg_kernels", "dg_filters",
              "dg_channels", "equalized_lr"),
    "strategy": ("strategy", "lr", "beta1", "beta2", "arch_lr", "arch_beta1", "arch_beta2", "arch_wd", "tau_max",
                 "tau_min", "sampling", "fixed_d", "population", "evolution_cost", "n_images", "search_iters", "grow_at",
                 "shared_steps", "ctrl_steps", "n_critic", "g_batch", "hid", "ctrl_lr", "entropy_coeff",
                 "baseline_decay", "reset_threshold", "reset_window", "num_candidate", "topk", "mode", "dg_k", "dg_p",
                 "max_steps", "init_iters", "child_iters", "fade_share", "dg_lr", "gp_weight", "drift"),
    "evaluator": ("evaluator", "reward", "reward_images", "min_diversity", "executor", "address", "workers",
                  "candidate_iters", "objective", "supernet_iters"),
    "budget": ("max_macs", "max_params", "max_latency_ms", "latency_backend", "budget_lambda", "budget_lr"),
    "run": ("method", "preset", "iters", "batch_size", "seed", "log_every", "checkpoint_every"),
}
COMPONENT: dict[str, str] = {f: c for c, fs in _GROUPS.items() for f in fs}

PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("adversarial", "tiny"): {},
    ("random", "tiny"): dict(reward_images=256),  # random x autogan on the shared GAN: its reward's images
    # candidate search (search/candidates.py; any strategy evaluated standalone): `iters` rounds
    # (generations) of `population` candidates, each trained `candidate_iters` iterations with the
    # AdversarialNAS GAN optimiser, scored by the SWD proxy (no Inception weights needed).
    # Applied over the space's published sizes (gf, latent, bottom, batch)
    ("candidates", "tiny"): dict(iters=4, population=6, candidate_iters=30, reward="swd", reward_images=256,
                                 lr=2e-4, beta1=0.0, beta2=0.9, log_every=1, checkpoint_every=1),
    # single-path one-shot (evaluators/oneshot.py; ours): `supernet_iters` steps of the shared
    # weights, then `iters` rounds of `population` candidates scored on them (each costs a reward,
    # not a training), so the rounds are many and cheap; over the space's published sizes
    ("oneshot", "tiny"): dict(supernet_iters=300, iters=6, population=8, reward="swd", reward_images=128,
                              lr=2e-4, beta1=0.0, beta2=0.9, log_every=25, checkpoint_every=100),
    # GLO must fit each image's latent before its reconstructions differ: 150 iterations over 512
    # images (each latent stepped ~5 times) gave mean images (0.035 of the data's per-pixel std,
    # refused as collapsed); 400 over 64 at lr 3e-3 give 0.56 / 0.60 (seeds 0 / 1)
    ("degas", "tiny"): dict(iters=400, batch_size=16, gf=16, latent=32, arch_lr=3e-3, lr=3e-3, beta1=0.5,
                            beta2=0.999, n_images=64, n_normal=1),
    ("adversarial", "paper"): dict(iters=100_000, batch_size=64, gf=256, df=128, latent=120, arch_lr=3e-4,
                                   log_every=100, checkpoint_every=1000),
    ("random", "paper"): dict(reward_images=256),
    # ours (no published protocol trains standalone candidates in these spaces): 20 generations of 20
    ("candidates", "paper"): dict(iters=20, population=20, candidate_iters=5000, reward="fid", reward_images=5000,
                                  lr=2e-4, beta1=0.0, beta2=0.9, log_every=1, checkpoint_every=1),
    # SPOS's schedule: 20 generations of 50 over a supernet trained for its own budget
    ("oneshot", "paper"): dict(supernet_iters=100_000, iters=20, population=50, reward="fid", reward_images=5000,
                               lr=2e-4, beta1=0.0, beta2=0.9, log_every=100, checkpoint_every=1000),
    ("degas", "paper"): dict(iters=100_000, batch_size=64, gf=64, latent=128, arch_lr=3e-4, lr=1e-3,
                             beta1=0.5, beta2=0.999, n_images=50_000, n_normal=2, log_every=100,
                             checkpoint_every=1000),
    # notes §1.7 (ours): 16×16 data, bottom 2 -> stages at 4/8/16, all three cells and skips
    ("autogan", "tiny"): dict(iters=9 * (16 + 4), batch_size=16, g_batch=32, gf=16, df=16, latent=32, bottom=2,
                              hid=32, n_critic=2, search_iters=9, grow_at=(3, 6), shared_steps=16, ctrl_steps=4,
                              num_candidate=4, topk=2, entropy_coeff=1e-4, reset_window=8, reward_images=64,
                              log_every=4, checkpoint_every=20),
    # the published protocol (paper + exps/autogan_search.sh); shared_steps: 15 epochs of CIFAR-10
    # at D batch 64 (ceil(50,000 / 64) = 782 batches per epoch: the official loader keeps the last one)
    ("autogan", "paper"): dict(iters=65 * (15 * 782 + 30), batch_size=64, g_batch=128, gf=128, df=64, latent=128,
                               bottom=4, hid=100, n_critic=5, search_iters=65, grow_at=(15, 35),
                               shared_steps=15 * 782, ctrl_steps=30, num_candidate=10, topk=5, entropy_coeff=1e-3,
                               reset_threshold=1e-3, reset_window=500, reward="is", reward_images=5000,
                               log_every=100, checkpoint_every=1000),
    # notes §2.7 (ours): 16×16 data, 4 -> 16 (two FADEs), |A| = 13, K 2, p 0.4, 5 steps
    ("dggan", "tiny"): dict(batch_size=16, latent=32, reward="fid", reward_images=128),
    # the published protocol (notes §2.4): CIFAR 8 -> 32, K 20, p 0.4, |A| = 25, 100k iterations per
    # candidate, latent 128; pytorch_GAN_zoo: lr 1e-3, batch 16, λ 10, drift 1e-3; max_steps is ours
    ("dggan", "paper"): dict(batch_size=16, latent=128, reward="fid", reward_images=10_000, dg_k=20, dg_p=0.4, d0=8,
                             target=32, max_steps=10, dg_kernels=(3, 7), dg_filters=(32, 64, 128, 256, 512, 1024),
                             dg_channels=512, init_iters=100_000, child_iters=100_000, equalized_lr=True),
}

RESUMABLE = {"iters", "log_every", "checkpoint_every", "executor", "address", "workers"}



def resolve(method: str | None, space: str | None, strategy: str | None, evaluator: str | None,
            ) -> tuple[str, str, str, str]:
    """(method, space, strategy, evaluator) from the flags: `--method M` is its preset's triple
    (a flag contradicting it is a usage error); otherwise a missing space or strategy is the one
    of the published method that has the other (adversarialnas x differentiable when neither),
    the evaluator is the strategy's own, else shared weights where the space runs that strategy on
    its own shared-weights schedule (AutoGAN: reinforce, random), else standalone."""
    from ..errors import BadValue
    from .registry import METHOD_PRESETS, SPACES, STRATEGIES, preset_of

    if method in LEGACY_METHODS:
        if strategy not in (None, method):
            raise BadValue(f"--method {method} is --strategy {method}; leave one of them out")
        method, strategy = None, method
    if method is not None:
        if method not in METHOD_PRESETS:
            raise BadValue(f"--method {method!r}: expected one of {', '.join((*METHOD_PRESETS, *LEGACY_METHODS))}")
        p = METHOD_PRESETS[method]
        for flag, given, want in (("space", space, p.space), ("strategy", strategy, p.strategy),
                                  ("evaluator", evaluator, p.evaluator)):
            if given is not None and given != want:
                raise BadValue(f"--method {method} is --space {p.space} --strategy {p.strategy} --evaluator "
                               f"{p.evaluator}: --{flag} {given} contradicts it (leave --method out to choose "
                               "the triple yourself)")
        return method, p.space, p.strategy, p.evaluator
    if strategy is None:
        strategy = next((p.strategy for p in METHOD_PRESETS.values() if p.space == space), "differentiable")
    if space is None:
        space = next((p.space for p in METHOD_PRESETS.values() if p.strategy == strategy), "adversarialnas")
    sp, st = SPACES.get(space), STRATEGIES.get(strategy)
    fixed = st.evaluator
    if evaluator is None:
        evaluator = fixed or ("shared" if strategy in sp.shared_searchers else "standalone")
    elif fixed is not None and evaluator != fixed:
        raise BadValue(f"--strategy {strategy} evaluates on its own terms ({fixed}); --evaluator {evaluator} "
                       "does not apply to it")
    return preset_of(space, strategy, evaluator) or strategy, space, strategy, evaluator


def make_config(method: str | None, preset: str, overrides: dict[str, Any]) -> SearchConfig:
    """A new run's settings: the flags' triple (`resolve`), the preset's values for its strategy
    and then its space (the space's published method's sizes and schedule), then the flags."""
    from .registry import METHOD_PRESETS, searcher_class

    if preset not in PRESET_NAMES:
        raise GccGanError(f"--preset {preset!r}: expected one of {', '.join(PRESET_NAMES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    method, space, strategy, evaluator = resolve(method, given.pop("space", None), given.pop("strategy", None),
                                                 given.pop("evaluator", None))
    home = next(m for m, p in METHOD_PRESETS.items() if p.space == space)
    if method in METHOD_PRESETS:
        values = {"reward": METHOD_PRESETS[method].reward, **PRESETS[(method, preset)]}
    elif schedule := searcher_class(space, strategy, evaluator).schedule:  # the space's sizes, its searcher's schedule
        values = {**PRESETS[(home, preset)], **PRESETS[(schedule, preset)]}
    else:
        values = {**PRESETS.get((strategy, preset), {}), **PRESETS[(home, preset)]}
    base = SearchConfig(method=method, preset=preset, space=space, strategy=strategy, evaluator=evaluator, **values)
    return dataclasses.replace(base, **given).validate()
