"""What the search run loop needs from a searcher: one interface for every (space, strategy)
pair, with defaults for what most searchers do alike (run.py calls each of these, never
looks for a method with `hasattr`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..distributed import SINGLE, DataParallel
from ..errors import BadValue
from ..genotype_dsl.model import Network, Provenance
from ..seeding import mix_seed
from .config import SearchConfig, resolve


class Searcher:
    """One search method. `step(s, reals)` runs iteration `s` on `reals` (2 × batch real
    images — under data parallel this rank's shard of each half —, or the global indices
    for DEGAS) and returns its losses (the mean over the ranks); all randomness of iteration `s`
    comes from `self.gen(s, sub)`, so a resumed run repeats an uninterrupted one."""

    reads_images: bool = True  # False: step() gets dataset indices (DEGAS)
    reads_data: bool = True  # False: the loop loads no data and step() gets None (DGGAN: jobs read it)
    n_items: int = 0  # with reads_images False: how many items the indices range over
    own_progress: bool = False  # True: the searcher shows its own progress (DGGAN: the executor's)
    # the settings only some searchers read that this one does (`--population`, `--k`, ...): a
    # flag for one it does not read is a usage error, not silently ignored (`refuse_unread` below)
    settings: frozenset[str] = frozenset()
    # a searcher that runs in any space: its schedule's PRESETS key (config.make_config lays it
    # over the space's published sizes); None: the published method's own preset
    schedule: str | None = None

    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self._gen = torch.Generator()
        self.dp: DataParallel = SINGLE  # set by the run loop under torch.distributed (distributed.py)
        # set by the run loop: write a checkpoint now, numbered `seq`, recording `step` steps
        # done (a searcher whose step is long checkpoints inside it: DGGAN, after each child)
        self.checkpoint: Callable[[int, int], None] = lambda seq, step: None

    @classmethod
    def build(cls, cfg: SearchConfig, device: torch.device, space: Any, strategy: Any) -> Searcher:
        """This searcher for `cfg` (`space`, `strategy`: the run's registered classes, for the
        searchers that take them; `registry.searcher_class` picks the class)."""
        return cls(cfg, device)

    def gen(self, s: int, sub: int) -> torch.Generator:
        return self._gen.manual_seed(mix_seed(self.cfg.seed, s, sub))

    def randn(self, n: int, dim: int, s: int, sub: int) -> Tensor:
        # drawn in float32 on the CPU whatever the default dtype and device, so a float64
        # or CUDA run sees the same numbers
        return torch.randn(n, dim, generator=self.gen(s, sub), dtype=torch.float32).to(
            self.device, torch.get_default_dtype())

    # to override ---------------------------------------------------------------------
    def steps(self) -> int:
        """The run loop's number of steps."""
        return self.cfg.iters

    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        raise NotImplementedError

    def bind_run(self, out: Path, data_spec: str, console: Any) -> None:
        """The run directory, the data spec and the console, before anything else is called."""

    def preflight(self) -> None:
        """Checks that must fail before the run directory is made (missing weights, say)."""

    def session(self) -> contextlib.AbstractContextManager[Any]:
        """Held around all the steps of one process (DGGAN: its executor's workers)."""
        return contextlib.nullcontext()

    def bind_data(self, data: Any) -> None:
        """The loaded data, before the first step (reward images, a GLO training set)."""

    def describe(self) -> str:
        """What the run line says after the method's name: "(tiny preset, ...)"."""
        cfg = self.cfg
        what = f", {cfg.space} space" if cfg.method != cfg.space.replace("adversarialnas", "adversarial") else ""
        if cfg.evaluator == "shared" and cfg.strategy != "differentiable":  # AutoGAN's: which loss and reward
            what += (f", {cfg.mode} mode" if cfg.strategy == "reinforce" else "") + f", reward {cfg.reward}"
        return f"({cfg.preset} preset{what})"

    def history_record(self, step: int, losses: dict[str, float], elapsed: float) -> dict[str, Any] | None:
        """The history.jsonl line for a logged step (None: the searcher writes its own lines)."""
        return {"step": step, **{k: round(v, 6) for k, v in losses.items()}, "elapsed_s": round(elapsed, 2),
                "probs": self.probabilities(), **self.log_extra()}

    def log_due(self, step: int) -> bool:
        """Whether the loop writes a history line after `step`."""
        return step % self.cfg.log_every == 0 or step == self.steps()

    def checkpoint_due(self, step: int) -> bool:
        """Whether the loop checkpoints after `step` (False: the searcher calls `checkpoint`)."""
        return step % self.cfg.checkpoint_every == 0 or step == self.steps()

    def resumed_step(self, seq: int, state: dict[str, Any]) -> int:
        """The steps done by the checkpoint numbered `seq` whose state (JSON) is `state`."""
        return int(state.get("steps_done", seq))

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """State beyond modules and optimizers, as JSON (checkpoints hold no pickle)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Called before module / optimizer states are loaded (it may rebuild them)."""

    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        """{network: {edge: op probabilities}} (empty for searchers without α)."""
        return {}

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        return {}

    def log_extra(self) -> dict[str, Any]:
        return {}

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        """(generator, discriminator or None, encoding record, metrics)."""
        raise NotImplementedError

    def reward_protocol(self, data: str) -> dict[str, Any] | None:
        """How candidates were scored (search/rewards.py `reward_protocol`), for the provenance's
        `evaluation`;
        None for a searcher that scores no candidates (the differentiable ones)."""
        return None

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images in [-1, 1] from the current supernet / candidate (for a preview grid)."""
        raise NotImplementedError

    # the results (run._finish) -------------------------------------------------------
    def health_summary(self) -> str | None:
        """One line on the scored candidates' health (None: the searcher scores none)."""
        return None

    def kept_health(self) -> dict[str, Any] | None:
        """The emitted candidate's health as checked when it was scored (None: check the
        final samples against the data, run.final_health)."""
        return None

    def provenance_extra(self) -> dict[str, Any]:
        """{"search_cost": {...}, "notes": str} beside the run loop's own record."""
        return {}

    def result_name(self) -> str:
        """The emitted genotype's name."""
        return f"{self.cfg.method}-search-seed{self.cfg.seed}"

    def provenance(self, prov: Provenance) -> Provenance:
        """The record the run loop wrote, as this searcher keeps it (default: unchanged)."""
        return prov

    def write_outputs(self, out: Path) -> None:
        """The searcher's own results beside genotype.json (default: its history's pictures)."""
        from .plots import plot_history

        plot_history(out / "history.jsonl", self.op_names(), out, self.cfg.method)

    def pareto_candidates(self, out: Path) -> tuple[list[Any], str, bool] | None:
        """(candidates, score name, higher is better) for pareto.csv; None: the searcher has none."""
        return None


