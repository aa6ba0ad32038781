"""Once-for-all distillation: the student supernet trained on the teacher's outputs.

Each step draws one latent batch (seeded by (seed, step): a resumed run sees exactly the
latents an uninterrupted one does), runs the teacher (eval mode, its deployed behaviour) and
then the sandwich of students — the largest, the smallest and `n_random` random ones — on
the same latents, each in training mode (batch statistics), accumulating the gradients of

    w_rec · L1(student image, teacher image)
  + w_feat · mean over matched nodes of ‖P·f_student − f_teacher‖² / ‖f_teacher‖²
  + w_adv · hinge generator loss under the teacher's frozen discriminator (when there is one)

into the shared tensors, then one Adam step. A student is scored only after its batch-norm
statistics are re-estimated on its own activations (`recalibrate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoints import Checkpoint, optim_join, optim_split, write_checkpoint
from ..compiler.interpreter import Interpreter
from ..compiler.pipeline import load_weights
from ..genotype_dsl.analysis import NetInfo
from ..seeding import mix_seed
from .config import CompressConfig
from .shared import SharedWeights
from .space import Arch

# sub-streams of the seed: one per use, so no two phases draw the same numbers
SUPERNET, FINETUNE, RECAL, EVAL, REFERENCE, SEARCH, SCRATCH = range(7)


def latents(n: int, dim: int, *parts: int) -> Tensor:
    """`n` standard-normal latents from a generator seeded by `parts`."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(mix_seed(*parts)))


@dataclass
class Teacher:
    """The teacher generator run as a probe (image + matched features), eval mode, and its
    discriminator when the weights hold one."""

    net: nn.Module
    latent_dim: int
    d: nn.Module | None = None

    @torch.no_grad()
    def __call__(self, z: Tensor) -> tuple[Tensor, list[Tensor]]:
        out = self.net(z)
        return out[0], list(out[1:])


def distill_loss(cfg: CompressConfig, img: Tensor, feats: list[Tensor], projections: list[Tensor],
                 t_img: Tensor, t_feats: list[Tensor], d: nn.Module | None) -> Tensor:
    loss = cfg.w_rec * (img - t_img).abs().mean()
    if feats and cfg.w_feat > 0:
        terms = [(torch.einsum("oc,nchw->nohw", p, f) - tf).pow(2).mean() / tf.pow(2).mean().clamp_min(1e-8)
                 for f, p, tf in zip(feats, projections, t_feats)]
        loss = loss + cfg.w_feat * torch.stack(terms).mean()
    if d is not None and cfg.w_adv > 0:
        loss = loss - cfg.w_adv * d(img).mean()
    return loss


class Supernet:
    """The shared weights, their optimiser and the step counter of the supernet phase."""

    def __init__(self, shared: SharedWeights, teacher: Teacher, cfg: CompressConfig) -> None:
        self.shared, self.teacher, self.cfg = shared, teacher, cfg
        self.opt = torch.optim.Adam(shared.params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.step = 0

    def sandwich(self, step: int) -> list[Arch]:
        space = self.shared.space
        rng = np.random.default_rng(mix_seed(self.cfg.seed, SUPERNET, step, 1))
        return [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(self.cfg.n_random))]

    def train_step(self) -> float:
        cfg = self.cfg
        z = latents(cfg.batch_size, self.teacher.latent_dim, cfg.seed, SUPERNET, self.step)
        t_img, t_feats = self.teacher(z)
        self.opt.zero_grad(set_to_none=True)
        total = 0.0
        for arch in self.sandwich(self.step):
            img, feats, info = self.shared.run(arch, z)
            loss = distill_loss(cfg, img, feats, self.shared.projections(info), t_img, t_feats, self.teacher.d)
            loss.backward()
            total += float(loss.detach())
        self.opt.step()
        self.step += 1
        return total

    # -- checkpoints -------------------------------------------------------------------
    def save(self, root: Path, extra: dict | None = None) -> Path:
        opt_t, opt_meta = optim_split(self.opt, "adam")
        return write_checkpoint(root, self.step, {"shared": self.shared.named(), "optimizer": opt_t},
                                {"optimizer": opt_meta, "phase": "supernet", **(extra or {})})

    def restore(self, ck: Checkpoint) -> None:
        self.shared.load(ck.tensors["shared"])
        optim_join(self.opt, "adam", ck.tensors.get("optimizer", {}), ck.state["optimizer"])
        self.step = ck.step


def reset_batchnorm(module: nn.Module) -> list[tuple[nn.Module, float | None]]:
    found = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            m.reset_running_stats()
            found.append((m, m.momentum))
            m.momentum = None  # a cumulative average over the re-estimation batches
    return found


@torch.no_grad()
def recalibrate(module: nn.Module, cfg: CompressConfig, latent_dim: int, tag: int = 0) -> nn.Module:
    """Re-estimate `module`'s batch-norm statistics on its own activations (fixed latents),
    leave it in eval mode."""
    found = reset_batchnorm(module)
    if found:
        module.train()
        for b in range(cfg.bn_batches):
            module(latents(cfg.batch_size, latent_dim, cfg.seed, RECAL, tag, b))
        for m, momentum in found:
            m.momentum = momentum
    return module.eval()


def concrete_student(info: NetInfo, state: dict[str, Tensor]) -> Interpreter:
    """A student as a module of its own (the probe network: image + matched features)."""
    net = Interpreter(info, training=True)
    load_weights(net, state, what="student")
    return net


def finetune(net: Interpreter, projections: list[Tensor], teacher: Teacher, cfg: CompressConfig, iters: int,
             tag: int, on_step: Callable[[int], None] | None = None) -> Interpreter:
    """Train one student alone by the same distillation losses (its projections too), then
    re-estimate its batch-norm statistics. Deterministic given (seed, tag)."""
    projs = [p.clone().requires_grad_(True) for p in projections]
    opt = torch.optim.Adam([*net.parameters(), *projs], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    net.train()
    for step in range(iters):
        z = latents(cfg.batch_size, teacher.latent_dim, cfg.seed, FINETUNE, tag, step)
        t_img, t_feats = teacher(z)
        out = net(z)
        loss = distill_loss(cfg, out[0], list(out[1:]), projs, t_img, t_feats, teacher.d)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step + 1)
    return recalibrate(net, cfg, teacher.latent_dim, tag)


def image_only(net: nn.Module) -> Callable[[Tensor], Tensor]:
    """The image output of a probe network (its first output)."""
    def run(z: Tensor) -> Tensor:
        out = net(z)
        return out[0] if isinstance(out, tuple) else out
    return run


@torch.no_grad()
def generate(fn: Callable[[Tensor], Tensor], z: Tensor, batch: int = 64) -> Tensor:
    return torch.cat([fn(z[i:i + batch]) for i in range(0, len(z), batch)]).float()
