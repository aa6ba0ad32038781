"""The embedded default dataset: procedural images with visible, discrete structure.

Each image is one foreground shape (disc, square or three vertical stripes) in one of six
saturated colours, jittered in position and size, on a smooth two-colour gradient
background (four palettes, random direction). 3 × 6 × 4 modes plus continuous variation:
easy to judge by eye whether a GAN has learned it (crisp shapes, right colours, no
mode collapse), small enough for a small DCGAN on a laptop CPU within minutes. Fully
deterministic (fixed seed); needs no files.
"""

from __future__ import annotations

import numpy as np

FG = np.array([[230, 40, 40], [40, 200, 60], [40, 90, 235], [245, 210, 30], [240, 240, 240], [200, 50, 220]],
              dtype=np.float32)
BG = np.array([[[20, 30, 60], [70, 110, 160]],     # dusk blue
               [[60, 30, 20], [170, 120, 70]],     # sand
               [[15, 50, 30], [90, 150, 100]],     # moss
               [[40, 40, 40], [130, 130, 130]]],   # grey
              dtype=np.float32)
SHAPES = ("disc", "square", "stripes")


def synthetic_images(n: int, size: int, seed: int = 20240607) -> np.ndarray:
    """uint8 (n, 3, size, size)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for start in range(0, n, 1024):  # bounded memory at large sizes
        m = min(1024, n - start)
        out[start:start + m] = _render(rng, m, size)
    return out


def _render(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    shape = rng.integers(0, len(SHAPES), n)
    fg = FG[rng.integers(0, len(FG), n)]
    bg = BG[rng.integers(0, len(BG), n)]
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    cx = (size / 2 + rng.uniform(-size / 6, size / 6, n)).astype(np.float32)
    cy = (size / 2 + rng.uniform(-size / 6, size / 6, n)).astype(np.float32)
    r = (size * rng.uniform(0.2, 0.3, n)).astype(np.float32)

    c = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(c, c, indexing="ij")  # (S, S)
    # background: gradient along a random direction, t in [0, 1]
    t = ((xx - size / 2)[None] * np.cos(angle)[:, None, None] + (yy - size / 2)[None] * np.sin(angle)[:, None, None])
    t = np.clip(t / np.float32(size) + np.float32(0.5), 0, 1)[:, None]  # (n, 1, S, S)
    img = bg[:, 0, :, None, None] * (1 - t) + bg[:, 1, :, None, None] * t

    dx = xx[None] - cx[:, None, None]
    dy = yy[None] - cy[:, None, None]
    rr = r[:, None, None]
    # signed distance in pixels -> anti-aliased coverage
    disc = np.sqrt(dx * dx + dy * dy) - rr
    box = np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * rr
    period = rr * np.float32(2 / 3)
    u = np.mod(dx + rr, period) - period / 2
    stripes = np.maximum(box, np.abs(u) - period / 4)
    sdf = np.where((shape == 0)[:, None, None], disc, np.where((shape == 1)[:, None, None], box, stripes))
    cover = np.clip(0.5 - sdf, 0, 1)[:, None]
    img = img * (1 - cover) + fg[:, :, None, None] * cover
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
