"""Zip checkpoints bounded before extraction (no torch here: `gcc-gan import` checks a
file before it imports torch).

A zip checkpoint whose members declare more bytes
than `archive_bound` (16 × the float32 bytes of the genotype's generator and
discriminator at the asked width, or at 1.5 × its own width when the width is inferred,
plus 64 MB) is refused by its declared sizes. A training checkpoint holds each network
about three times (weights, EMA copy, two Adam moments of the optimiser), so that leaves
ample slack for real checkpoints while a deflate bomb (2 MB expanding to 2 GB) is
refused in milliseconds instead of meeting the OOM killer.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GccGanError
from ..genotype_dsl.model import Genotype

ARCHIVE_SLACK = 16
ARCHIVE_BASE = 64 * 10**6


def archive_bound(g: Genotype, width: float | None = None) -> int:
    """The most bytes a zip checkpoint of `g`'s networks may expand to (see the module
    docstring): without `width`, the bound allows the checkpoint to be 1.5 × as wide."""
    from ..genotype_dsl.analysis import analyze_genotype

    params = sum(i.params for i in analyze_genotype(g).values())
    scale = (width if width is not None else 1.5) ** 2  # parameters grow with the square of the width
    return int(ARCHIVE_SLACK * 4 * params * scale) + ARCHIVE_BASE


def check_archive(p: Path, bound: int) -> None:
    """Refuse a zip whose members declare more than `bound` bytes, before extracting any."""
    import zipfile

    if not zipfile.is_zipfile(p):
        return  # legacy format: read as it is stored, no expansion
    from ..genotype_dsl.memory import fmt_bytes

    try:
        with zipfile.ZipFile(p) as zf:
            declared = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise GccGanError(f"{p}: a damaged zip archive ({e})") from None
    if declared > bound:
        raise GccGanError(f"{p}: its archive members expand to {fmt_bytes(declared)} ({fmt_bytes(p.stat().st_size)} "
                          f"on disk), more than any checkpoint of this genotype holds (at most {fmt_bytes(bound)}); "
                          "refusing to extract it")


