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

from ..errors import GccGanError

METHODS = ("adversarial", "degas", "random")
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
    candidates: int = 4  # random search: architectures sampled (budget split evenly)
    n_images: int = 512  # DEGAS: GLO training images (one learnable latent each)
    n_normal: int = 1  # DEGAS: normal maps after each up-sampled map
    seed: int = 0
    log_every: int = 5
    checkpoint_every: int = 25

    @property
    def size(self) -> int:
        return self.bottom * 8

    def validate(self) -> SearchConfig:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise GccGanError(msg)

        need(self.method in METHODS, f"--method {self.method!r}: expected one of {', '.join(METHODS)}")
        need(self.preset in PRESET_NAMES, f"--preset {self.preset!r}: expected one of {', '.join(PRESET_NAMES)}")
        need(self.iters >= 1, f"--iters {self.iters}: must be at least 1")
        need(self.sampling in ("soft", "hard"), f"--sampling {self.sampling!r}: expected soft or hard")
        need(0 <= self.seed < 2**63, f"--seed {self.seed}: must be a non-negative integer")
        need(self.batch_size >= 2, f"batch size {self.batch_size}: must be at least 2")
        need(self.method != "random" or self.iters >= self.candidates,
             f"--iters {self.iters}: random search trains {self.candidates} candidates, so it needs at least "
             f"{self.candidates} iterations")
        need(not self.fixed_d or self.method == "adversarial", "--fixed-d applies to AdversarialNAS "
             "(--method adversarial) only")
        need(self.log_every >= 1 and self.checkpoint_every >= 1, "log/checkpoint intervals must be at least 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("adversarial", "tiny"): {},
    ("random", "tiny"): dict(iters=120, candidates=4),
    ("degas", "tiny"): dict(iters=150, batch_size=16, gf=16, latent=32, arch_lr=3e-3, lr=1e-3, beta1=0.5,
                            beta2=0.999, n_images=512, n_normal=1),
    ("adversarial", "paper"): dict(iters=100_000, batch_size=64, gf=256, df=128, latent=120, arch_lr=3e-4,
                                   log_every=100, checkpoint_every=1000),
    ("random", "paper"): dict(iters=100_000, batch_size=64, gf=256, df=128, latent=120, candidates=20,
                              log_every=100, checkpoint_every=1000),
    ("degas", "paper"): dict(iters=100_000, batch_size=64, gf=64, latent=128, arch_lr=3e-4, lr=1e-3,
                             beta1=0.5, beta2=0.999, n_images=50_000, n_normal=2, log_every=100,
                             checkpoint_every=1000),
}

RESUMABLE = {"iters", "log_every", "checkpoint_every"}


def make_config(method: str, preset: str, overrides: dict[str, Any]) -> SearchConfig:
    if method not in METHODS:
        raise GccGanError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if preset not in PRESET_NAMES:
        raise GccGanError(f"--preset {preset!r}: expected one of {', '.join(PRESET_NAMES)}")
    base = SearchConfig(method=method, preset=preset, **PRESETS[(method, preset)])
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None}).validate()
