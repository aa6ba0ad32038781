"""One benchmark run: every requested metric for every target, as JSON-ready dicts."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import torch

from ..console import progress as phase
from ..console import warn
from ..errors import GccGanError
from .features import SEED
from .inception import ENV_VAR, Inception, load_inception, resolve_weights
from .latency import Runner, measure, onnx_runner, onnx_session, torch_runner
from .protocol import Protocol, check_fid_mode, describe, get_protocol
from .quality import quality_runs, swd_runs
from .size import flop_check, size_report
from .stats import RealStats, resolve_real
from .targets import Target, disambiguate_labels, load_target

if TYPE_CHECKING:
    from ..export.hub import Measured
    from ..genotype_dsl.model import Genotype

METRICS = ("size", "macs", "latency", "is", "fid", "kid", "prdc", "swd")
DEFAULT_METRICS = ("size", "macs", "latency")
NEEDS_INCEPTION = {"is", "fid", "kid", "prdc"}
NEEDS_REAL = {"fid", "kid", "prdc"}


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
    num_samples: int | None = None  # as given; None: the protocol's (SWD: SWD_SAMPLES)
    real: str | None = None
    inception_weights: str | None = None
    device: str = "cpu"
    compile: bool = False
    batches: tuple[int, ...] = (1, 64)
    latency_repeats: int | None = None
    batch_size: int = 64
    seed: int = SEED
    progress: bool = True
    cache_dir: str | None = None
    protocol: str | None = None  # a preset name (bench/protocol.py); None: the default
    fid_mode: str | None = None  # None: the protocol's
    repeats: int = 1  # quality metrics over this many latent seeds (mean ± std)

    def resolved_protocol(self) -> Protocol:
        return get_protocol(self.protocol).with_overrides(num_samples=self.num_samples,
                                                           fid_mode=check_fid_mode(self.fid_mode))

    def check(self) -> None:
        n = self.quality_samples
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise GccGanError(f"--device must be cpu or cuda, not {self.device!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise GccGanError("--device cuda: no CUDA device is available")
        wants = NEEDS_INCEPTION & set(self.metrics)
        if wants:
            if n < 1:
                raise GccGanError(f"--num-samples must be positive, not {n}")
            if "is" in self.metrics and n < 10:
                raise GccGanError(f"--num-samples {n}: IS over 10 splits needs at least 10 samples")
            if NEEDS_REAL & wants and not self.real:
                raise GccGanError("FID / KID / PRDC compare with real data: give --real DATASPEC (e.g. "
                                  "cifar10:/data/cifar10, digits) or --real stats.npz (from gcc-gan stats)")
            if NEEDS_REAL & wants and n < 2:
                raise GccGanError("FID / KID / PRDC need --num-samples of at least 2")
        if "swd" in self.metrics:
            if not self.real or self.real.endswith(".npz"):
                raise GccGanError("SWD compares with real images: give --real DATASPEC (e.g. cifar10:/data/cifar10, "
                                  "synthetic); a stats.npz holds no images")
            if self.swd_samples < 2:
                raise GccGanError("SWD needs --num-samples of at least 2")
        if self.batch_size < 1:
            raise GccGanError(f"--batch-size must be positive, not {self.batch_size}")
        if any(b < 1 for b in self.batches):
            raise GccGanError("latency batch sizes must be positive")
        if self.latency_repeats is not None and self.latency_repeats < 1:
            raise GccGanError(f"--latency-repeats must be positive, not {self.latency_repeats}")
        if self.repeats < 1:
            raise GccGanError(f"--repeats must be positive, not {self.repeats}")
        if "latency" in self.metrics and not self.batches:
            raise GccGanError("latency needs at least one batch size")

    @property
    def quality_samples(self) -> int:
        """Generated images for IS / FID / KID / PRDC: the protocol's, or --num-samples."""
        return self.resolved_protocol().num_samples

    @property
    def swd_samples(self) -> int:
        """Generated (and real) images for SWD: its own quick default, or --num-samples up to
        ProGAN's 16k (its cost grows with the count: sorting 128 descriptors per image)."""
        from .swd import MAX_IMAGES, SWD_SAMPLES

        return SWD_SAMPLES if self.num_samples is None else min(self.num_samples, MAX_IMAGES)

    @property
    def swd_asked_more(self) -> bool:
        """--num-samples above what SWD takes (said once, when SWD runs)."""
        from .swd import MAX_IMAGES

        return self.num_samples is not None and self.num_samples > MAX_IMAGES


