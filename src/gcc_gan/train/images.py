"""Sample grids as PNG files, written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..atomic import atomic_write_bytes

if TYPE_CHECKING:
    from PIL import Image


def grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (3, H', W') in [0, 1] with 1-pixel gaps."""
    from torchvision.utils import make_grid  # torchvision takes seconds to import: only when a grid is made

    return make_grid(images.float().clamp(-1, 1).add(1).div(2), nrow=nrow, padding=1, pad_value=1.0)


def to_pil(img: torch.Tensor) -> "Image.Image":
    """(C, H, W) in [0, 1] -> a PIL image."""
    from PIL import Image

    arr = img.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr)


def _write_png(pil: "Image.Image", path: Path) -> None:
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def save_png(img: torch.Tensor, path: Path) -> None:
    """(C, H, W) in [0, 1] -> PNG."""
    _write_png(to_pil(img), path)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    save_png(grid(images, nrow), path)


LABEL_BAND = 14  # pixels above the grids for their "real" / "fake" captions


def save_side_by_side(real: torch.Tensor, fake: torch.Tensor, path: Path, nrow: int = 8, gap: int = 8) -> None:
    """Real images (left) and generated ones (right), one PNG, each grid captioned."""
    save_panels([("real", real), ("fake", fake)], path, nrow, gap)


def save_panels(panels: list[tuple[str, torch.Tensor]], path: Path, nrow: int = 8, gap: int = 8) -> None:
    """Image grids side by side in one PNG, each captioned."""
    from PIL import ImageDraw

    grids = [grid(images, nrow) for _, images in panels]
    h = max(g.shape[1] for g in grids)
    pad = lambda t: torch.nn.functional.pad(t, (0, 0, LABEL_BAND, h - t.shape[1]), value=1.0)  # noqa: E731
    parts: list[torch.Tensor] = []
    for g in grids:
        parts += [pad(g), torch.ones(3, h + LABEL_BAND, gap)]
    pil = to_pil(torch.cat(parts[:-1], dim=2))
    draw = ImageDraw.Draw(pil)
    x0 = 0
    for (text, _), g in zip(panels, grids):
        draw.text((x0 + (g.shape[2] - draw.textlength(text)) / 2, 1), text, fill=(0, 0, 0))
        x0 += g.shape[2] + gap
    _write_png(pil, path)
