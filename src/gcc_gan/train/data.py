"""Datasets addressed by a spec string, read from local paths only (never downloaded).

    cifar10:PATH[?split=train|test|all]       CIFAR-10 python batches
    stl10:PATH[?split=train|test|unlabeled|train+unlabeled]   STL-10 binary, 48×48 default
    folder:PATH[?strict=1&max_pixels=N]       any directory of images, recursive
    lsun:PATH[?max_pixels=N]                  an LSUN lmdb (optional extra: pip install 'gcc-gan[lsun]')
    synthetic[?n=N]                           the embedded procedural default (no files)
    digits                                    scikit-learn's bundled 1,797 8×8 handwritten digits,
                                              upsampled (32×32 default; optional extra: pip install 'gcc-gan[digits]')

Every dataset yields float32 batches (B, 3, size, size) in [-1, 1]. Which samples form
batch k is a pure function of (seed, k) (`SampleOrder`), so a resumed run reads exactly
the data an uninterrupted one would.

A folder is scanned once when opened, reading only each file's header (cached by file
size and mtime, so a second run re-reads only what changed): unreadable, empty and
oversized files are reported with a count and skipped (`?strict=1` stops instead). An
image is decoded only if it has at most `max_pixels` pixels (default `DEFAULT_MAX_PIXELS`,
~34 M, a 100 MB RGB buffer; PIL's own bomb limit is 179 M): a 493 KB PNG can declare
13000² pixels and decode to 2.6 GB. A file whose header reads but whose data does not
decode during training is skipped the same way (the next readable image takes its place,
deterministically), unless strict.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import cache_root
from ..console import warn
from ..errors import GccGanError

KINDS = ("cifar10", "stl10", "folder", "lsun", "synthetic", "digits")
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
DEFAULT_MAX_PIXELS = 32 * 2**20  # decoded pixels per image: 100 MB as RGB, far below PIL's 179 M
SCAN_CACHE_VERSION = 1


class ImageDataset(Protocol):
    description: str
    size: int

    def __len__(self) -> int: ...

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        """float32 (len(indices), 3, size, size) in [-1, 1]."""
        ...


@dataclass(frozen=True)
class DataSpec:
    kind: str
    path: Path | None
    options: dict[str, str]

    @property
    def text(self) -> str:
        q = "?" + "&".join(f"{k}={v}" for k, v in self.options.items()) if self.options else ""
        return f"{self.kind}{':' + str(self.path) if self.path else ''}{q}"


def parse_data_spec(spec: str) -> DataSpec:
    kind, _, rest = spec.partition(":")
    if "?" in kind:  # "synthetic?n=100"
        kind, _, q = kind.partition("?")
        rest = "?" + q + rest
    path, _, query = rest.partition("?")
    if kind not in KINDS:
        raise GccGanError(f"unknown data spec {spec!r}: expected one of cifar10:PATH, stl10:PATH, folder:PATH, "
                          "lsun:PATH, synthetic, digits")
    options: dict[str, str] = {}
    for part in filter(None, query.split("&")):  # not urllib: '+' in split=train+unlabeled is literal
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise GccGanError(f"data spec {spec!r}: cannot parse option {part!r} (expected key=value&key=value)")
        options[key] = value
    allowed = {"cifar10": {"split"}, "stl10": {"split"}, "folder": {"strict", "max_pixels"}, "lsun": {"max_pixels"},
               "synthetic": {"n"}, "digits": set()}[kind]
    unknown = set(options) - allowed
    if unknown:
        raise GccGanError(f"data spec {spec!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                          f"{kind} accepts {', '.join(sorted(allowed)) or 'no options'}")
    if kind in ("synthetic", "digits"):
        if path:
            raise GccGanError(f"data spec {spec!r}: '{kind}' takes no path (it ships with "
                              f"{'gcc-gan' if kind == 'synthetic' else 'scikit-learn'})")
        return DataSpec(kind, None, options)
    if not path:
        raise GccGanError(f"data spec {spec!r}: {kind} needs a path, e.g. {kind}:/data/{kind}")
    return DataSpec(kind, Path(path).expanduser(), options)


def load_dataset(spec: str, size: int | None = None) -> ImageDataset:
    """The dataset named by `spec` at resolution `size` (default: its native size)."""
    s = parse_data_spec(spec)
    if size is not None and not 4 <= size <= 1024:
        raise GccGanError(f"--size {size}: expected an image size between 4 and 1024")
    if s.kind == "synthetic":
        from .synthetic import synthetic_images

        n = _int_option(s, "n", 10_000, 16, 1_000_000)
        return ArrayDataset(synthetic_images(n, size or 32), f"synthetic (n={n})")
    if s.kind == "digits":
        return _digits(size)
    assert s.path is not None
    if s.kind == "cifar10":
        return _cifar10(s, size)
    if s.kind == "stl10":
        return _stl10(s, size)
    max_pixels = _int_option(s, "max_pixels", DEFAULT_MAX_PIXELS, 1, 2**40)
    if s.kind == "folder":
        strict = s.options.get("strict", "0")
        if strict not in ("0", "1"):
            raise GccGanError(f"data spec {s.text!r}: strict={strict!r} must be 0 or 1")
        return FolderDataset(s.path, size or 64, strict=strict == "1", max_pixels=max_pixels)
    return LmdbDataset(s.path, size or 64, max_pixels=max_pixels)


def _int_option(s: DataSpec, key: str, default: int, lo: int, hi: int) -> int:
    raw = s.options.get(key)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        v = lo - 1
    if not lo <= v <= hi:
        raise GccGanError(f"data spec {s.text!r}: {key}={raw!r} must be an integer in [{lo}, {hi}]")
    return v


# --------------------------------------------------------------------------- in memory


def resize_uint8(x: np.ndarray, size: int, chunk: int = 2048) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, C, size, size) uint8, antialiased bilinear (as PIL's
    resize in the papers' torchvision pipelines); chunked so big sets fit in memory."""
    if x.shape[2] == size and x.shape[3] == size:
        return np.ascontiguousarray(x)
    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.uint8)
    for i in range(0, x.shape[0], chunk):
        t = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk])).float()
        t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i:i + chunk] = t.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


