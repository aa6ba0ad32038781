"""Generated images as pixels: the one [-1, 1] float → uint8 RGB conversion.

It is the papers' evaluation code's (`x * 127.5 + 127.5`, clamped, truncated): the IS / FID /
KID features (bench), the samples `gcc-gan sample` writes (runtime) and the uint8 ONNX graph
torch-fidelity reads (export/hub.py traces it) all see the same images.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import GccGanError


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float images -> uint8 RGB, as the papers' evaluation code converts them."""
    if images.dim() != 4:
        raise GccGanError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    elif images.shape[1] != 3:
        raise GccGanError(f"IS / FID / KID need RGB (or grayscale) images, the generator makes {images.shape[1]} "
                          "channels")
    return images.mul(127.5).add_(127.5).clamp_(0.0, 255.0).to(torch.uint8)
