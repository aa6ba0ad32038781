"""What `gcc-gan sample` checks before it loads anything (no torch here, so a bad `-o` or
`-n` fails in a fraction of a second): the output's kind from its name, whether it may be
replaced, and whether memory and disk can hold what it will write."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal, Sequence

from ..errors import BadValue, GccGanError

SAMPLES_JSON = "samples.json"  # written into a sample folder: its provenance, and the --force marker


def check_sample_args(n: int, batch_size: int) -> None:
    if n < 1:
        raise GccGanError(f"-n {n}: need at least one image")
    if batch_size < 1:
        raise GccGanError(f"--batch-size {batch_size}: must be at least 1")


# suffixes of files `-o` cannot write: refused rather than taken for a folder's name
# (`-o grid.jpg` would otherwise become a directory of PNGs called grid.jpg)
FILE_SUFFIXES = frozenset((".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".svg",
                           ".pdf", ".eps", ".npy", ".pt", ".pth", ".pkl", ".pickle", ".h5", ".hdf5", ".zip", ".tar",
                           ".gz", ".json", ".csv", ".txt", ".safetensors", ".onnx"))


def output_kind(out: str | os.PathLike[str]) -> Literal["folder", "npz", "grid"]:
    """What `-o` names, by its suffix read case-insensitively (`x.NPZ` is an npz)."""
    name = Path(out).name
    if not name or name.endswith(".") and name not in (".", ".."):
        raise BadValue(f"-o {out}: the name ends in '.'; give a folder name, NAME.npz or NAME.png")
    suffix = Path(out).suffix.lower()
    if suffix in FILE_SUFFIXES:
        raise GccGanError(f"-o {out}: gcc-gan sample writes a folder of PNGs (a name without a file suffix), "
                          f"an .npz or a grid .png, not a {suffix} file")
    return "npz" if suffix == ".npz" else "grid" if suffix == ".png" else "folder"


def check_output(out: str | os.PathLike[str], force: bool = False) -> None:
    """Refuse to replace an existing output without `force`, and with it anything that is
    not a previous output of the same kind (a folder needs its samples.json)."""
    p = Path(out)
    kind = output_kind(p)
    if p.is_symlink() or (p.exists() and (p.is_dir() != (kind == "folder"))):
        raise GccGanError(f"-o {p}: exists and is not a {'directory' if kind == 'folder' else 'file'}")
    if kind == "folder" and p.is_dir() and any(p.iterdir()):
        if not force:
            raise GccGanError(f"-o {p}: already exists; replace it with --force (Python: force=True)")
        if not (p / SAMPLES_JSON).is_file():
            raise GccGanError(f"-o {p}: exists and is not a gcc-gan sample folder (no {SAMPLES_JSON}); refusing "
                              "to replace it with --force (choose another -o)")
    elif kind != "folder" and p.exists() and not force:
        raise GccGanError(f"-o {p}: already exists; replace it with --force (Python: force=True)")


PNG_OVERHEAD = 1024  # bytes a PNG may take beyond its raw pixels (headers; incompressible noise)


def _grid_shape(n: int, h: int, w: int, c: int, pad: int = 1) -> tuple[int, int, int]:
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    return rows * (h + pad) + pad, cols * (w + pad) + pad, c


def check_resources(out: str | os.PathLike[str], n: int, image_shape: Sequence[int], batch_size: int) -> None:
    """Refuse, before sampling, an output that cannot fit: the disk it needs (at most the
    raw pixels plus a PNG header per image) against the free space where it goes, and
    the memory a grid needs (every image and the grid) or one batch needs (images in
    float32 and uint8, the latents) against --max-memory (see genotype_dsl.memory)."""
    import shutil

    from ..atomic import _size
    from ..genotype_dsl.memory import check_resident, fmt_bytes

    c, h, w = (list(image_shape) + [1, 1, 1])[:3]
    kind = output_kind(out)
    raw = h * w * 3  # uint8 RGB (grayscale is written as RGB)
    if kind == "grid":
        gh, gw, _ = _grid_shape(n, h, w, 3)
        disk = gh * gw * 3 + PNG_OVERHEAD
        mem = n * raw + gh * gw * 3
    else:
        disk = n * (raw + PNG_OVERHEAD) if kind == "folder" else n * raw + 4096
        mem = min(n, batch_size) * (raw + 2 * c * h * w * 4)
    where = Path(os.path.abspath(out)).parent
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if disk > free:
        raise GccGanError(f"-o {out}: {n} images need about {fmt_bytes(disk)} of disk, and {where} has "
                          f"{_size(free)} free; free some space, choose another -o or a smaller -n")
    check_resident(f"sample of {n} images" if kind == "grid" else "sample", extra=mem)