class Session:
    """Shared state of a run: the Inception network and real statistics (per image size)
    are loaded once for all targets."""

    def __init__(self, opts: BenchOptions) -> None:
        opts.check()
        self.opts = opts
        self.protocol = opts.resolved_protocol()
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
        self._real: dict[tuple[int, int], RealStats] = {}
        self._real_file: RealStats | None = None
        wants_real = bool(NEEDS_REAL & set(opts.metrics))
        if self.inception is not None and opts.real and opts.real.endswith(".npz") and wants_real:
            # a bad file fails now
            self._real_file = resolve_real(opts.real, 0, None, self.inception, fid_mode=self.protocol.fid_mode)

    def real_stats(self, size: int, repeat: int = 0) -> RealStats:
        """Real statistics at `size`; repeat i draws another real subset (subset seed i)
        where the real set is larger than the protocol's real count, else the same."""
        assert self.inception is not None and self.opts.real is not None
        if repeat and (self._real_file is not None or not self.real_stats(size).subsampled):
            return self.real_stats(size)
        if (size, repeat) not in self._real:
            s = self._real_file or resolve_real(self.opts.real, size, self.protocol.real_count(), self.inception,
                                                self.opts.cache_dir, self.opts.progress, self.protocol.fid_mode,
                                                subset_seed=repeat)
            rs = s.protocol.get("size")
            if rs is not None and int(rs) != size:
                warn(f"--real {self.opts.real}: real statistics are at {rs}×{rs}, the generator makes "
                     f"{size}×{size} images; FID / KID across resolutions are not comparable with published numbers")
            self._real[(size, repeat)] = s
        return self._real[(size, repeat)]

    # ------------------------------------------------------------------------ per target

    def run(self, t: Target) -> dict[str, Any]:
        m = self.opts.metrics
        t.module.to(self.device).eval()
        out: dict[str, Any] = {"method": t.label, "source": t.source, "image_size": t.image_size,
                               "latent_dims": t.latent_dims}
        static = [k for k in ("size", "macs", "latency") if k in m]
        with _tmpdir() as tmp, phase(f"{t.label}: {', '.join(static)}", enabled=self.opts.progress and bool(static),
                                     transient=True) as step:
            onnx = t.onnx
            if "size" in m or "latency" in m:
                if onnx is None:
                    step.update(description=f"{t.label}: ONNX export")
                onnx = onnx or self._export_onnx(t, tmp)
            if "size" in m or "macs" in m:
                step.update(description=f"{t.label}: size and FLOP check")
                checks = self._flop_checks(t) if "macs" in m else None
                out["size"] = size_report(t.params, t.macs, onnx, checks).to_json()
                out["size"]["macs_compiled"] = t.macs_compiled
            if "latency" in m:
                step.update(description=f"{t.label}: latency")
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
        res = measure(cands, self.opts.batches, self.opts.latency_repeats, dev)
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
        real = (lambda i: self.real_stats(t.image_size, i)) if NEEDS_REAL & set(self.opts.metrics) else None
        return quality_runs(self, t, real)

    def _swd(self, t: Target) -> dict[str, Any]:
        return swd_runs(self, t)


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
    protocol: dict[str, Any] | None = None  # the evaluation preset (bench/protocol.py) when quality metrics ran
    repeats: int = 1
    targets: int | None = None  # how many targets were asked for
    partial: bool = False  # True while (or when interrupted before) every target has its row

    def to_json(self) -> dict[str, Any]:
        """The document `gcc-gan bench --json` writes."""
        from ..version import __version__

        doc: dict[str, Any] = {"gcc_gan_version": __version__, "torch_version": torch.__version__,
                               "metrics": list(self.metrics), "device": self.device, "seed": self.seed,
                               "results": self.rows, "partial": self.partial}
        if self.partial and self.targets is not None:
            doc["targets"] = self.targets
        if self.inception is not None:
            doc["inception"] = self.inception
        if self.protocol is not None:
            doc["protocol"] = self.protocol
            doc["repeats"] = self.repeats
        return doc


def measured(doc: dict[str, Any] | None) -> Measured | None:
    """What a `BenchReport.to_json` document measured of its first target, for a model card
    (export/hub.py): IS / FID / KID / SWD means and PRDC, the protocol and the real data."""
    from ..export.hub import Measured

    r = ((doc or {}).get("results") or [None])[0]
    if not r:
        return None
    vals = [(k, float(r[k]["mean"])) for k in ("is", "fid", "kid", "swd")
            if isinstance(r.get(k), dict) and r[k].get("mean") is not None]
    vals += [(k, float(v["mean"])) for k, v in (r.get("prdc") or {}).items()]
    return Measured(tuple(vals), r.get("protocol"), describe(r["protocol"]) if r.get("protocol") else "",
                    (r.get("real") or {}).get("source") or (r.get("swd") or {}).get("real"))


def run_bench(specs: Sequence[str | Genotype], weights: Sequence[str] | None, width: float | None,
              opts: BenchOptions, official: bool = False,
              on_target: Callable[[str, str], None] | None = None,
              on_row: Callable[[BenchReport], None] | None = None) -> BenchReport:
    """Benchmark every target (see `load_target`) with one `Session`; `weights`: one per
    target or None; `official`: rows also get `executed` and `official` params / MACs;
    `on_target(label, source)` is called before each target is measured, `on_row(report)`
    after each, with the rows so far (`partial` until the last one)."""
    if weights and len(weights) != len(specs):
        raise GccGanError(f"--weights given {len(weights)} time(s) for {len(specs)} target(s): give one per target")
    from ..genotype_dsl.memory import check_resident

    check_resident("benchmark")  # a --max-memory below what the process already holds
    session = Session(opts)  # validates options and loads Inception before any long work
    loaded = [load_target(t, weights[i] if weights else None, width) for i, t in enumerate(specs)]
    disambiguate_labels(loaded, list(weights) if weights else None, width)
    inc = session.inception
    quality = bool((NEEDS_INCEPTION | {"swd"}) & set(opts.metrics))
    report = BenchReport([], opts.metrics, opts.device, opts.seed,
                         None if inc is None else {"path": str(inc.path), "sha256": inc.sha256,
                                                   "fid_inception": inc.verified},
                         session.protocol.to_json() if quality else None, opts.repeats, len(loaded), partial=True)
    for i, t in enumerate(loaded):
        if on_target is not None:
            on_target(t.label, t.source)
        row = session.run(t)
        if official:
            row["executed"], row["official"] = {"params": t.params, "macs": t.macs}, t.official_counts()
        report.rows.append(row)
        report.partial = i + 1 < len(loaded)
        if on_row is not None:
            on_row(report)
    return report


@contextlib.contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gcc-gan-bench-") as d:
        yield Path(d)
