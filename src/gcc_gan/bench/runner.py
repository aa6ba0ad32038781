"""One benchmark run: every requested metric for every target, as JSON-ready dicts."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np
import torch

from ..errors import GccGanError
from .inception import ENV_VAR, Inception, load_inception, resolve_weights
from .latency import Runner, measure, onnx_runner, onnx_session, torch_runner
from .metrics import SEED, fid, generated_batches, generator_features, inception_score, kid, to_uint8, warn
from .size import flop_check, size_report
from .stats import RealStats, resolve_real
from .targets import Target, disambiguate_labels, load_target

if TYPE_CHECKING:
    from ..genotype_dsl.model import Genotype

METRICS = ("size", "macs", "latency", "is", "fid", "kid", "swd")
DEFAULT_METRICS = ("size", "macs", "latency")
NEEDS_INCEPTION = {"is", "fid", "kid"}


def parse_metrics(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_METRICS
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise GccGanError(f"--metrics: unknown metric {bad[0]!r}; choose from {', '.join(METRICS)}" if bad
                          else "--metrics: name at least one metric")
    return tuple(dict.fromkeys(names))


@dataclass
class BenchOptions:
    metrics: tuple[str, ...] = DEFAULT_METRICS
    num_samples: int = 50_000
    real: str | None = None
    inception_weights: str | None = None
    device: str = "cpu"
    compile: bool = False
    batches: tuple[int, ...] = (1, 64)
    repeats: int | None = None
    batch_size: int = 64
    seed: int = SEED
    progress: bool = True
    cache_dir: str | None = None

    def check(self) -> None:
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise GccGanError(f"--device must be cpu or cuda, not {self.device!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise GccGanError("--device cuda: no CUDA device is available")
        wants = NEEDS_INCEPTION & set(self.metrics)
        if wants:
            if self.num_samples < 1:
                raise GccGanError(f"--num-samples must be positive, not {self.num_samples}")
            if "is" in self.metrics and self.num_samples < 10:
                raise GccGanError(f"--num-samples {self.num_samples}: IS over 10 splits needs at least 10 samples")
            if {"fid", "kid"} & wants and not self.real:
                raise GccGanError("FID / KID compare with real data: give --real DATASPEC (e.g. cifar10:/data/cifar10, "
                                  "synthetic) or --real stats.npz (from gcc-gan stats)")
            if {"fid", "kid"} & wants and self.num_samples < 2:
                raise GccGanError("FID / KID need --num-samples of at least 2")
        if "swd" in self.metrics:
            if not self.real or self.real.endswith(".npz"):
                raise GccGanError("SWD compares with real images: give --real DATASPEC (e.g. cifar10:/data/cifar10, "
                                  "synthetic); a stats.npz holds no images")
            if self.num_samples < 2:
                raise GccGanError("SWD needs --num-samples of at least 2")
        if self.batch_size < 1:
            raise GccGanError(f"--batch-size must be positive, not {self.batch_size}")
        if any(b < 1 for b in self.batches):
            raise GccGanError("latency batch sizes must be positive")
        if self.repeats is not None and self.repeats < 1:
            raise GccGanError(f"--repeats must be positive, not {self.repeats}")
        if "latency" in self.metrics and not self.batches:
            raise GccGanError("latency needs at least one batch size")


class Session:
    """Shared state of a run: the Inception network and real statistics (per image size)
    are loaded once for all targets."""

    def __init__(self, opts: BenchOptions) -> None:
        opts.check()
        self.opts = opts
        self.device = torch.device(opts.device)
        self.inception: Inception | None = None
        self.quality_unavailable: str | None = None  # why IS / FID / KID are not measured
        if NEEDS_INCEPTION & set(opts.metrics):  # fail on bad weights before any work
            try:
                resolve_weights(opts.inception_weights)
            except GccGanError as e:
                named = opts.inception_weights is not None or os.environ.get(ENV_VAR)
                if named or not set(opts.metrics) - NEEDS_INCEPTION:
                    raise  # a file the user named is missing, or there would be nothing to report
                # as `scale` does: say once which file is missing, report the other metrics
                warn(f"IS / FID / KID unavailable (the other metrics are reported): {e}")
                self.quality_unavailable = "no FID Inception weights"
            else:
                self.inception = load_inception(opts.inception_weights, self.device)
        self._real: dict[int, RealStats] = {}
        self._real_file: RealStats | None = None
        wants_real = bool({"fid", "kid"} & set(opts.metrics))
        if self.inception is not None and opts.real and opts.real.endswith(".npz") and wants_real:
            self._real_file = resolve_real(opts.real, 0, None, self.inception)  # a bad file fails now

    def real_stats(self, size: int) -> RealStats:
        assert self.inception is not None and self.opts.real is not None
        if size not in self._real:
            s = self._real_file or resolve_real(self.opts.real, size, self.opts.num_samples, self.inception,
                                                self.opts.cache_dir, self.opts.progress)
            rs = s.protocol.get("size")
            if rs is not None and int(rs) != size:
                warn(f"--real {self.opts.real}: real statistics are at {rs}×{rs}, the generator makes "
                     f"{size}×{size} images; FID / KID across resolutions are not comparable with published numbers")
            self._real[size] = s
        return self._real[size]

    # ------------------------------------------------------------------------ per target

    def run(self, t: Target) -> dict[str, Any]:
        m = self.opts.metrics
        t.module.to(self.device).eval()
        out: dict[str, Any] = {"method": t.label, "source": t.source, "image_size": t.image_size,
                               "latent_dims": t.latent_dims}
        with _tmpdir() as tmp:
            onnx = t.onnx
            if "size" in m or "latency" in m:
                onnx = onnx or self._export_onnx(t, tmp)
            if "size" in m or "macs" in m:
                checks = self._flop_checks(t) if "macs" in m else None
                out["size"] = size_report(t.params, t.macs, onnx, checks).to_json()
                out["size"]["macs_compiled"] = t.macs_compiled
            if "latency" in m:
                out["latency"] = self._latency(t, onnx)
        if NEEDS_INCEPTION & set(m):
            if self.inception is not None:
                out.update(self._quality(t))
            else:
                out["unavailable"] = {k: self.quality_unavailable for k in METRICS if k in NEEDS_INCEPTION & set(m)}
        if "swd" in m:
            out["swd"] = self._swd(t)
        if t.notes:
            out["notes"] = list(t.notes)
        return out

    def _export_onnx(self, t: Target, tmp: Path) -> Path | None:
        from ..export.onnx_export import export_onnx

        path = tmp / "generator.onnx"
        try:
            export_onnx(t.module.cpu(), t.input_shapes, path, output_names=list(t.output_shapes))
        except GccGanError as e:
            t.notes.append(f"onnx: {e}")
            return None
        finally:
            t.module.to(self.device)
        return path

    def _flop_checks(self, t: Target) -> list[Any]:
        checks = []
        if t.info is not None:
            checks.append(flop_check(t.interpreter().to(self.device), t.info.input_shapes,
                                     [o for e in t.info.edges for o in e.ops], "interpreter"))
        if t.ir_ops:
            checks.append(flop_check(t.module, t.input_shapes, t.ir_ops, "compiled"))
        for c in checks:
            if not c.agrees:
                warn(f"{t.label}: FlopCounterMode counts {c.counter_flops:,} FLOPs per image on the {c.module} "
                     f"module, the IR says 2 × ({c.ir_macs:,} − {c.ir_bias_adds:,} bias adds)")
        return checks

    def _latency(self, t: Target, onnx: Path | None) -> dict[str, Any]:
        dev = self.device
        cands: dict[str, Callable[[int], Runner]] = {}
        if t.info is not None:
            interp = t.interpreter().to(dev)
            cands["interpreter"] = lambda b: torch_runner(interp, t.input_shapes, b, dev)
        cands["compiled"] = lambda b: torch_runner(t.module, t.input_shapes, b, dev)
        if onnx is not None:
            try:
                sess = onnx_session(str(onnx), dev)
                cands["onnxruntime"] = lambda b: onnx_runner(sess, t.input_shapes, b)
            except GccGanError as e:
                t.notes.append(f"onnxruntime: {e}")
        if self.opts.compile:
            compiled = torch.compile(t.module)
            cands["torch.compile"] = lambda b: torch_runner(compiled, t.input_shapes, b, dev)
        res = measure(cands, self.opts.batches, self.opts.repeats, dev)
        base = res.get("interpreter")
        out: dict[str, Any] = {}
        for name, per_batch in res.items():
            out[name] = {}
            for b, timing in per_batch.items():
                d = timing.to_json()
                if base is not None and b in base:
                    d["speedup_vs_interpreter"] = base[b].median_ms / timing.median_ms
                out[name][str(b)] = d
        return out

    def _quality(self, t: Target) -> dict[str, Any]:
        assert self.inception is not None
        o = self.opts
        # real statistics first: a bad --real fails before the long generation
        real = self.real_stats(t.image_size) if {"fid", "kid"} & set(o.metrics) else None
        feats = generator_features(self.inception, t.module, t.latent_dims, o.num_samples, o.batch_size, o.seed,
                                   o.progress)
        out: dict[str, Any] = {"num_samples": o.num_samples}
        if "is" in o.metrics:
            mean, std = inception_score(feats.logits, seed=o.seed)
            out["is"] = {"mean": mean, "std": std}
        if real is not None:
            out["real"] = {"source": o.real, "num_samples": real.gaussian.n}
            if "fid" in o.metrics:
                out["fid"] = fid(feats, real.gaussian)
            if "kid" in o.metrics:
                mean, std = kid(feats.pool, real.kid_features, seed=o.seed)
                out["kid"] = {"mean": mean, "std": std}
        return out


    def _swd(self, t: Target) -> dict[str, Any]:
        from ..train.data import load_dataset
        from .swd import MAX_IMAGES, swd

        o = self.opts
        n = min(o.num_samples, MAX_IMAGES)
        if o.num_samples > MAX_IMAGES:
            warn(f"SWD uses {MAX_IMAGES} images (ProGAN's protocol), not --num-samples {o.num_samples}")
        data = load_dataset(o.real or "", t.image_size)
        if len(data) < n:
            n = len(data)
        real = to_uint8(data.batch(np.random.RandomState(o.seed).choice(len(data), n, replace=False)))
        t.module.eval()
        fake = torch.cat(list(generated_batches(t.module, t.latent_dims, n, o.batch_size, o.seed, self.device)))
        res = swd(fake.cpu(), real, seed=o.seed).to_json()
        return {**res, "num_samples": n, "real": o.real}


@dataclass
class BenchReport:
    """The result of one benchmark run: `rows`, one JSON-ready dict per target in the
    order given (`method`, `source`, `image_size`, `latent_dims`, and per metric: `size`
    {params, macs, fp32_bytes, onnx_bytes, flops, ...}, `latency` {impl: {batch:
    {median_ms, iqr_ms, images_per_s, ...}}}, `is` / `kid` {mean, std}, `fid`, `swd`,
    `notes`), and how they were measured."""

    rows: list[dict[str, Any]]
    metrics: tuple[str, ...]
    device: str
    seed: int
    inception: dict[str, Any] | None = None  # {path, sha256, fid_inception} when IS / FID / KID ran

    def to_json(self) -> dict[str, Any]:
        """The document `gcc-gan bench --json` writes."""
        from .. import __version__

        doc: dict[str, Any] = {"gcc_gan_version": __version__, "torch_version": torch.__version__,
                               "metrics": list(self.metrics), "device": self.device, "seed": self.seed,
                               "results": self.rows}
        if self.inception is not None:
            doc["inception"] = self.inception
        return doc


def run_bench(specs: Sequence[str | Genotype], weights: Sequence[str] | None, width: float | None,
              opts: BenchOptions, official: bool = False,
              on_target: Callable[[str, str], None] | None = None) -> BenchReport:
    """Benchmark every target (see `load_target`) with one `Session`; `weights`: one per
    target or None; `official`: rows also get `executed` and `official` params / MACs;
    `on_target(label, source)` is called before each target is measured."""
    if weights and len(weights) != len(specs):
        raise GccGanError(f"--weights given {len(weights)} time(s) for {len(specs)} target(s): give one per target")
    from ..genotype_dsl.memory import check_resident

    check_resident("benchmark")  # a --max-memory below what the process already holds
    session = Session(opts)  # validates options and loads Inception before any long work
    loaded = [load_target(t, weights[i] if weights else None, width) for i, t in enumerate(specs)]
    disambiguate_labels(loaded, list(weights) if weights else None, width)
    rows = []
    for t in loaded:
        if on_target is not None:
            on_target(t.label, t.source)
        rows.append(session.run(t))
    if official:
        for t, r in zip(loaded, rows):
            r["executed"], r["official"] = {"params": t.params, "macs": t.macs}, t.official_counts()
    inc = session.inception
    return BenchReport(rows, opts.metrics, opts.device, opts.seed,
                       None if inc is None else {"path": str(inc.path), "sha256": inc.sha256,
                                                 "fid_inception": inc.verified})


@contextlib.contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gcc-gan-bench-") as d:
        yield Path(d)