class ArrayDataset:
    """Images held in memory as uint8 (N, 3, size, size)."""

    def __init__(self, images: np.ndarray, description: str) -> None:
        assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[2] == images.shape[3]
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.size = int(images.shape[2])
        self.description = f"{description}: {len(self)} images {self.size}×{self.size}"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        x = self.images[torch.from_numpy(np.asarray(indices, dtype=np.int64))]
        return x.float().mul_(2.0 / 255.0).sub_(1.0)


# --------------------------------------------------------------------------- digits


def digits_uint8() -> np.ndarray:
    """scikit-learn's bundled digits (UCI optdigits test set: 1,797 images, 8×8, values
    0–16, stored inside the package) as uint8 (N, 3, 8, 8), white strokes on black."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise GccGanError("data spec 'digits' needs scikit-learn (its 8×8 digits ship inside it): "
                          "pip install 'gcc-gan[digits]'") from None
    x = load_digits().images  # (1797, 8, 8) float64 in [0, 16]
    g = np.rint(x * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return np.repeat(g[:, None], 3, axis=1)


def _digits(size: int | None) -> ArrayDataset:
    return ArrayDataset(resize_uint8(digits_uint8(), size or 32), "digits (scikit-learn, 8×8 upsampled)")


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_LAYOUT = ("cifar10:PATH expects the CIFAR-10 python version (cifar-10-python.tar.gz, extracted):\n"
                "  PATH/cifar-10-batches-py/ (or PATH itself) holding\n"
                "    data_batch_1 … data_batch_5   (train split)\n"
                "    test_batch                    (test split)\n"
                "  each a pickled dict with b'data' (uint8, N×3072, channel-major 32×32) and b'labels'")

# Only what a numpy array's pickle needs; dicts, lists, bytes, ints and strs need no globals.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    """Reads the known CIFAR batch layout and nothing else: any other global is refused."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            d = _SafeUnpickler(f, encoding="bytes").load()
    except OSError as e:
        raise GccGanError(f"{path}: cannot read ({e.strerror})\n{CIFAR_LAYOUT}") from None
    except Exception as e:  # any malformed pickle: one message, never a traceback
        raise GccGanError(f"{path}: not a CIFAR-10 python batch ({e})\n{CIFAR_LAYOUT}") from None
    data = d.get(b"data", d.get("data")) if isinstance(d, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise GccGanError(f"{path}: not a CIFAR-10 python batch (no uint8 N×3072 'data' array)\n{CIFAR_LAYOUT}")
    return data.reshape(-1, 3, 32, 32)


def _cifar10(s: DataSpec, size: int | None) -> ArrayDataset:
    assert s.path is not None
    split = s.options.get("split", "train")
    names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"],
             "all": [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]}.get(split)
    if names is None:
        raise GccGanError(f"data spec {s.text!r}: split must be train, test or all, not {split!r}")
    root = _find_root(s.path, "cifar-10-batches-py", names[0], CIFAR_LAYOUT, "cifar10")
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise GccGanError(f"{root}: missing {', '.join(missing)}\n{CIFAR_LAYOUT}")
    x = np.concatenate([_cifar_batch(root / n) for n in names])
    return ArrayDataset(resize_uint8(x, size or 32), f"CIFAR-10 {split} ({root})")


