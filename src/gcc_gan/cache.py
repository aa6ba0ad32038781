"""The one gcc-gan cache directory: `$GCC_GAN_CACHE`, else `$XDG_CACHE_HOME/gcc-gan`
(`~/.cache/gcc-gan`). Real-data statistics (bench/stats.py), folder scans (train/data.py)
and random Inception weights (scale) keep their files in sub-directories of it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(*parts: str) -> Path:
    """The cache directory, or `parts` joined below it (not created here)."""
    env = os.environ.get("GCC_GAN_CACHE")
    xdg = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    base = Path(env).expanduser() if env else xdg / "gcc-gan"
    return base.joinpath(*parts)
