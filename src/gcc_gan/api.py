"""The Python API: the functions the `gcc-gan` commands run, for use from Python.

    import gcc_gan

    g = gcc_gan.load_genotype("zoo:autogan-a")        # a validated Genotype
    net = gcc_gan.build(g)                             # the reference PyTorch module (interpreter)
    gcc_gan.compile(g, "out")                          # generator.py/.safetensors/.onnx/.pt2 + report.json
    gen = gcc_gan.load_compiled("out")                 # the compiled generator; gen.latent_dim == 128
    images = gcc_gan.sample("out", 16, seed=0)         # uint8 array (16, 32, 32, 3)
    gcc_gan.save_samples("out", 5000, "samples/")      # a folder of PNGs (torch-fidelity / folder: input)
    rows = gcc_gan.benchmark("out").rows               # params, MACs, latency (+ IS / FID / KID / SWD)

Every function raises `gcc_gan.GccGanError` with a readable message for bad input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import GccGanError

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor, nn

    from .bench.runner import BenchReport
    from .export.standalone import StandaloneWorker
    from .genotype_dsl.model import Genotype
    from .runtime.sample import Sampler

ROLES = {"g": ("generator",), "d": ("discriminator",), "both": ("generator", "discriminator")}


def load_genotype(spec: str | os.PathLike[str], validate: bool = True) -> Genotype:
    """A genotype from a JSON file or `zoo:NAME`, validated (every problem named by its
    JSON path in the error)."""
    from .genotype_dsl.io import load_genotype as _load

    return _load(spec, validate=validate)


def _weights(weights: str | os.PathLike[str] | dict[str, Tensor], roles: tuple[str, ...]) -> dict[str, dict[str, Tensor]]:
    from .train.rundir import weights_by_role, weights_for

    if isinstance(weights, dict):
        return {r: weights_for(r, weights, roles, Path("weights")) for r in roles}
    return weights_by_role(Path(weights), roles)


def build(genotype: Genotype | str | os.PathLike[str], weights: str | os.PathLike[str] | dict[str, Tensor] | None = None,
          *, net: str = "g", width: float | None = None, seed: int = 0) -> nn.Module:
    """The reference PyTorch module (the interpreter) of one network of `genotype` ("g" or
    "d"), in eval mode: `weights` (a .safetensors / training run path, or a dict in the
    canonical layout) or, without them, a fresh initialisation seeded with `seed`."""
    return _interpreters(genotype, weights, net=net, width=width, seed=seed)[1][ROLES[_net_key(net)][0]]


def _net_key(net: str | None, genotype: Genotype | None = None) -> str:
    key = net or ("g" if genotype is None or genotype.generator is not None else "d")
    if key not in ROLES:
        raise GccGanError(f"--net must be g, d or both, not {key!r}")
    return key


def resolve(genotype: Genotype | str | os.PathLike[str], weights: Any = None, *, net: str | None = None,
            width: float | None = None, command: str = "gcc-gan compile",
            on_run: Callable[[Path, Genotype], None] | None = None
            ) -> tuple[Genotype, dict[str, Any], tuple[str, ...]]:
    """(genotype, analysed networks at their final width, roles) that `compile` and `build`
    use, and `gcc-gan compile` before its memory check: with `weights` from a training run,
    the run's own genotype at the width it trained (gcc_gan.train.rundir.genotype_for_weights,
    the one resolution of every command); `on_run(run, genotype)` is told when that replaces
    a different `genotype`. Analysis only: no torch."""
    from .genotype_dsl.analysis import analyze
    from .train.rundir import genotype_for_weights

    spec = os.fspath(genotype) if isinstance(genotype, os.PathLike) else genotype
    path = None if weights is None or isinstance(weights, dict) else weights
    g, infos, width = genotype_for_weights(spec, path, width, command, on_run)
    roles = ROLES[_net_key(net, g)]
    for role in roles:
        if role not in infos:
            other = "g" if role == "discriminator" else "d"
            raise GccGanError(f"{spec if isinstance(spec, str) else 'the genotype'} has no {role}"
                              + (f"; try --net {other}" if infos else ""))
    if width is not None:
        infos = {r: analyze(infos[r].net.scaled(width), where=r, role=r) for r in roles}
    return g, infos, roles


def _interpreters(genotype: Genotype | str | os.PathLike[str], weights: Any, *, net: str | None, width: float | None,
                  seed: int, precheck: Callable[[dict[str, Any]], Any] | None = None
                  ) -> tuple[Genotype, dict[str, nn.Module], dict[str, Any], tuple[str, ...]]:
    """The roles' interpreters; `precheck(infos)` runs on the analysed networks before any
    is built (compile's memory check)."""
    import torch

    from .compiler.interpreter import Interpreter
    from .compiler.pipeline import load_weights

    g, infos, roles = resolve(genotype, weights, net=net, width=width)
    if precheck is not None:
        precheck({r: infos[r] for r in roles})
    given = _weights(weights, roles) if weights is not None else {}
    refs: dict[str, nn.Module] = {}
    for role in roles:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            ref = Interpreter(infos[role])
        if role in given:
            load_weights(ref, given[role], what=str(weights) if not isinstance(weights, dict) else "weights")
        refs[role] = ref.eval()
    return g, refs, infos, roles


def compile(genotype: Genotype | str | os.PathLike[str], out_dir: str | os.PathLike[str], *,  # noqa: A001
            weights: str | os.PathLike[str] | dict[str, Tensor] | None = None, net: str | None = None,
            width: float | None = None, opset: int = 17, passes: bool = True, verify: bool = True, seed: int = 0,
            precisions: Sequence[str] = ("fp32",), calibration_size: int | None = None,
            min_psnr: float | None = None, on_step: Callable[[str], None] | None = None,
            worker: StandaloneWorker | None = None, force: bool = False, torch_fidelity: bool = False,
            model_card: bool = False) -> dict[str, Any]:
    """Compile `genotype` into `out_dir` (an earlier compile there is replaced only with
    `force=True`, like `--force`; atomically, only when every step and check succeeded):
    `generator.py` (imports only torch), `.safetensors`, `.onnx`, `.pt2` and `report.json`,
    whose content is returned. `net`: "g", "d" or "both" (default: the
    generator, or the discriminator of a D-only genotype). `weights`: canonical-layout
    tensors (a .safetensors file or a dict) or a `gcc-gan train` run / checkpoint, whose
    own genotype and trained width are compiled, exactly as `gcc-gan compile --weights RUN`
    does (see `resolve`).

    `precisions`: any of "fp32", "fp16", "int8" (the generator's `generator.fp16.onnx` /
    `generator.int8.onnx`; int8 calibrated on `calibration_size` fixed-seed latents). Each
    variant is verified against fp32 (max error, PSNR, images/s side by side, in the
    report); one below `min_psnr` dB (default 30) is an error and nothing is written.
    The generator's ONNX gets ONNX-model-zoo test data (`test_data_set_0/`);
    `torch_fidelity`: also `generator.uint8.onnx` (input z, uint8 NCHW output, for
    torch-fidelity); `model_card`: a Hugging Face Hub README.md + config.json."""
    from .compiler.pipeline import compile_network
    from .export.artifacts import write_compile_dir
    from .export.onnx_export import check_opset
    from .export.precision import PrecisionOptions
    from .genotype_dsl.memory import check_compile

    if (Path(out_dir) / "report.json").is_file() and not force:
        raise GccGanError(f"{out_dir}: a compile output already exists; replace it with force=True (CLI: --force)")
    check_opset(opset)
    popts = PrecisionOptions.make(precisions, calibration_size, min_psnr)
    g, refs, infos, roles = _interpreters(genotype, weights, net=net, width=width, seed=seed,
                                          precheck=lambda i: check_compile(i, len(popts.variants)))
    if popts.variants and "generator" not in roles:
        raise GccGanError(f"--precision {','.join(popts.variants)}: precision variants are made of the generator "
                          "(PSNR of its images); compile with --net g or both")
    compiled = [compile_network(infos[r], refs[r].state_dict(), role=r, passes=passes, genotype=g) for r in roles]
    return write_compile_dir(out_dir, compiled, g, opset=opset, verify=verify, interpreters=refs, worker=worker,
                             on_step=on_step, precision=popts, torch_fidelity=torch_fidelity, model_card=model_card)


def load_compiled(path: str | os.PathLike[str], backend: str | None = None, compiled: bool = False,
                  precision: str = "fp32") -> Sampler:
    """The generator of a `gcc-gan compile` directory: `.module` (the standalone PyTorch
    module, torch backend), `.latent_dim`, `.image_shape`, and `gen(z)` → float NCHW
    images in [-1, 1] for float32 numpy latents. `backend`: "torch" or "onnx" (onnxruntime).
    `compiled=True` runs the module through torch.compile with frozen weights (needs a
    C++ compiler; minutes of start-up on a slow CPU; then faster than eager, near onnxruntime).
    `precision`: "fp16" / "int8" run `generator.fp16.onnx` / `generator.int8.onnx` (from
    `compile(..., precisions=[...])`; they run on onnxruntime, the backend they imply when
    `backend` is None; torch is an error)."""
    from .runtime.sample import load_compiled_dir

    return load_compiled_dir(path, backend, compiled, precision)


def load_generator(source: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None,
                   backend: str | None = None, width: float | None = None, compiled: bool = False,
                   precision: str = "fp32") -> Sampler:
    """A generator to sample from: a compile directory, a training run directory, or a
    genotype file / `zoo:NAME` (with `weights`, else freshly initialised with seed 0).
    `compiled`, `precision`: as in `load_compiled`."""
    from .runtime.sample import load_generator as _load

    return _load(source, weights, backend, width, compiled, precision)


def _sampler(source: Sampler | str | os.PathLike[str], weights: Any, backend: str) -> Sampler:
    from .runtime.sample import Sampler as _Sampler

    if isinstance(source, _Sampler):
        if weights is not None:
            raise GccGanError("weights apply to a source path, not to an already loaded generator")
        return source
    return load_generator(source, weights, backend)


def sample(source: Sampler | str | os.PathLike[str], n: int, *, seed: int = 0, batch_size: int = 64,
           truncation: float | None = None, backend: str = "torch", weights: str | os.PathLike[str] | None = None,
           progress: bool = False) -> np.ndarray:
    """`n` images, uint8 NHWC RGB, from `source` (a loaded generator or anything
    `load_generator` takes). Latents: N(0, 1) from `np.random.RandomState(seed)` drawn batch
    by batch (as torch-fidelity draws them), truncated to [-t, t] with `truncation`; the
    same arguments give the same images."""
    import numpy as np

    from .runtime.sample import image_batches

    gen = _sampler(source, weights, backend)
    return np.concatenate(list(image_batches(gen, n, seed, batch_size, truncation, progress)))


def save_samples(source: Sampler | str | os.PathLike[str], n: int, out: str | os.PathLike[str], *, seed: int = 0,
                 batch_size: int = 64, truncation: float | None = None, backend: str = "torch",
                 weights: str | os.PathLike[str] | None = None, force: bool = False, progress: bool = False) -> Path:
    """Write `n` images from `source` (as `sample` makes them) to `out`: a folder of PNGs
    (plus `samples.json`), an `.npz` holding `arr_0` (uint8 NHWC) or one grid `.png`,
    atomically. An existing `out` is replaced only with `force` (a folder only if it is an
    earlier sample folder)."""
    from .runtime.sample import image_batches, write_samples
    from .runtime.sample_out import check_output, check_resources, check_sample_args

    check_sample_args(n, batch_size)
    check_output(out, force)  # before the (possibly slow) load
    gen = _sampler(source, weights, backend)
    check_resources(out, n, gen.image_shape, batch_size)  # disk and memory, before the first image
    meta = {"source": gen.source, "backend": gen.backend, "seed": seed, "truncation": truncation,
            "batch_size": batch_size, "latent_dims": gen.latent_dims, "image_shape": list(gen.image_shape),
            **({"weights": str(weights)} if weights is not None else {})}
    return write_samples(image_batches(gen, n, seed, batch_size, truncation, progress), n, out, meta, force)


def benchmark(targets: Genotype | str | os.PathLike[str] | Sequence[Genotype | str | os.PathLike[str]], *,
              weights: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
              metrics: str | Sequence[str] = ("size", "macs", "latency"), width: float | None = None,
              batches: Sequence[int] = (1, 64), latency_repeats: int | None = None,
              compile: bool = False,  # noqa: A002
              num_samples: int | None = None, real: str | os.PathLike[str] | None = None,
              inception_weights: str | os.PathLike[str] | None = None, batch_size: int = 64, seed: int = 2020,
              device: str = "cpu", count: str = "executed", progress: bool = False,
              protocol: str | None = None, fid_mode: str | None = None, repeats: int = 1,
              on_target: Callable[[str, str], None] | None = None,
              on_row: Callable[[BenchReport], None] | None = None) -> BenchReport:
    """Benchmark generators side by side, as `gcc-gan bench` does (it calls this function;
    not named `bench`: `gcc_gan.bench` is the subpackage of the measurements).

    `targets`: one or several of a compile directory, a training run directory, a genotype
    file, `zoo:NAME` or a `Genotype`; `weights`: one per genotype target (a .safetensors /
    checkpoint file or a training run), `width`: a multiplier of each genotype's base width.
    `metrics`: any of "size", "macs", "latency", "is", "fid", "kid", "prdc", "swd" (a list or
    a comma-separated string). IS / FID / KID / PRDC need Inception weights
    (`inception_weights`, else `$GCC_GAN_INCEPTION`, else the torch hub cache; never
    downloaded) and FID / KID / PRDC / SWD real data (`real`: a data spec such as
    "cifar10:PATH", or a `gcc-gan stats` .npz for FID / KID / PRDC), measured under
    `protocol` (a preset of bench/protocol.py: "torch-fidelity" (default), "autogan",
    "studiogan", "clean-fid") with its sample count and `fid_mode` ("legacy-tf" / "clean")
    unless `num_samples` / `fid_mode` are given (SWD: 256 images unless
    `num_samples` is given, at most 16384); `repeats` runs (latent seeds seed,
    seed + 1, ...) give mean ± std. Latency: median / IQR of `latency_repeats` interleaved
    calls (default: ~3 s per batch size) at each of `batches`, for
    the interpreter, the compiled module, onnxruntime (and torch.compile with `compile`).
    `count="official"`: rows also hold params / MACs as the official code counts them.
    `on_target(label, source)` is called before each target, `on_row(report)` after each
    with the rows so far (`report.partial` until the last).

    Returns a `BenchReport`: `.rows`, one dict per target (`method`, `size` {params, macs,
    fp32_bytes, onnx_bytes, ...}, `latency` {impl: {batch: {median_ms, images_per_s, ...}}},
    `is`, `fid`, `kid`, `prdc`, `swd` as {mean, std, ...}, and `protocol`, what they were
    measured under), and `.to_json()`, the `--json` document."""
    from .bench.runner import BenchOptions, parse_metrics, run_bench

    specs = [targets] if isinstance(targets, (str, os.PathLike)) or not isinstance(targets, Sequence) else targets
    if not specs:
        raise GccGanError("benchmark: name at least one target")
    ws = [weights] if isinstance(weights, (str, os.PathLike)) else weights
    if count not in ("executed", "official"):
        raise GccGanError(f"--count must be executed or official, not {count!r}")
    names = parse_metrics(metrics if isinstance(metrics, str) else ",".join(metrics))
    opts = BenchOptions(metrics=names, num_samples=num_samples, real=None if real is None else str(real),
                        inception_weights=None if inception_weights is None else str(inception_weights),
                        device=device, compile=compile, batches=tuple(batches), latency_repeats=latency_repeats,
                        batch_size=batch_size, seed=seed, progress=progress, protocol=protocol, fid_mode=fid_mode,
                        repeats=repeats)
    return run_bench([os.fspath(t) if isinstance(t, os.PathLike) else t for t in specs],
                     None if ws is None else [os.fspath(w) for w in ws], width, opts, count == "official", on_target,
                     on_row)
