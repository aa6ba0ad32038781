"""The standalone evaluator's job: each candidate G/D pair trained on its own, as an executor job
(local processes or Ray), and scored (evaluators/standalone.py registers the evaluator).

`train_pair(spec)` is the job: any (G, D) Network pair trained with the shared GAN trainer
(`train.GanTrainer`) — objective `hinge` (AdversarialNAS's) or `wgan-gp` (DGGAN's, with
ProgGAN's drift term), n_critic 1, Adam lr/betas from the spec —, optionally from a parent's
weights with ProgGAN's fade-in (DGGAN's growth: `parent_weights`, `fade_share`,
`equalized_lr`), then health-checked (search/health.py: losses, weights, the samples'
diversity) and scored by the search reward (search/rewards.py `Reward`: `swd` — swd-real
x1e3, no weights needed, the tiny default — or `fid` / `is` where the Inception weights
exist). A diverged or collapsed candidate comes back with its status and no score: it is
never told to a strategy as good (`strategy.Scored.fitness` is -inf), never on a front,
never the winner. A deterministic function of the spec (seeded initialisation, data order,
latents), so local, Ray and a resumed run give the same bytes.

A space with no discriminator of its own (DEGAS) is trained against
`search.space.default_discriminator` (SNGAN's D with spectral norm).

With one local worker the jobs run in this process (`InlineExecutor`: no process start-up,
the dataset the run loaded is reused); with more, or `--executor ray`, each job loads the
data from its spec (`dataset`, cached per worker process).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from ...genotype_dsl.model import Network

_DATA: dict[tuple[str, int], Any] = {}  # (data spec, size) -> dataset, per process
_REWARDS: dict[tuple[Any, ...], Any] = {}  # one Reward (real statistics, Inception) per process and setting


def bind(spec: str, size: int, data: Any) -> None:
    """Register an already loaded dataset under its spec (the run loop's, for inline jobs)."""
    _DATA[(spec, size)] = data


def dataset(spec: str, size: int) -> Any:
    """The dataset of `spec` at `size`, loaded once per process (a worker trains many candidates)."""
    from ...train.data import load_dataset

    if (spec, size) not in _DATA:
        _DATA[(spec, size)] = load_dataset(spec, size)
    return _DATA[(spec, size)]


def weights_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})


