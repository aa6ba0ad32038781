"""Compile outputs in the forms other tools take as they are.

* `generator.uint8.onnx`: input `z` (the generator's latents concatenated, dynamic batch),
  output `images`, uint8 NCHW RGB in [0, 255] — what torch-fidelity reads with
  `fidelity --input1 generator.uint8.onnx --input1-model-z-size N`. The [-1, 1] -> uint8
  conversion is gcc_gan.pixels' `to_uint8` (the papers' evaluation code), traced into
  the graph, so torch-fidelity and `gcc-gan bench` measure the same images.
* `test_data_set_0/input_0.pb`, `output_0.pb` beside `generator.onnx`: the ONNX model
  zoo's layout, so any runtime can check itself against the compiler's reference output.
* A Hugging Face Hub model folder (`README.md` with the model-card YAML, `config.json`)
  written into the compile directory with `huggingface_hub`'s `ModelCard` /
  `ModelCardData`; offline, nothing is uploaded. The safetensors weights are the compile's
  own `generator.safetensors`, and `gcc_gan.load_compiled` reads the folder as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import GccGanError

UINT8_ONNX = "generator.uint8.onnx"
TEST_DATA_DIR = "test_data_set_0"
CARD_FILES = ("README.md", "config.json")
LIBRARY = "gcc-gan"
PIPELINE_TAG = "unconditional-image-generation"


class Uint8Generator(nn.Module):
    """One latent input `z` (all latent inputs concatenated, in order) -> uint8 NCHW images."""

    def __init__(self, generator: nn.Module, dims: Sequence[int]) -> None:
        super().__init__()
        self.generator = generator
        self.dims = [int(d) for d in dims]

    def forward(self, z: Tensor) -> Tensor:
        from ..pixels import to_uint8

        out = self.generator(*torch.split(z, self.dims, dim=1))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return to_uint8(out)


def write_uint8_onnx(generator: nn.Module, input_shapes: Mapping[str, Sequence[int]], path: Path,
                     opset: int) -> dict[str, Any]:
    """Export `generator` (latent inputs `input_shapes`) as `generator.uint8.onnx`."""
    from .onnx_export import export_onnx

    shapes = list(input_shapes.values())
    if any(len(s) != 1 for s in shapes):
        raise GccGanError("generator.uint8.onnx needs vector latents (the generator has an input of shape "
                          f"{[tuple(s) for s in shapes]})")
    dims = [int(s[0]) for s in shapes]
    info = export_onnx(Uint8Generator(generator, dims).eval(), {"z": (sum(dims),)}, path, opset, ["images"],
                       metadata={"gcc_gan.output": "uint8 NCHW RGB [0, 255]", "gcc_gan.z_size": str(sum(dims))},
                       doc_string="gcc-gan generator with uint8 output, for torch-fidelity "
                                  f"(--input1-model-z-size {sum(dims)})")
    return {**info, "file": path.name, "z_size": sum(dims)}


def write_test_data(dir_: Path, inputs: Sequence[tuple[str, Tensor]], outputs: Sequence[tuple[str, Tensor]]) -> str:
    """The ONNX model zoo's `test_data_set_0/input_i.pb`, `output_i.pb` (TensorProtos named
    after the graph's inputs and outputs)."""
    from onnx import numpy_helper

    d = dir_ / TEST_DATA_DIR
    d.mkdir()
    for kind, items in (("input", inputs), ("output", outputs)):
        for i, (name, t) in enumerate(items):
            proto = numpy_helper.from_array(np.ascontiguousarray(t.detach().cpu().numpy()), name)
            (d / f"{kind}_{i}.pb").write_bytes(proto.SerializeToString())
    return TEST_DATA_DIR


