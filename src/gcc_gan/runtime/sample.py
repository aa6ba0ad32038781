"""Images from a generator: what `gcc-gan sample` and `gcc_gan.sample` run.

A generator comes from a `gcc-gan compile` directory, a genotype (file or `zoo:NAME`) with
optional weights, or a `gcc-gan train` run directory; it runs on PyTorch (the compiled
module) or onnxruntime (the compiled ONNX graph). Latents are drawn batch by batch from
one `np.random.RandomState(seed)`, the way `gcc-gan bench` and torch-fidelity draw them,
so a seed names the same images in every tool. Output: uint8 NHWC RGB.

Writers: a folder of PNGs (a valid `folder:` data spec and torch-fidelity input, with a
`samples.json` saying how it was made), an `.npz` holding `arr_0` (uint8 NHWC, the layout
torch-fidelity / clean-fid / the TF Inception Score code read), or one grid `.png`. The
suffix is read case-insensitively (`out.NPZ` is an npz); a name ending in "." is refused.
The folder and the npz are streamed batch by batch (the npz's `arr_0.npy` member written
into the zip as the batches come), so any -n holds one batch in memory; the grid needs
every image. Memory and disk are estimated before sampling starts (`check_resources`).
Everything is written atomically: a failure, Ctrl-C or SIGTERM leaves no partial output.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import GccGanError
from ..version import __version__
from .sample_out import SAMPLES_JSON, check_output, check_sample_args, output_kind

Backend = Literal["torch", "onnx"]
BACKENDS: tuple[str, ...] = ("torch", "onnx")


@dataclass
class Sampler:
    """A loaded generator: `latent_dims` (one per input, in order), `image_shape` (C, H, W)
    and `__call__(*latents)` → float32 NCHW images in [-1, 1] (numpy in, numpy out)."""

    source: str
    backend: str
    latent_dims: list[int]
    image_shape: tuple[int, ...]
    run: Callable[[Sequence[np.ndarray]], np.ndarray]
    module: nn.Module | None = None  # the compiled PyTorch module (torch backend)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def latent_dim(self) -> int:
        """The size of the (first) latent input."""
        return self.latent_dims[0]

    def __call__(self, *latents: np.ndarray) -> np.ndarray:
        return self.run(latents)


def _torch_run(module: nn.Module, compiled: bool = False) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """Run `module` on numpy latents. `compiled`: torch.compile (inductor) with frozen
    weights — conv + bias + activation fused, oneDNN weights prepacked — compiled on the
    first call for that batch size (a smaller last batch is padded to it, so it is not
    compiled again). Needs a C++ compiler; the first call takes from tens of seconds to
    minutes, after which it ran 1.3–1.8× the eager module and 0.86–1.22× onnxruntime
    (autogan-a, batch 64, 2 threads, on a loaded shared machine)."""
    module.eval()
    fn: Callable[..., Any] = module
    size: list[int] = []
    if compiled:
        fn = torch.compile(module)

    def run(zs: Sequence[np.ndarray]) -> np.ndarray:
        xs = [torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)) for z in zs]
        n = xs[0].shape[0]
        if compiled:
            size[:] = size or [n]
            if n < size[0]:
                xs = [torch.cat([x, x.new_zeros(size[0] - n, *x.shape[1:])]) for x in xs]
        with torch.no_grad():
            if compiled:
                import torch._inductor.config as inductor_config

                with inductor_config.patch(freezing=True):
                    out = fn(*xs)
            else:
                with torch.inference_mode():
                    out = fn(*xs)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out[:n].float().contiguous().numpy()

    return run


def _onnx_run(path: Path) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    from ..bench.latency import onnx_session

    sess = onnx_session(str(path), torch.device("cpu"))
    names = [i.name for i in sess.get_inputs()]

    def run(zs: Sequence[np.ndarray]) -> np.ndarray:
        feeds = {n: np.ascontiguousarray(z, dtype=np.float32) for n, z in zip(names, zs, strict=True)}
        return np.asarray(sess.run(None, feeds)[0], dtype=np.float32)

    return run


def _image_shape(shape: Sequence[int], source: str) -> tuple[int, ...]:
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise GccGanError(f"{source}: the generator's output {tuple(shape)} is not an RGB or grayscale image")
    return tuple(int(s) for s in shape)


def _check_backend(backend: str, compiled: bool = False) -> None:
    if backend not in BACKENDS:
        raise GccGanError(f"--backend must be torch or onnx, not {backend!r}")
    if compiled and backend != "torch":
        raise GccGanError("--compile applies to the torch backend (onnxruntime optimises its graph itself)")


def precision_backend_conflict(precision: str, backend: str | None) -> str | None:
    """Why `backend` cannot run `precision` (None when it can): the fp16 / int8 variants are
    ONNX files, which only onnxruntime runs."""
    if precision != "fp32" and backend not in (None, "onnx"):
        return (f"--precision {precision} runs generator.{precision}.onnx, an ONNX file that onnxruntime runs, not "
                f"--backend {backend}; leave --backend out (or give --backend onnx)")
    return None


def resolve_backend(backend: str | None, precision: str) -> str:
    """The backend to run: as given, else onnx for the fp16 / int8 ONNX variants, else torch."""
    _check_precision(precision, backend)
    return backend if backend is not None else ("torch" if precision == "fp32" else "onnx")


def _check_precision(precision: str, backend: str | None) -> None:
    from ..export.precision import PRECISIONS

    if precision not in PRECISIONS:
        raise GccGanError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    why = precision_backend_conflict(precision, backend)
    if why is not None:
        raise GccGanError(why)


def load_compiled_dir(path: str | os.PathLike[str], backend: str | None = None, compiled: bool = False,
                      precision: str = "fp32") -> Sampler:
    """The generator of a `gcc-gan compile` output directory (`compiled`: see _torch_run;
    `precision`: fp16 / int8 run that ONNX variant, written by `compile --precision`;
    `backend` None: onnx for those, else torch)."""
    from ..bench.targets import load_dir_target
    from ..export.precision import variant_file

    backend = resolve_backend(backend, precision)
    _check_backend(backend, compiled)
    _check_precision(precision, backend)
    t = load_dir_target(str(path))
    shape = _image_shape(next(iter(t.output_shapes.values())), str(path))
    if backend == "onnx":
        if t.onnx is None:
            raise GccGanError(f"{path}: no generator.onnx (compile it again, or use --backend torch)")
        onnx = t.onnx if precision == "fp32" else Path(t.onnx).with_name(variant_file("generator", precision))
        if not Path(onnx).is_file():
            raise GccGanError(f"{path}: no {Path(onnx).name} (compile with --precision {precision})")
        run = _onnx_run(onnx)
    else:
        run = _torch_run(t.module, compiled)
    label = backend if precision == "fp32" else f"{backend} {precision}"
    return Sampler(str(path), label, t.latent_dims, shape, run, t.module if backend == "torch" else None)


def load_genotype_generator(spec: str, weights: str | os.PathLike[str] | None = None, backend: str = "torch",
                            width: float | None = None, seed: int = 0, compiled: bool = False) -> Sampler:
    """A genotype's generator, compiled in memory, with `weights` (a file or a training
    run) or, without them, the compiler's seeded initialisation (`seed`)."""
    from ..bench.targets import read_weights
    from ..compiler.pipeline import compile_network
    from ..genotype_dsl.analysis import generator_at_width
    from ..train.rundir import genotype_for_weights

    _check_backend(backend, compiled)
    # weights from a training run: its own genotype at the trained width
    g, infos, width = genotype_for_weights(spec, weights, width, "gcc-gan sample")
    info = generator_at_width(infos, spec, width, " to sample from")
    w = read_weights(weights) if weights is not None else None  # a file, or a run's EMA generator
    c = compile_network(info, w, role="generator", genotype=g, seed=seed)
    module = c.instantiate()
    shape = _image_shape(next(iter(c.output_shapes.values())), spec)
    dims = [s[0] for s in c.input_shapes.values()]
    if backend == "onnx":
        from ..export.onnx_export import export_onnx

        with tempfile.TemporaryDirectory(prefix="gcc-gan-sample-") as tmp:
            path = Path(tmp) / "generator.onnx"
            export_onnx(module, c.input_shapes, path, output_names=list(c.output_shapes))
            run = _onnx_run(path)  # onnxruntime holds the graph in memory from here on
        return Sampler(spec, backend, dims, shape, run, None, {"weights": str(weights) if weights else None})
    return Sampler(spec, backend, dims, shape, _torch_run(module, compiled), module,
                   {"weights": str(weights) if weights else None})


