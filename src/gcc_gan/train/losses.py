"""GAN losses: hinge (default; SNGAN / AutoGAN / AdversarialNAS), non-saturating (the
original GAN's practical form) and WGAN-GP. Each D loss takes D's logits on real and fake
images; each G loss takes D's logits on fakes."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSSES = ("hinge", "ns", "wgan-gp")


def d_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "ns":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()  # + gradient_penalty, added by the trainer
    raise ValueError(kind)


def g_loss(kind: str, fake: Tensor) -> Tensor:
    if kind == "ns":
        return F.softplus(-fake).mean()
    return -fake.mean()  # hinge and WGAN: maximise D's score on fakes


def gradient_penalty(d: nn.Module | Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """WGAN-GP: E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = α·real + (1−α)·fake (Gulrajani et al. 2017)."""
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
