"""The GAN training step, shared by `gcc-gan train` and the searchers.

One iteration = `n_critic` discriminator steps then one generator step, then the EMA
update of G. All randomness of an iteration (latents, WGAN-GP mixing weights) comes from
a generator seeded by (seed, step, substep), and the data order is a pure function of
(seed, step) too (`data.SampleOrder`), so on CPU a run is bit-reproducible and a resumed
run ends with exactly the weights of an uninterrupted one.

Speed, over a straightforward loop: G's forward in the D step runs under no_grad (no
graph kept for a `.detach()`); D's parameters stop requiring grad during the G step (no
weight gradients nobody uses); Adam and the EMA run as foreach kernels. On CUDA: channels
last and autocast (bf16, or fp16 with a grad scaler).

Data parallel (`gcc_gan.distributed`, `dp`): `reals` are this rank's shards, latents and
mixing weights are drawn for the global batch (the same on every rank) and sliced, the
gradients are averaged over the ranks before the optimizer (and grad-scaler) step, and the
returned losses are the ranks' mean: N workers train as one process on the global batch.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor, nn

from ..distributed import SINGLE, DataParallel
from ..seeding import mix_seed
from .config import TrainConfig
from .losses import d_loss, g_loss, gradient_penalty


@dataclass
class StepResult:
    d_loss: Tensor  # of the last critic step (detached)
    g_loss: Tensor


class GanTrainer:
    """Trains `g` (latent (N, latent_dim) -> images) against `d` (images -> (N, 1) logits).
    `step` counts completed generator iterations."""

    def __init__(self, g: nn.Module, d: nn.Module, latent_dim: int, cfg: TrainConfig,
                 device: torch.device | str = "cpu", g_ema: nn.Module | None = None,
                 dp: DataParallel = SINGLE) -> None:
        self.cfg, self.dp = cfg, dp
        self.device = torch.device(device)
        self.latent_dim = latent_dim
        cuda = self.device.type == "cuda"
        self.memory_format = torch.channels_last if cuda else torch.contiguous_format
        self.g = g.to(self.device, memory_format=self.memory_format).train()
        self.d = d.to(self.device, memory_format=self.memory_format).train()
        ema = g_ema if g_ema is not None else copy.deepcopy(g)
        ema.load_state_dict(g.state_dict())
        self.g_ema = ema.to(self.device, memory_format=self.memory_format).eval().requires_grad_(False)
        self._g_params = [p for p in self.g.parameters()]
        self._d_params = [p for p in self.d.parameters()]
        self._ema_params = [p for p in self.g_ema.parameters()]
        self._g_buffers = list(self.g.buffers())
        self._ema_buffers = list(self.g_ema.buffers())
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self._g_params, lr=cfg.lr_g, betas=betas, foreach=True)
        self.opt_d = torch.optim.Adam(self._d_params, lr=cfg.lr_d, betas=betas, foreach=True)
        self.amp_dtype = _amp_dtype(cfg.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.rng = torch.Generator(device=self.device)
        self.step = 0

    # ------------------------------------------------------------------ helpers

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _seeded(self, sub: int) -> torch.Generator:
        return self.rng.manual_seed(mix_seed(self.cfg.seed, self.step, sub))

    def latents(self, n: int, gen: torch.Generator) -> Tensor:
        return torch.randn(n, self.latent_dim, generator=gen, device=self.device)

    def lr_at(self, step: int) -> float:
        """Multiplier of the base LR at `step`: linear decay to 0 at cfg.iters, if enabled."""
        return max(0.0, 1.0 - step / self.cfg.iters) if self.cfg.lr_decay else 1.0

    def _set_lr(self) -> None:
        f = self.lr_at(self.step)
        for opt, base in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:  # `lr_mult`: a group's own scale (equalized LR)
                group["lr"] = base * f * group.get("lr_mult", 1.0)

    def prepare_real(self, real: Tensor) -> Tensor:
        return real.to(self.device, non_blocking=True, memory_format=self.memory_format)

    @contextlib.contextmanager
    def _frozen_d(self) -> Iterator[None]:
        for p in self._d_params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self._d_params:
                p.requires_grad_(True)

    def _optimize(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        # scaled gradients averaged: an inf on any rank reaches all, so all skip alike
        self.dp.average_grads([p for g in opt.param_groups for p in g["params"]])
        self.scaler.step(opt)
        self.scaler.update()

    # ------------------------------------------------------------------ the step

    def d_step(self, real: Tensor, sub: int) -> Tensor:
        cfg = self.cfg
        gen = self._seeded(sub)
        n = real.shape[0] * self.dp.world  # the global D batch
        z = self.dp.shard(self.latents(n, gen))
        with torch.no_grad(), self._autocast():
            fake = self.g(z)
        with self._autocast():
            real_out = self.d(real)
            loss = d_loss(cfg.loss, real_out, self.d(fake))
        if cfg.loss == "wgan-gp" and cfg.drift > 0:  # keeps the critic's output near 0 (ProGAN)
            loss = loss + cfg.drift * real_out.float().pow(2).mean()
        if cfg.loss == "wgan-gp":
            alpha = self.dp.shard(torch.rand(n, 1, 1, 1, generator=gen, device=self.device))
            # the penalty's double backward stays in fp32: its gradient norm is sensitive
            loss = loss + cfg.gp_weight * gradient_penalty(self.d, real.float(), fake.float(), alpha)
        self._optimize(loss, self.opt_d)
        return loss.detach()

    def g_step(self) -> Tensor:
        z = self.dp.shard(self.latents(self.cfg.batch_size, self._seeded(self.cfg.n_critic)))
        with self._frozen_d(), self._autocast():
            loss = g_loss(self.cfg.loss, self.d(self.g(z)))
        self._optimize(loss, self.opt_g)
        return loss.detach()

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.cfg.ema <= 0:
            torch._foreach_copy_(self._ema_params, self._g_params)
        else:
            t = self.step
            decay = min(self.cfg.ema, (1 + t) / (10 + t))  # warm-up: early EMA follows G closely
            torch._foreach_lerp_(self._ema_params, self._g_params, 1.0 - decay)
        if self._g_buffers:  # BN running statistics follow the raw G
            torch._foreach_copy_(self._ema_buffers, self._g_buffers)

    def train_step(self, reals: list[Tensor]) -> StepResult:
        """One iteration: a D step per real batch in `reals` (n_critic of them), a G step,
        the EMA update."""
        assert len(reals) == self.cfg.n_critic
        self._set_lr()
        dl = torch.zeros(())
        for k, real in enumerate(reals):
            dl = self.d_step(self.prepare_real(real), k)
        gl = self.g_step()
        self.update_ema()
        self.step += 1
        if self.dp.active:
            dl, gl = self.dp.mean_tensors([dl, gl])
        return StepResult(dl, gl)

    @torch.no_grad()
    def sample(self, z: Tensor, ema: bool = True) -> Tensor:
        """Images in [-1, 1] on the CPU, from the EMA generator (eval mode) by default."""
        net = self.g_ema if ema else self.g
        was = net.training
        net.eval()
        try:
            with self._autocast():
                out = net(z.to(self.device))
        finally:
            net.train(was)
        return out.float().cpu().contiguous()

    def weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in (*self._g_params, *self._d_params))


def _amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or mode == "off":
        return None  # mixed precision is a GPU feature; on CPU everything runs in fp32
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16