def _find_root(path: Path, sub: str, marker: str, layout: str, kind: str) -> Path:
    if not path.exists():
        raise GccGanError(f"{kind}:{path}: no such directory\n{layout}")
    if not path.is_dir():
        raise GccGanError(f"{kind}:{path}: not a directory\n{layout}")
    for root in (path / sub, path):
        if (root / marker).exists():
            return root
    if (path / sub).is_dir():
        return path / sub
    raise GccGanError(f"{kind}:{path}: no {marker} found in {path} or {path / sub}\n{layout}")


# --------------------------------------------------------------------------- STL-10

STL_LAYOUT = ("stl10:PATH expects the STL-10 binary version (stl10_binary.tar.gz, extracted):\n"
              "  PATH/stl10_binary/ (or PATH itself) holding\n"
              "    train_X.bin       (split train: 5,000 images)\n"
              "    test_X.bin        (split test: 8,000 images)\n"
              "    unlabeled_X.bin   (split unlabeled: 100,000 images; only for ?split=...unlabeled)\n"
              "  raw uint8, 3×96×96 per image, each channel column-major")
STL_BYTES = 3 * 96 * 96


def _stl10(s: DataSpec, size: int | None) -> ArrayDataset:
    assert s.path is not None
    split = s.options.get("split", "train")
    parts = split.split("+")
    if not parts or any(p not in ("train", "test", "unlabeled") for p in parts) or len(set(parts)) != len(parts):
        raise GccGanError(f"data spec {s.text!r}: split must be '+'-joined names from train, test, unlabeled "
                          f"(e.g. train+unlabeled), not {split!r}")
    files = [f"{p}_X.bin" for p in parts]
    root = _find_root(s.path, "stl10_binary", files[0], STL_LAYOUT, "stl10")
    size = size or 48  # the AutoGAN / AdversarialNAS protocol
    chunks = []
    for name in files:
        f = root / name
        if not f.is_file():
            raise GccGanError(f"{root}: missing {name} (needed by split {split!r})\n{STL_LAYOUT}")
        n_bytes = f.stat().st_size
        if n_bytes == 0 or n_bytes % STL_BYTES:
            raise GccGanError(f"{f}: {n_bytes} bytes is not a whole number of 3×96×96 images\n{STL_LAYOUT}")
        raw = np.memmap(f, dtype=np.uint8, mode="r").reshape(-1, 3, 96, 96)
        # column-major per channel: the stored (row, col) is the image's (col, row)
        chunks.append(resize_uint8(raw.transpose(0, 1, 3, 2), size))
    x = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return ArrayDataset(x, f"STL-10 {split} ({root})")


# --------------------------------------------------------------------------- folder / LSUN


def _too_large(w: int, h: int, max_pixels: int) -> str | None:
    if w * h <= max_pixels:
        return None
    return (f"{w}×{h} = {w * h:,} pixels, more than max_pixels={max_pixels:,} (raise it with "
            f"?max_pixels=N in the data spec)")