def split_weights(blob: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A pair's weights file (`generator.*`, `discriminator.*` keys) as G's and D's state dicts."""
    g = {k[len("generator."):]: v for k, v in blob.items() if k.startswith("generator.")}
    d = {k[len("discriminator."):]: v for k, v in blob.items() if k.startswith("discriminator.")}
    return g, d


def load_bytes(blob: bytes) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    return load(blob)


def _reward(spec: dict[str, Any], data: Any, device: torch.device) -> Any:
    from ..rewards import Reward

    key = (spec["reward"], spec["reward_images"], spec["data"], spec["size"], spec.get("inception_weights"),
           spec.get("min_diversity"), spec.get("real_seed", 0), str(device))
    if key not in _REWARDS:
        _REWARDS[key] = Reward(spec["reward"], spec["reward_images"], data, device, batch_size=64,
                               inception_weights=spec.get("inception_weights"), real_seed=spec.get("real_seed", 0),
                               min_diversity=spec.get("min_diversity"))
    return _REWARDS[key]


def train_pair(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one candidate pair and score it; its record (scores, health, compiled-free
    sizes) and, as safetensors bytes, the trained G (`g_weights`) — or, with spec['dir'],
    the settled genotype and both networks' weights written there (DGGAN's layout)."""
    from ...genotype_dsl.model import Genotype
    from ...train.config import TrainConfig
    from ...train.data import SampleOrder
    from ...train.trainer import GanTrainer
    from ..health import DIVERGED, Health, loss_health, weights_health
    from ..rewards import resize
    from ..spaces.dggan import FadeNet, alpha_at, equalized_lr, inherit, settle

    t0 = time.perf_counter()
    g_net, d_net = Network.model_validate(spec["g"]), Network.model_validate(spec["d"])
    seed, iters, latent, res = int(spec["seed"]), int(spec["iters"]), int(spec["latent"]), int(spec["resolution"])
    torch.manual_seed(seed)  # the fresh layers' initialisation
    g, d = FadeNet(g_net), FadeNet(d_net)  # a plain interpreter for a network without a fade
    copied: dict[str, set[str]] = {"g": set(), "d": set()}
    if spec.get("parent_weights"):
        from safetensors.torch import load_file

        pg, pd = split_weights(load_file(spec["parent_weights"]))
        copied = {"g": set(inherit(g, pg)), "d": set(inherit(d, pd))}
    fading = bool(g.fade or d.fade)
    wgan = spec["loss"] == "wgan-gp"
    cfg = TrainConfig(iters=iters, batch_size=spec["batch_size"], d_batch_size=spec.get("d_batch_size",
                      spec["batch_size"]), n_critic=1, loss=spec["loss"], lr_g=spec["lr"], lr_d=spec["lr"],
                      beta1=spec["beta1"], beta2=spec["beta2"], lr_decay=False, ema=0.0,
                      gp_weight=spec.get("gp_weight", 10.0), drift=spec.get("drift", 0.0) if wgan else 0.0,
                      seed=seed, amp="off").validate()
    device = torch.device(spec.get("device", "cpu"))  # CPU: bit-reproducible across executors
    trainer = GanTrainer(g, d, latent, cfg, device)
    if spec.get("equalized_lr"):  # per-layer Adam LR + He init of the fresh layers (spaces/dggan.py)
        for key, net in (("g", trainer.g), ("d", trainer.d)):
            fresh = {n for n, _ in net.named_parameters()} - copied[key]
            setattr(trainer, f"opt_{key}", equalized_lr(net, fresh, spec["lr"], (cfg.beta1, cfg.beta2)))
        trainer.g_ema.load_state_dict(trainer.g.state_dict())
    data = dataset(spec["data"], spec["size"])
    order = SampleOrder(len(data), seed)
    per = cfg.d_batch_size  # real images per iteration
    health = Health()
    for t in range(iters):
        a = alpha_at(t, iters, spec.get("fade_share", 1.0)) if fading else 1.0
        for net in (trainer.g, trainer.d, trainer.g_ema):
            net.alpha = a  # type: ignore[assignment]
        real = resize(data.batch(order.indices(t * per, per)), res)
        r = trainer.train_step([real])
        health = loss_health({"d_loss": float(r.d_loss), "g_loss": float(r.g_loss)})
        if not health.ok:
            health = Health(DIVERGED, f"iteration {t + 1}: {health.reason}")
            break
    # the grown networks alone (α = 1): a fading pair's old paths dropped
    gs, ds = settle(g_net), settle(d_net)
    g_out, d_out = FadeNet(gs), FadeNet(ds)
    for mod, trained in ((g_out, trainer.g), (d_out, trainer.d)):
        sd = {k: v.cpu() for k, v in trained.state_dict().items()}
        mod.load_state_dict({k: sd[k] for k in mod.state_dict()}, strict=True)
    if health.ok:
        health = weights_health(g_out.parameters())
    rec: dict[str, Any] = {"metric": None, "score": None, "reward": None, "swd": None, "diversity": None}
    if health.ok:  # the same latents for every candidate
        sc = _reward(spec, data, device).score(g_out.to(device), latent, res, int(spec["reward_seed"]))
        health = sc.health
        finite = math.isfinite(sc.value)
        rec = {"metric": sc.metric, "score": sc.value if finite else None, "reward": sc.reward if finite else None,
               "swd": sc.swd, "diversity": sc.health.diversity}
    g_bytes = weights_bytes(g_out.state_dict())
    rec.update(status=health.status, reason=health.reason or None, iters=iters, fading=fading,
               wall_s=round(time.perf_counter() - t0, 2))
    if spec.get("dir"):
        import hashlib

        from ...atomic import atomic_write_bytes, atomic_write_text

        out = Path(spec["dir"])
        out.mkdir(parents=True, exist_ok=True)
        blob = weights_bytes({**{f"generator.{k}": v for k, v in g_out.state_dict().items()},
                              **{f"discriminator.{k}": v for k, v in d_out.state_dict().items()}})
        atomic_write_bytes(out / "weights.safetensors", blob)
        atomic_write_text(out / "genotype.json", Genotype(name=spec["id"], generator=gs, discriminator=ds).to_json())
        rec["sha256"] = hashlib.sha256(blob).hexdigest()
    else:
        rec["g_weights"] = g_bytes
    return rec


class InlineExecutor:
    """Runs jobs in this process, in order (one local worker): the executor interface's
    `run` and `session`, without a process start-up per worker."""

    def __init__(self, console: Any = None) -> None:
        self.console = console

    def session(self) -> Any:
        import contextlib

        return contextlib.nullcontext(self)

    def run(self, jobs: list[Any], on_result: Any = None, progress: bool = False, label: str = "jobs") -> list[Any]:
        from ...executor.base import JobResult, run_job

        out = []
        for job in jobs:
            att = run_job(job)
            res = JobResult(job.key, att.ok, att.value, att.error, 1, att.wall_s, [] if att.ok else [att.error or ""])
            if on_result is not None:
                on_result(res)
            out.append(res)
        return out


def job_executor(cfg: Any, console: Any = None, data_spec: str = "") -> Any:
    """The executor a search's candidate jobs run on (the candidate loop's, DGGAN growth's):
    one local worker runs them in this process (`InlineExecutor`), as does data bound to this
    process; else `--executor` with `--workers`."""
    from ...executor import default_workers, make_executor

    workers = default_workers() if cfg.workers is None else cfg.workers
    if cfg.executor == "local" and (workers == 1 or data_spec.startswith("bound:")):
        return InlineExecutor(console)
    return make_executor(cfg.executor, workers, retries=1, address=cfg.address, console=console)


class StandaloneEvaluator:
    """Trains and scores a list of architectures of `space` (one job each)."""

    def __init__(self, space: Any, cfg: Any, device: torch.device, data: Any, data_spec: str | None = None,
                 console: Any = None, inception_weights: str | None = None) -> None:
        self.space, self.cfg, self.device = space, cfg, device
        self.data_spec = data_spec or f"bound:{id(data)}"  # a loaded dataset only this process can read
        self.console = console
        self.inception_weights = inception_weights
        bind(self.data_spec, cfg.size, data)
        self.n_real = min(cfg.reward_images, len(data))
        self._ex: Any = None

    def session(self) -> Any:
        """Keep the executor's workers up across `evaluate` calls (one per round)."""
        return self.executor().session()

    @property
    def objective(self) -> str:
        return str(self.cfg.objective or self.space.objective)  # "": the space's own loss

    def executor(self) -> Any:
        if self._ex is None:
            self._ex = self._make_executor()
        return self._ex

    def _make_executor(self) -> Any:
        return job_executor(self.cfg, self.console, self.data_spec)

    def job_spec(self, arch: Any, seed: int) -> dict[str, Any]:
        cfg = self.cfg
        g, d = self.space.train_pair(arch)
        wgan = self.objective == "wgan-gp"
        return {"g": g.model_dump(mode="json", exclude_none=True), "d": d.model_dump(mode="json", exclude_none=True),
                "seed": seed, "iters": cfg.candidate_iters, "latent": cfg.latent, "batch_size": cfg.batch_size,
                "d_batch_size": cfg.batch_size if wgan else 2 * cfg.batch_size, "loss": self.objective,
                "lr": cfg.dg_lr if wgan else cfg.lr, "beta1": 0.0 if wgan else cfg.beta1,
                "beta2": 0.99 if wgan else cfg.beta2, "gp_weight": cfg.gp_weight, "drift": cfg.drift,
                "data": self.data_spec, "size": cfg.size, "resolution": self.space.resolution,
                "reward": cfg.reward, "reward_images": self.n_real, "reward_seed": cfg.seed % 2**32,
                "real_seed": cfg.seed, "min_diversity": cfg.min_diversity,
                "inception_weights": self.inception_weights, "device": "cpu"}

    def protocol(self, data: str) -> dict[str, Any]:
        from ..rewards import reward_protocol

        return reward_protocol(self.cfg.reward, self.n_real, self.n_real, data, self.cfg.seed % 2**32,
                               self.inception_weights)

    def evaluate(self, archs: list[Any], seeds: list[int], keys: list[str]) -> list[dict[str, Any]]:
        """One record per architecture (in order): the job's, or status 'failed' with its error."""
        from ...executor.base import Job

        jobs = [Job(k, train_pair, (self.job_spec(a, s),), threads=1) for a, s, k in zip(archs, seeds, keys)]
        results = self.executor().run(jobs, progress=False, label="candidates")
        return [r.value if r.ok else {"status": "failed", "reason": r.error, "score": None, "reward": None}
                for r in results]


__all__ = ["InlineExecutor", "StandaloneEvaluator", "bind", "dataset", "job_executor", "load_bytes", "split_weights", "train_pair", "weights_bytes"]
