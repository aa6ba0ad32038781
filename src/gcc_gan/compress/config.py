"""Settings of a `gcc-gan compress` run and its presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import GccGanError

METRICS = ("swd", "fid", "kid")


@dataclass(frozen=True)
class CompressConfig:
    iters: int = 20_000  # supernet steps (each: largest, smallest and `n_random` random students)
    finetune_iters: int = 5_000  # steps of each winner alone
    batch_size: int = 32
    n_random: int = 2  # random students per step besides the largest and the smallest (sandwich rule)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    w_rec: float = 10.0  # L1 image reconstruction against the teacher (GAN Compression's λ_recon)
    w_feat: float = 1.0  # feature distillation at the matched nodes (normalised MSE)
    w_adv: float = 0.05  # hinge G term with the teacher's (frozen) discriminator, when the weights hold one
    evaluations: int = 200  # students scored per budget (random, then evolution)
    population: int = 16  # the random students that seed the evolution
    num_samples: int = 2048  # images per metric evaluation (and real / teacher reference images)
    eval_samples: int = 256  # latents of the final PSNR comparison
    bn_batches: int = 8  # batches of `batch_size` re-estimating a student's batch-norm statistics
    metric: str = "swd"
    seed: int = 0
    checkpoint_every: int = 1000
    latency: bool = True  # measure onnxruntime latency (batch 1 and 64) in the comparison

    def validate(self) -> CompressConfig:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise GccGanError(msg)

        need(self.iters >= 1, f"--iters {self.iters}: must be at least 1")
        need(self.finetune_iters >= 0, f"--finetune-iters {self.finetune_iters}: must be 0 or more")
        need(2 <= self.batch_size <= 4096, f"--batch-size {self.batch_size}: must be between 2 and 4096")
        need(self.evaluations >= 1, f"--evaluations {self.evaluations}: must be at least 1")
        need(self.num_samples >= 2, f"--num-samples {self.num_samples}: must be at least 2")
        need(self.metric in METRICS, f"--metric {self.metric!r}: expected one of {', '.join(METRICS)}")
        need(0 <= self.seed < 2**63, f"--seed {self.seed}: must be a non-negative integer")
        need(self.checkpoint_every >= 1, "--checkpoint-every must be at least 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompressConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # minutes on a 2-core CPU for a quarter-width (or narrower) autogan-a teacher
    "tiny": dict(iters=300, finetune_iters=100, batch_size=16, n_random=1, evaluations=12, population=6,
                 num_samples=128, eval_samples=64, bn_batches=4, checkpoint_every=100),
}


def make_config(preset: str | None, overrides: dict[str, Any]) -> CompressConfig:
    if preset is not None and preset not in PRESETS:
        raise GccGanError(f"--preset {preset!r}: expected one of {', '.join(PRESETS)}")
    base = dataclasses.replace(CompressConfig(), **PRESETS[preset or "paper"])
    given = {k: v for k, v in overrides.items() if v is not None}
    iters = given.get("iters", base.iters)
    given.setdefault("checkpoint_every", min(base.checkpoint_every, max(1, iters // 2)))
    return dataclasses.replace(base, **given).validate()
