"""Training settings and the two presets.

`paper` is the protocol of SNGAN / AutoGAN / AdversarialNAS (hinge loss, Adam lr 2e-4
betas (0, 0.9), n_critic 5, G batch 128 / D batch 64, EMA of G, linear LR decay to 0,
50k generator iterations): `make_config(None, ...)`, and what `gcc-gan train` picks
without --preset when it trains on a GPU (gcc_gan.presets). `tiny` is sized
so `gcc-gan train zoo:dcgan --data synthetic --preset tiny` learns the synthetic data
recognisably in a few minutes on a 2-core CPU (quarter width, batch 32, n_critic 1, Adam
lr 5e-4 betas (0.5, 0.999) as in the SNGAN paper's standard-CNN setting, 1,700 iterations with
linear LR decay, EMA 0.999).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import GccGanError
from .losses import LOSSES

AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    iters: int = 50_000  # generator iterations; each runs n_critic D steps first
    batch_size: int = 128  # generator batch
    d_batch_size: int = 64  # discriminator batch (real and fake)
    n_critic: int = 5
    loss: str = "hinge"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    lr_decay: bool = True  # linear to 0 at `iters`
    ema: float = 0.999  # EMA decay of G's weights (0 = off); warmed up as min(ema, (1+t)/(10+t))
    gp_weight: float = 10.0  # WGAN-GP only
    drift: float = 0.0  # WGAN-GP only: ProGAN's drift penalty ε·E[D(real)²] (pytorch_GAN_zoo epsilonD 1e-3)
    width: float = 1.0  # G width multiplier
    d_width: float = 1.0  # D width multiplier
    seed: int = 0
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 100
    amp: str = "auto"  # CUDA only: auto (bf16 where supported, else fp16), off, bf16, fp16

    def validate(self) -> "TrainConfig":
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise GccGanError(msg)

        need(self.iters >= 1, f"--iters {self.iters}: must be at least 1")
        need(1 <= self.batch_size <= 65536, f"--batch-size {self.batch_size}: must be between 1 and 65536")
        need(1 <= self.d_batch_size <= 65536, f"--d-batch-size {self.d_batch_size}: must be between 1 and 65536")
        need(1 <= self.n_critic <= 100, f"--n-critic {self.n_critic}: must be between 1 and 100")
        need(self.loss in LOSSES, f"--loss {self.loss!r}: expected one of {', '.join(LOSSES)}")
        for name, lr in (("--lr", self.lr_g), ("--d-lr", self.lr_d)):
            need(0 < lr < 1e3, f"{name} {lr}: must be positive")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, f"Adam betas ({self.beta1}, {self.beta2}) must be in [0, 1)")
        need(self.drift >= 0, f"drift {self.drift}: must be non-negative")
        need(0 <= self.ema < 1, f"--ema {self.ema}: must be in [0, 1) (0 turns EMA off)")
        need(0 < self.width <= 64, f"--width {self.width}: must be a positive multiplier (e.g. 0.25)")
        need(0 < self.d_width <= 64, f"--d-width {self.d_width}: must be a positive multiplier")
        need(0 <= self.seed < 2**63, f"--seed {self.seed}: must be a non-negative integer")
        for name in ("checkpoint_every", "sample_every", "log_every"):
            v = getattr(self, name)
            need(v >= 1, f"--{name.replace('_', '-')} {v}: must be at least 1")
        need(self.amp in AMP_MODES, f"--amp {self.amp!r}: expected one of {', '.join(AMP_MODES)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # quarter width (gf 16, df 16), batch 32, 1,700 iterations with linear LR decay and EMA
    # 0.999: ~2.5 min wall on 2 cores; chosen over G 1/8 + D 1/4 with 2,000 iterations
    # (similar cost, fewer colour modes) by looking at the final grids. lr 5e-4 (not 2e-4):
    # at 2e-4 this short budget ends with colour blobs; 5e-4 learns the stripes and discs
    "tiny": dict(iters=1700, batch_size=32, d_batch_size=32, n_critic=1, beta1=0.5, beta2=0.999, lr_decay=True,
                 lr_g=5e-4, lr_d=5e-4,
                 ema=0.999, width=0.25, d_width=0.25, checkpoint_every=250, sample_every=250, log_every=25),
}


def make_config(preset: str | None, overrides: dict[str, Any]) -> TrainConfig:
    """Preset defaults, then the explicitly given options (None = not given)."""
    if preset is not None and preset not in PRESETS:
        raise GccGanError(f"--preset {preset!r}: expected one of {', '.join(PRESETS)}")
    base = dataclasses.replace(TrainConfig(), **PRESETS[preset or "paper"])
    given = {k: v for k, v in overrides.items() if v is not None}
    if "width" in given and "d_width" not in given:
        given["d_width"] = given["width"]  # scale D with G unless told otherwise
    if "batch_size" in given and "d_batch_size" not in given:
        given["d_batch_size"] = given["batch_size"]
    # the checkpoint interval never exceeds the run; a preset's never skips a short run's
    # mid-run checkpoint (tiny: 250 > --iters 50 gave none before the end)
    iters = given.get("iters", base.iters)
    if "checkpoint_every" in given:
        given["checkpoint_every"] = min(given["checkpoint_every"], max(1, iters))
    else:
        given["checkpoint_every"] = min(base.checkpoint_every, max(1, iters // 2))
    return dataclasses.replace(base, **given).validate()