def load_generator(source: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None,
                   backend: str | None = None, width: float | None = None, compiled: bool = False,
                   precision: str = "fp32") -> Sampler:
    """`source`: a compile directory (has report.json), a training run directory (has
    genotype.json and weights; the final EMA generator, else the newest checkpoint's), a
    genotype JSON file or `zoo:NAME` (with `weights`, or freshly initialised). `precision`
    (fp16 / int8 ONNX variants) needs a compile directory compiled with it; `backend` None:
    onnx for those variants, else torch."""
    from ..bench.targets import resolve_source

    backend = resolve_backend(backend, precision)
    kind, spec, weights = resolve_source(str(source), weights, width)
    if kind == "compiled":
        return load_compiled_dir(spec, backend, compiled, precision)
    if precision != "fp32":
        raise GccGanError(f"--precision {precision}: sample from a directory written by `gcc-gan compile "
                          f"--precision {precision}` (the variant is made and verified there)")
    return load_genotype_generator(spec, weights, backend, width, compiled=compiled)


# --------------------------------------------------------------------------- latents and images


def latent_batches(dims: Sequence[int], n: int, batch_size: int, seed: int = 0,
                   truncation: float | None = None) -> Iterator[list[np.ndarray]]:
    """float32 latents, batch by batch, from one `np.random.RandomState(seed)`: N(0, 1) as
    `gcc-gan bench` and torch-fidelity draw them; with `truncation` t, the normal truncated
    to [-t, t] (inverse CDF of uniforms, so each value depends only on its place in the
    stream, never on rejections)."""
    from scipy.special import ndtr, ndtri

    if truncation is not None and not truncation > 0:
        raise GccGanError(f"--truncation must be positive, not {truncation:g}")
    rng = np.random.RandomState(seed)
    lo = float(ndtr(-truncation)) if truncation is not None else 0.0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        if truncation is None:
            yield [rng.randn(m, d).astype(np.float32) for d in dims]
        else:
            yield [ndtri(lo + rng.random_sample((m, d)) * (1.0 - 2.0 * lo)).astype(np.float32) for d in dims]