def _decode(data: bytes | Path, size: int, where: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode, centre-crop to a square, resize: uint8 (3, size, size). The header's size is
    checked against `max_pixels` before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            big = _too_large(*im.size, max_pixels)
            if big:
                raise GccGanError(f"{where}: image too large to decode: {big}")
            im = im.convert("RGB")
            w, h = im.size
            m = min(w, h)
            im = im.crop(((w - m) // 2, (h - m) // 2, (w - m) // 2 + m, (h - m) // 2 + m))
            if m != size:
                im = im.resize((size, size), Image.BICUBIC, reducing_gap=None)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise GccGanError(f"{where}: cannot decode image ({e})") from None


class _CachedDecoder:
    """Decodes lazily; keeps decoded images while they fit in `budget` bytes, since
    training revisits every image each epoch."""

    def __init__(self, n: int, size: int, budget: int = 1 << 30) -> None:
        self.size = size
        self.cache: dict[int, np.ndarray] = {}
        self.cap = max(0, budget // (3 * size * size))

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        out = np.empty((len(indices), 3, self.size, self.size), dtype=np.uint8)
        for j, i in enumerate(indices.tolist()):
            img = self.cache.get(i)
            if img is None:
                img = self.load(i)
                if len(self.cache) < self.cap:
                    self.cache[i] = img
            out[j] = img
        return torch.from_numpy(out).float().mul_(2.0 / 255.0).sub_(1.0)

    def load(self, i: int) -> np.ndarray:
        raise NotImplementedError


FOLDER_LAYOUT = (f"folder:PATH expects a directory holding image files ({', '.join(sorted(IMAGE_EXTS))}), "
                 "in any sub-directories; each is centre-cropped to a square and resized to --size")


def _scan_cache_file(root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return cache_root("folder-scan", f"{key}.json")


def _read_header(p: Path) -> tuple[int, int, str | None]:
    """(width, height, None) from an image file's header, or (0, 0, why it is unreadable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        if p.stat().st_size == 0:
            return 0, 0, "empty file (0 bytes)"
        with warnings.catch_warnings():  # PIL's bomb warning: the size is checked against max_pixels instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:  # lazy: reads the header only
                w, h = im.size
        return int(w), int(h), None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        return 0, 0, f"cannot decode image ({e})"


def scan_folder(root: Path, files: list[Path], max_pixels: int) -> list[tuple[Path, str | None]]:
    """Each file with None (readable header, at most `max_pixels`) or why it is skipped.
    Headers are cached per file by (size, mtime) in the gcc-gan cache directory."""
    cache_file = _scan_cache_file(root)
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        entries = cached["files"] if cached.get("version") == SCAN_CACHE_VERSION else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        entries = {}
    fresh: dict[str, list[object]] = {}
    out: list[tuple[Path, str | None]] = []
    for p in files:
        rel = p.relative_to(root).as_posix()
        try:
            st = p.stat()
        except OSError as e:
            out.append((p, f"cannot read ({e.strerror or e})"))
            continue
        e = entries.get(rel)
        if isinstance(e, list) and len(e) == 5 and e[:2] == [st.st_size, st.st_mtime_ns]:
            w, h, err = int(e[2]), int(e[3]), e[4]
        else:
            w, h, err = _read_header(p)
        fresh[rel] = [st.st_size, st.st_mtime_ns, w, h, err]
        out.append((p, err if err else _too_large(w, h, max_pixels)))
    if fresh != entries:
        from ..atomic import atomic_write_text

        try:
            atomic_write_text(cache_file, json.dumps({"version": SCAN_CACHE_VERSION, "root": str(root.resolve()),
                                                      "files": fresh}) + "\n")
        except OSError:  # a read-only cache only costs the next run a rescan
            pass
    return out


class FolderDataset(_CachedDecoder):
    def __init__(self, path: Path, size: int, strict: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if not path.exists():
            raise GccGanError(f"folder:{path}: no such directory\n{FOLDER_LAYOUT}")
        if not path.is_dir():
            raise GccGanError(f"folder:{path}: not a directory\n{FOLDER_LAYOUT}")
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        if not files:
            raise GccGanError(f"folder:{path}: no image files found\n{FOLDER_LAYOUT}")
        self.strict, self.max_pixels = strict, max_pixels
        scanned = scan_folder(path, files, max_pixels)
        self.skipped = [(p, why) for p, why in scanned if why is not None]
        good = [p for p, why in scanned if why is None]
        if self.skipped:
            listing = "; ".join(f"{p}: {why}" for p, why in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            if not good:
                raise GccGanError(f"folder:{path}: none of its {len(files)} image files can be used: {listing}{more}")
            if strict:
                raise GccGanError(f"folder:{path}: {len(self.skipped)} of {len(files)} image files cannot be used "
                                  f"(?strict=1): {listing}{more}")
            warn(f"folder:{path}: skipping {len(self.skipped)} of {len(files)} image files that cannot be used "
                  f"(?strict=1 stops instead): {listing}{more}")
        super().__init__(len(good), size)
        self.files = good
        self.bad: set[int] = set()  # files whose header read but whose data did not decode
        skipped = f" ({len(self.skipped)} unreadable skipped)" if self.skipped else ""
        self.description = f"folder {path}: {len(good)} images{skipped} → {size}×{size}"
        self.batch(np.array([0]))  # decode one now: a folder of undecodable files fails here

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> np.ndarray:
        """Image i; if it does not decode (and not strict), the next one that does."""
        n = len(self.files)
        for k in range(n):
            j = (i + k) % n
            if j in self.bad:
                continue
            try:
                return _decode(self.files[j], self.size, str(self.files[j]), self.max_pixels)
            except GccGanError as e:
                if self.strict:
                    raise
                self.bad.add(j)
                warn(f"skipping {e} (the next readable image takes its place; ?strict=1 stops instead)")
        raise GccGanError(f"folder: none of the {n} image files decodes")


LSUN_LAYOUT = ("lsun:PATH expects one LSUN category as an lmdb directory (e.g. bedroom_train_lmdb/) holding "
               "data.mdb (and lock.mdb); values are encoded images (webp/jpeg/png)")


class LmdbDataset(_CachedDecoder):
    def __init__(self, path: Path, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels
        try:
            import lmdb
        except ImportError:
            raise GccGanError("lsun: reading LSUN needs the optional 'lmdb' package: "
                              "pip install 'gcc-gan[lsun]' (or pip install lmdb)") from None
        if not path.exists():
            raise GccGanError(f"lsun:{path}: no such directory\n{LSUN_LAYOUT}")
        if not (path / "data.mdb").is_file():
            raise GccGanError(f"lsun:{path}: no data.mdb in it\n{LSUN_LAYOUT}")
        try:
            self.env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False,
                                 max_readers=8)
            with self.env.begin(write=False) as txn:
                self.keys = [k for k, _ in txn.cursor()]
        except lmdb.Error as e:
            raise GccGanError(f"lsun:{path}: not a readable lmdb ({e})\n{LSUN_LAYOUT}") from None
        if not self.keys:
            raise GccGanError(f"lsun:{path}: the lmdb holds no images\n{LSUN_LAYOUT}")
        super().__init__(len(self.keys), size)
        self.path = path
        self.description = f"LSUN lmdb {path}: {len(self.keys)} images → {size}×{size}"
        self.batch(np.array([0]))

    def __len__(self) -> int:
        return len(self.keys)

    def load(self, i: int) -> np.ndarray:
        with self.env.begin(write=False) as txn:
            data = txn.get(self.keys[i])
        return _decode(bytes(data), self.size, f"lsun:{self.path} key {self.keys[i]!r}", self.max_pixels)


# --------------------------------------------------------------------------- order


class SampleOrder:
    """Which dataset indices the k-th..(k+n)-th samples drawn are: epoch e is a fixed
    permutation seeded by (seed, e). A pure function of (seed, position), so resuming from
    any step reads exactly what an uninterrupted run reads."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self._epoch, self._perm = -1, np.empty(0, dtype=np.int64)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._perm = np.random.Generator(np.random.PCG64([self.seed, epoch])).permutation(self.n)
            self._epoch = epoch
        return self._perm

    def indices(self, start: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.int64)
        done = 0
        while done < count:
            pos = start + done
            epoch, off = divmod(pos, self.n)
            take = min(count - done, self.n - off)
            out[done:done + take] = self._permutation(epoch)[off:off + take]
            done += take
        return out