_FLAGS = {"dg_k": "--k", "dg_p": "--p"}  # settings whose flag is not --setting-name


def refuse_unread(method: str | None, overrides: dict[str, Any]) -> None:
    """A usage error for a flag given to a search that does not read it (`--population` to
    a differentiable search, `--k` to a candidate search): accepted and ignored, it would look
    honoured. The flags in question are the settings some searchers read and others do not
    (`Searcher.settings`)."""
    from .registry import searcher_class

    given = {k for k, v in overrides.items() if v is not None and v is not False}
    _, space, strategy, evaluator = resolve(method, overrides.get("space"), overrides.get("strategy"),
                                            overrides.get("evaluator"))
    cls = searcher_class(space, strategy, evaluator)
    todo, scoped = [Searcher], set()
    while todo:  # every searcher class (the registries imported them all)
        c = todo.pop()
        scoped |= set(c.settings)
        todo.extend(c.__subclasses__())
    unread = sorted(given & scoped - set(cls.settings))
    if unread:
        flags = ", ".join(_FLAGS.get(k, "--" + k.replace("_", "-")) for k in unread)
        reads = ", ".join(_FLAGS.get(k, "--" + k.replace("_", "-")) for k in sorted(cls.settings))
        raise BadValue(f"{flags}: not read by a search of --space {space} --strategy {strategy} --evaluator "
                       f"{evaluator} (of the method-specific flags it reads {reads or 'none'}); leave "
                       f"{'it' if len(unread) == 1 else 'them'} out")


def adam(params: list[nn.Parameter], lr: float, b1: float, b2: float, wd: float = 0.0) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(b1, b2), weight_decay=wd)


def apply_grads(loss: Tensor, params: list[nn.Parameter], opt: torch.optim.Optimizer,
                dp: DataParallel = SINGLE) -> None:
    """Gradients of `loss` w.r.t. `params` only (none wasted on the other parameters),
    averaged over the data-parallel ranks (`loss` is the mean over this rank's shard), step."""
    if loss.requires_grad:
        grads: Sequence[Tensor | None] = torch.autograd.grad(loss, params, allow_unused=True)
    else:  # the loss does not reach them (hard sampling drew 'none' on every path of D): no gradient,
        # zeros under data parallel so that every rank joins the same all-reduce
        grads = [torch.zeros_like(p) if dp.active else None for p in params]
    dp.average(grads)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p in params:
        p.grad = None