def to_uint8_nhwc(images: np.ndarray) -> np.ndarray:
    """[-1, 1] float NCHW → uint8 NHWC RGB (grayscale repeated), rounded as `gcc-gan bench` does."""
    from ..pixels import to_uint8

    return to_uint8(torch.from_numpy(images)).permute(0, 2, 3, 1).contiguous().numpy()


def image_batches(sampler: Sampler, n: int, seed: int = 0, batch_size: int = 64, truncation: float | None = None,
                  progress: bool = False) -> Iterator[np.ndarray]:
    """`n` images as uint8 NHWC batches, with a progress bar on stderr when asked."""
    from ..console import progress as phase

    from ..genotype_dsl.memory import check_resident

    check_sample_args(n, batch_size)
    with phase(f"sampling {n} images ({sampler.backend})", n, enabled=progress, transient=True) as task:
        for k, zs in enumerate(latent_batches(sampler.latent_dims, n, batch_size, seed, truncation)):
            images = to_uint8_nhwc(sampler(*zs))
            if k == 0:  # one batch's forward is what streaming keeps: check it against --max-memory
                check_resident("sample")
            task.advance(images.shape[0])
            yield images


# --------------------------------------------------------------------------- writers


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def grid_image(images: np.ndarray, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """uint8 NHWC → one uint8 HWC grid, `nrow` images per row (default ⌈√N⌉), white gaps."""
    n, h, w, c = images.shape
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = im
    return out


def _write_npz(batches: Iterator[np.ndarray], n: int, path: Path) -> None:
    """`arr_0` (uint8 N×H×W×C) written into the npz batch by batch: the zip member is a
    stream, its .npy header (which needs the shape) written from the first batch."""
    import zipfile

    from numpy.lib import format as npformat

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf, \
            zf.open("arr_0.npy", "w", force_zip64=True) as f:
        count = 0
        for batch in batches:
            batch = np.ascontiguousarray(batch, dtype=np.uint8)
            if count == 0:
                header = {"descr": npformat.dtype_to_descr(batch.dtype), "fortran_order": False,
                          "shape": (n, *batch.shape[1:])}
                npformat.write_array_header_2_0(f, header)
            f.write(memoryview(batch).cast("B"))
            count += batch.shape[0]
        if count != n:
            raise GccGanError(f"the generator gave {count} images, not {n}")


def write_samples(batches: Iterator[np.ndarray], n: int, out: str | os.PathLike[str],
                  meta: dict[str, Any] | None = None, force: bool = False) -> Path:
    """Write the images of `batches` (uint8 NHWC) to `out`: a folder of `NNNNNN.png` plus
    samples.json, an `.npz` (`arr_0`), or a grid `.png`, atomically (nothing is left
    behind on failure). The folder and the npz are streamed (one batch in memory)."""
    from ..atomic import atomic_dir, atomic_file, atomic_write_bytes

    p = Path(out)
    kind = output_kind(p)
    check_output(p, force)
    if kind == "npz":
        with atomic_file(p) as tmp:
            _write_npz(batches, n, tmp)
        return p
    if kind == "folder":
        digits = max(6, len(str(n - 1)))
        with atomic_dir(p) as tmp:
            i = 0
            for batch in batches:
                for im in batch:
                    (tmp / f"{i:0{digits}d}.png").write_bytes(_png_bytes(im))
                    i += 1
            info = {"gcc_gan_version": __version__, "n": i, "format": "png", **(meta or {})}
            (tmp / SAMPLES_JSON).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        return p
    images: np.ndarray | None = None  # one array filled in place (no list of batches beside it)
    i = 0
    for batch in batches:
        if images is None:
            images = np.empty((n, *batch.shape[1:]), np.uint8)
        images[i:i + len(batch)] = batch
        i += len(batch)
    if images is None:
        images = np.zeros((0, 0, 0, 3), np.uint8)
    atomic_write_bytes(p, _png_bytes(grid_image(images)))
    return p
