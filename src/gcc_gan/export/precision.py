"""Reduced-precision ONNX variants of a compiled generator, each verified against fp32.

- fp16: every float initializer and op in float16 (onnxruntime's own converter); the
  graph's input and output stay float32 behind Cast nodes, so callers feed the same
  latents. Meant for GPU providers; verified here on the CPU provider.
- int8: onnxruntime static quantization in QDQ form, per-channel int8 weights and uint8
  activations, calibrated (MinMax) on standard-normal latents from a fixed seed. The first
  layer (reads the latent) and the output conv (writes the RGB image) stay fp32: they hold
  few of the MACs and most of the visible error.

Each variant is run with the fp32 graph on one fixed latent batch: max abs error and PSNR
(peak-to-peak 2, the images' [-1, 1] range), and images/s of both measured side by side
(interleaved repeats). A PSNR below the threshold is an error; the compile writes nothing.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import GccGanError
from .onnx_phases import convtranspose_to_phases
from .standalone import first_line, quiet

Shape = tuple[int, ...]
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_MIN_PSNR = 30.0
DEFAULT_CALIBRATION = 128  # latents
CALIBRATION_SEED = 1234
CALIBRATION_BATCH = 32
QUALITY_BATCH = 64  # the fixed latent batch of the PSNR check and of the timing
QUALITY_SEED = 20260
TIMING_REPEATS = 3


@dataclass(frozen=True)
class PrecisionOptions:
    precisions: tuple[str, ...] = ("fp32",)
    calibration_size: int = DEFAULT_CALIBRATION
    min_psnr: float = DEFAULT_MIN_PSNR
    threads: int | None = None  # onnxruntime intra-op threads of the timing (None: its default)

    @staticmethod
    def make(precisions: Sequence[str] | None = None, calibration_size: int | None = None,
             min_psnr: float | None = None) -> PrecisionOptions:
        """Checked options: names from PRECISIONS (fp32 always included), a calibration
        size ≥ 1, a finite threshold."""
        names: list[str] = []
        for p in [q.strip().lower() for item in (precisions or ["fp32"]) for q in str(item).split(",")]:
            if p not in PRECISIONS:
                raise GccGanError(f"--precision {p!r}: choose from {', '.join(PRECISIONS)}")
            if p not in names:
                names.append(p)
        if "fp32" not in names:
            names.insert(0, "fp32")  # the reference every variant is verified against
        size = DEFAULT_CALIBRATION if calibration_size is None else int(calibration_size)
        if size < 1:
            raise GccGanError(f"--calibration-size {size}: need at least one latent")
        psnr = DEFAULT_MIN_PSNR if min_psnr is None else float(min_psnr)
        if not (math.isfinite(psnr) and psnr >= 0):
            raise GccGanError(f"--min-psnr {psnr:g}: must be a finite number of dB, 0 or more")
        return PrecisionOptions(tuple(sorted(names, key=PRECISIONS.index)), size, psnr)

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(p for p in self.precisions if p != "fp32")


def variant_file(stem: str, precision: str) -> str:
    return f"{stem}.{precision}.onnx"


def _latents(input_shapes: Mapping[str, Shape], n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(seed)
    return {name: rng.randn(n, *shape).astype(np.float32) for name, shape in input_shapes.items()}


def to_fp16(src: Path, dst: Path) -> list[str]:
    """fp16 weights and math, fp32 input/output. Returns the op types kept in fp32 (those
    of the graph on onnxruntime's converter's block list; none for our networks)."""
    import onnx
    from onnxruntime.transformers.float16 import (
        DEFAULT_OP_BLOCK_LIST,
        convert_float_to_float16,
    )

    model = onnx.load(str(src))
    with quiet():
        m16 = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    onnx.save(m16, str(dst))
    return sorted({n.op_type for n in model.graph.node if n.op_type in DEFAULT_OP_BLOCK_LIST})


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over fixed-seed latents."""

    def __init__(self, input_shapes: Mapping[str, Shape], n: int) -> None:
        allz = _latents(input_shapes, n, CALIBRATION_SEED)
        self.batches = [{k: v[i:i + CALIBRATION_BATCH] for k, v in allz.items()}
                        for i in range(0, n, CALIBRATION_BATCH)]
        self.i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return self.batches[self.i - 1]

    def rewind(self) -> None:
        self.i = 0