def read_test_data(dir_: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs, outputs) of a `test_data_set_0` folder, in order."""
    from onnx import TensorProto, numpy_helper

    def load(kind: str) -> list[np.ndarray]:
        out = []
        for p in sorted((dir_ / TEST_DATA_DIR).glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1])):
            t = TensorProto()
            t.ParseFromString(p.read_bytes())
            out.append(numpy_helper.to_array(t))
        return out

    return load("input"), load("output")


# --------------------------------------------------------------------------- model card


def require_hub() -> tuple[Any, Any, Any]:
    """huggingface_hub's EvalResult, ModelCard, ModelCardData, or one readable error."""
    try:
        from huggingface_hub import EvalResult, ModelCard, ModelCardData
    except ImportError:
        raise GccGanError("model cards are written with huggingface_hub (offline, nothing is uploaded): "
                          "pip install 'gcc-gan[hub]'") from None
    return EvalResult, ModelCard, ModelCardData

_METRIC_NAMES = {"is": "Inception Score", "fid": "FID", "kid": "KID", "swd": "SWD ×10³", "precision": "Precision",
                 "recall": "Recall", "density": "Density", "coverage": "Coverage"}


@dataclass(frozen=True)
class Measured:
    """What a `gcc-gan bench --json` document measured of the generator, for its card
    (`bench.runner.measured` reads one; the card is written below the bench)."""

    metrics: tuple[tuple[str, float], ...] = ()  # (metric, mean value)
    protocol: dict[str, Any] | None = None  # the row's protocol record
    protocol_line: str = ""  # bench.protocol.describe of it
    real: str | None = None  # the real data spec measured against


def card_files(out_dir: Path, report: dict[str, Any], measured: Measured | None = None,
               dataset: str | None = None, provenance: Mapping[str, Any] | None = None) -> dict[str, str]:
    """{file name: text} of the Hub layout for a compile directory (`report`: its
    report.json; `measured`: what `gcc-gan bench` measured of it; `provenance`: the
    genotype's, whose metrics are the paper's reported ones)."""
    EvalResult, ModelCard, ModelCardData = require_hub()
    from ..version import __version__

    gname = (report.get("genotype") or {}).get("name") or out_dir.name
    net = (report.get("networks") or {}).get("generator")
    if net is None:
        raise GccGanError(f"{out_dir}: the compile holds no generator; a model card describes a generator")
    m = measured or Measured()
    line = m.protocol_line
    data_name = dataset or m.real or (provenance or {}).get("dataset") or "unknown"
    data_id = data_name.split(":")[0].split("?")[0]
    evals = [EvalResult(task_type=PIPELINE_TAG, dataset_type=data_id, dataset_name=data_name, metric_type=k,
                        metric_value=round(v, 6), metric_name=_METRIC_NAMES.get(k, k), metric_config=line,
                        verified=False) for k, v in m.metrics]
    data = ModelCardData(library_name=LIBRARY, pipeline_tag=PIPELINE_TAG, license="mit",
                         tags=["gan", "unconditional-image-generation", "gcc-gan", "onnx", "safetensors"],
                         datasets=[data_id], model_name=gname, eval_results=evals or None)
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file() and p.name not in CARD_FILES)
    shape = net.get("output_shapes") or {}
    lat = net.get("input_shapes") or {}
    z = sum(int(s[0]) for s in lat.values()) if lat else None
    body = [f"# {gname}", "",
            f"A GAN generator compiled by [gcc-gan](https://pypi.org/project/gcc-gan/) {__version__} "
            f"(genotype sha256 `{(report.get('genotype') or {}).get('sha256', '?')}`): standalone PyTorch "
            "(`generator.py` + `generator.safetensors`), ONNX (`generator.onnx`, with ONNX-model-zoo test data in "
            f"`{TEST_DATA_DIR}/`) and `.pt2`.", "",
            "```python", "import gcc_gan", "gen = gcc_gan.load_compiled(\"THIS_FOLDER\")",
            "images = gcc_gan.sample(gen, 16, seed=0)  # uint8 (16, H, W, 3)", "```", ""]
    if (out_dir / UINT8_ONNX).is_file() and z:
        body += [f"torch-fidelity reads `{UINT8_ONNX}` directly: `fidelity --isc --fid --input1 {UINT8_ONNX} "
                 f"--input1-model-z-size {z} --input2 cifar10-train`", ""]
    reported = (provenance or {}).get("metrics") or {}
    if reported:  # the paper's numbers for its own weights and width, not measured here
        body += ["Reported for the published genotype (" + str((provenance or {}).get("reference") or "its paper")
                 + "): " + ", ".join(f"{_METRIC_NAMES.get(k, k)} {v}" for k, v in reported.items()), ""]
    if m.metrics:
        body += ["## Measured", "", "| metric | value |", "|---|---|"]
        body += [f"| {_METRIC_NAMES.get(k, k)} | {v:.4g} |" for k, v in m.metrics]
        body += ["", f"{line}", ""]
    body += [f"Latent inputs: {json.dumps(lat)}; outputs: {json.dumps(shape)}.", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))
    config = {"library_name": LIBRARY, "gcc_gan_version": __version__, "pipeline_tag": PIPELINE_TAG,
              "genotype": report.get("genotype"), "latent_inputs": lat, "z_size": z, "outputs": shape,
              "weights": "generator.safetensors", "files": files,
              "metrics": [{"type": k, "value": v} for k, v in m.metrics], "protocol": m.protocol}
    return {"README.md": str(card), "config.json": json.dumps(config, indent=1, default=str) + "\n"}


