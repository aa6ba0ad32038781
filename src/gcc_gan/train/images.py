"""Sample grids as PNG files, written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torchvision.utils import make_grid

from ..atomic import atomic_write_bytes


def grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (3, H', W') in [0, 1] with 1-pixel gaps."""
    return make_grid(images.float().clamp(-1, 1).add(1).div(2), nrow=nrow, padding=1, pad_value=1.0)


def save_png(img: torch.Tensor, path: Path) -> None:
    """(C, H, W) in [0, 1] -> PNG."""
    from PIL import Image

    arr = img.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    save_png(grid(images, nrow), path)


def save_side_by_side(real: torch.Tensor, fake: torch.Tensor, path: Path, nrow: int = 8, gap: int = 8) -> None:
    """Real images (left) and generated ones (right), one PNG."""
    a, b = grid(real, nrow), grid(fake, nrow)
    h = max(a.shape[1], b.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, 0, 0, h - t.shape[1]), value=1.0)  # noqa: E731
    save_png(torch.cat([pad(a), torch.ones(3, h, gap), pad(b)], dim=2), path)