def to_int8(src: Path, dst: Path, input_shapes: Mapping[str, Shape], calibration_size: int) -> dict[str, Any]:
    """Static QDQ quantization (per-channel int8 weights, uint8 activations, MinMax
    calibration on `calibration_size` fixed-seed latents); the first and the last
    Conv/Gemm stay fp32, sub-pixel ConvTransposes become phase Convs first (`onnx_phases`).
    Returns what was kept in fp32 and the calibration used."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name(f".{dst.stem}.pre.onnx")
    try:
        with quiet(), contextlib.redirect_stdout(None):
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        layers = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul", "ConvTranspose")]
        keep = list(dict.fromkeys(n.name for n in (layers[:1] + layers[-1:]))) if len(layers) > 2 else []
        phases = convtranspose_to_phases(model)  # int8 Conv kernels exist; int8 ConvTranspose ones do not
        if phases:
            keep = [name for k in keep for name in phases.get(k, [k])]
            onnx.save(model, str(pre))

        class Reader(_Calibration, CalibrationDataReader):  # type: ignore[misc]
            pass

        with quiet():
            quantize_static(str(pre), str(dst), Reader(input_shapes, calibration_size), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=keep)
    except GccGanError:
        raise
    except Exception as e:  # noqa: BLE001 - reported as one line
        raise GccGanError(f"int8 quantization of {src.name} failed: {first_line(e)}") from e
    finally:
        with contextlib.suppress(OSError):
            pre.unlink()
        for extra in dst.parent.glob(f"{pre.name}*"):  # calibration side files
            with contextlib.suppress(OSError):
                extra.unlink()
    return {"kept_fp32": keep, "phase_convs": sorted(phases),
            "calibration": {"latents": calibration_size, "seed": CALIBRATION_SEED,
                                               "method": "MinMax"},
            "format": "QDQ", "weights": "int8 per-channel", "activations": "uint8"}


def psnr_db(got: np.ndarray, want: np.ndarray, peak_to_peak: float = 2.0) -> float:
    """PSNR in dB of `got` against `want` with the given signal range (2 for [-1, 1])."""
    mse = float(np.mean((got.astype(np.float64) - want.astype(np.float64)) ** 2))
    if not math.isfinite(mse):
        return float("-inf")
    return float("inf") if mse == 0 else 10.0 * math.log10(peak_to_peak ** 2 / mse)


def session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        raise GccGanError(f"onnxruntime cannot load {path.name}: {first_line(e)}") from e


def compare(fp32: Path, variant: Path, input_shapes: Mapping[str, Shape], batch: int = QUALITY_BATCH,
            threads: int | None = None, repeats: int = TIMING_REPEATS) -> dict[str, Any]:
    """The variant against the fp32 graph on one fixed latent batch: max abs error, PSNR,
    and images/s of both, timed side by side (interleaved, rotating order)."""
    from ..timing import time_interleaved

    s32, sv = session(fp32, threads), session(variant, threads)
    feeds = _latents(input_shapes, batch, QUALITY_SEED)
    want = s32.run(None, feeds)[0]
    try:
        got = sv.run(None, feeds)[0]
    except Exception as e:  # noqa: BLE001
        raise GccGanError(f"onnxruntime failed on {variant.name}: {first_line(e)}") from e
    if got.shape != want.shape:
        raise GccGanError(f"{variant.name}: output shape {got.shape} differs from fp32's {want.shape}")
    got = got.astype(np.float32)
    err = float(np.abs(got - want).max()) if np.isfinite(got).all() else float("inf")
    t = time_interleaved({"fp32": lambda: s32.run(None, feeds), "variant": lambda: sv.run(None, feeds)}, batch,
                         repeats=repeats)
    ips32, ipsv = t["fp32"].images_per_s, t["variant"].images_per_s
    return {"batch": batch, "latent_seed": QUALITY_SEED, "max_abs_err": err, "psnr_db": psnr_db(got, want),
            "images_per_s": ipsv, "fp32_images_per_s": ips32, "speedup_vs_fp32": ipsv / ips32 if ips32 else None,
            "timing_repeats": repeats, "threads": threads or "onnxruntime default"}


def build_variants(tmp: Path, stem: str, input_shapes: Mapping[str, Shape], opts: PrecisionOptions,
                   describe_variant: Any = None) -> dict[str, dict[str, Any]]:
    """Write and verify each of `opts.variants` next to `tmp/STEM.onnx`; a variant whose
    PSNR is below `opts.min_psnr` raises GccGanError naming the figure.
    `describe_variant(model, precision)` updates a loaded model's metadata."""
    import onnx

    fp32 = tmp / f"{stem}.onnx"
    out: dict[str, dict[str, Any]] = {}
    for p in opts.variants:
        dst = tmp / variant_file(stem, p)
        info: dict[str, Any] = {"file": dst.name}
        if p == "fp16":
            info["kept_fp32"] = to_fp16(fp32, dst)
        else:
            info.update(to_int8(fp32, dst, input_shapes, opts.calibration_size))
        if describe_variant is not None:
            model = onnx.load(str(dst))
            describe_variant(model, p)
            onnx.save(model, str(dst))
        info.update(compare(fp32, dst, input_shapes, threads=opts.threads))
        if not info["psnr_db"] >= opts.min_psnr:
            raise GccGanError(f"{dst.name}: PSNR {info['psnr_db']:.1f} dB against fp32 (max abs error "
                              f"{info['max_abs_err']:.3g}) is below the threshold {opts.min_psnr:g} dB "
                              f"(--min-psnr); nothing was written")
        info["bytes"] = dst.stat().st_size
        out[p] = info
    return out