def write_card(out_dir: Path, report: dict[str, Any], measured: Measured | None = None,
               dataset: str | None = None, provenance: Mapping[str, Any] | None = None) -> list[str]:
    """Write the Hub layout into `out_dir` (each file atomically); returns the names."""
    from ..atomic import atomic_write_text

    files = card_files(out_dir, report, measured, dataset, provenance)
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
    return list(files)


def generator_extras(tmp: Path, c: Any, ref: Any, opset: int, torch_fidelity: bool) -> dict[str, Any]:
    """Beside the generator's ONNX in a compile directory being written: the ONNX-zoo test
    data (batch 1: the seeded example latents and the compiled module's output), and with
    `torch_fidelity` `generator.uint8.onnx`, checked with onnxruntime against `to_uint8` of
    the module's output (±1 level: float rounding can cross a truncation boundary)."""
    from .onnx_export import run_module

    xs, ys = ref.get(1)
    out: dict[str, Any] = {"test_data": write_test_data(tmp, list(zip(c.input_shapes, xs)),
                                                        list(zip(c.output_shapes, ys)))}
    files = [f"{TEST_DATA_DIR}/input_{i}.pb" for i in range(len(xs))]
    files += [f"{TEST_DATA_DIR}/output_{i}.pb" for i in range(len(ys))]
    if torch_fidelity:
        path = tmp / UINT8_ONNX
        out["uint8_onnx"] = write_uint8_onnx(ref.module, c.input_shapes, path, opset)
        import onnxruntime as ort

        xs3, _ = ref.get(3)
        z = torch.cat([x.reshape(x.shape[0], -1) for x in xs3], dim=1)
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"z": z.numpy()})[0]
        want = run_module(Uint8Generator(ref.module, [int(s[0]) for s in c.input_shapes.values()]).eval(), (z,))[0]
        if got.dtype != np.uint8 or got.shape != tuple(want.shape):
            raise GccGanError(f"{UINT8_ONNX}: onnxruntime gives {got.dtype} {got.shape}, expected uint8 "
                              f"{tuple(want.shape)}")
        err = int(np.abs(got.astype(np.int16) - want.numpy().astype(np.int16)).max())
        if err > 1:
            raise GccGanError(f"{UINT8_ONNX}: onnxruntime differs from the module by {err} levels")
        out["uint8_onnx"]["max_abs_err_levels"] = err
        files.append(UINT8_ONNX)
    out["files"] = files
    return out
