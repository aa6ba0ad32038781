"""fp16 / int8 ONNX variants: written, described, verified against fp32 (max error, PSNR,
images/s side by side), and a PSNR below the threshold fails the compile with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import gcc_gan
from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError
from gcc_gan.export.precision import PrecisionOptions, psnr_db

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small_genotype(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gcc_gan.genotype_dsl.io import save_genotype

    g = gcc_gan.load_genotype("zoo:autogan-a")
    p = tmp_path_factory.mktemp("geno") / "small.json"
    save_genotype(g.model_copy(update={"generator": g.generator.scaled(0.0625)}), p)
    return p


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, small_genotype: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("prec") / "out"
    report = gcc_gan.compile(str(small_genotype), out, verify=False, precisions=["fp16", "int8"], calibration_size=64)
    return out, report


def test_psnr_closed_form() -> None:
    x = np.zeros((2, 3, 4, 4), np.float32)
    assert psnr_db(x + 0.02, x) == pytest.approx(10 * np.log10(4 / 0.02 ** 2))
    assert psnr_db(x, x) == float("inf")


def test_options() -> None:
    assert PrecisionOptions.make(["int8,fp16"]).precisions == ("fp32", "fp16", "int8")
    with pytest.raises(GccGanError, match="choose from fp32, fp16, int8"):
        PrecisionOptions.make(["bf16"])
    with pytest.raises(GccGanError, match="calibration-size"):
        PrecisionOptions.make(["int8"], calibration_size=0)


def test_variants_are_written_described_and_verified(variants: tuple[Path, dict]) -> None:
    out, report = variants
    g = report["networks"]["generator"]
    assert report["precisions"] == ["fp32", "fp16", "int8"]
    assert {"generator.fp16.onnx", "generator.int8.onnx"} <= set(g["files"])
    assert json.loads((out / "report.json").read_text())["networks"]["generator"]["precision"] == g["precision"]
    z = np.random.RandomState(3).randn(16, 128).astype(np.float32)
    want = ort.InferenceSession(str(out / "generator.onnx"), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
    for p, dtype in (("fp16", onnx.TensorProto.FLOAT16), ("int8", onnx.TensorProto.INT8)):
        v = g["precision"][p]
        assert v["psnr_db"] >= 30 and 0 < v["max_abs_err"] < 0.5
        assert v["images_per_s"] > 0 and v["fp32_images_per_s"] > 0 and v["speedup_vs_fp32"] > 0
        m = onnx.load(str(out / v["file"]))
        meta = {q.key: q.value for q in m.metadata_props}
        assert meta["precision"] == p and meta["latent_size"] == "128" and f"precision {p}" in m.doc_string
        assert [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim][1:] == [3, 32, 32]
        assert any(t.data_type == dtype for t in m.graph.initializer)
        # an independent check on other latents: the variant is close to fp32
        got = ort.InferenceSession(str(out / v["file"]), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
        assert got.dtype == np.float32 and psnr_db(got, want) >= 30
    int8 = onnx.load(str(out / "generator.int8.onnx"))
    ops = {n.op_type for n in int8.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert len(g["precision"]["int8"]["kept_fp32"]) == 2  # the latent's linear layer and the RGB conv
    # both sub-pixel convs run as int8 phase Convs, none as an fp32 ConvTranspose
    assert len(g["precision"]["int8"]["phase_convs"]) == 2 and "ConvTranspose" not in ops
    assert not any(f.name.startswith(".") for f in out.iterdir())  # no calibration side files left


@pytest.mark.parametrize("p", [0, 1, 2])
def test_subpixel_convtranspose_as_phase_convs_is_exact(p: int) -> None:
    from onnx import TensorProto, helper, numpy_helper

    from gcc_gan.export.onnx_phases import convtranspose_to_phases

    rng = np.random.RandomState(p)
    k = 2 * p + 2
    w = rng.randn(3, 5, k, k).astype(np.float32)
    b = rng.randn(5).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], name="up", strides=[2, 2], pads=[p] * 4,
                            kernel_shape=[k, k])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 10, 12])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.randn(2, 3, 5, 6).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert convtranspose_to_phases(model) == {"up": [f"up/Conv_phase{a}{c}" for a in (0, 1) for c in (0, 1)]}
    assert "ConvTranspose" not in {n.op_type for n in model.graph.node}
    onnx.checker.check_model(model)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(got - want).max() <= 1e-4


def test_other_convtransposes_are_left_alone() -> None:
    from onnx import TensorProto, helper, numpy_helper

    from gcc_gan.export.onnx_phases import convtranspose_to_phases

    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "w")  # odd kernel: no phase split
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph)
    assert convtranspose_to_phases(model) == {} and model.graph.node[0].op_type == "ConvTranspose"


def test_forced_psnr_failure_writes_nothing(small_genotype: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = run(["compile", str(small_genotype), "-o", str(out), "--no-verify", "--precision", "int8",
                "--calibration-size", "32", "--min-psnr", "300"])
    err = capsys.readouterr().err
    assert code == 1 and "generator.int8.onnx: PSNR" in err and "below the threshold 300 dB" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # an existing compile dir is left as it was
    assert run(["compile", str(small_genotype), "-o", str(out), "--no-verify"]) == 0
    before = sorted(p.name for p in out.iterdir())
    assert run(["compile", str(small_genotype), "-o", str(out), "--no-verify", "--precision", "fp16",
                "--min-psnr", "300"]) == 1
    assert sorted(p.name for p in out.iterdir()) == before
    assert run(["compile", str(small_genotype), "-o", str(out), "--precision", "bf16"]) == 1
    assert "choose from fp32, fp16, int8" in capsys.readouterr().err


def test_summary_prints_the_figures(small_genotype: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", str(small_genotype), "-o", str(tmp_path / "o"), "--no-verify", "--precision", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "generator.fp16.onnx: PSNR" in out and "images/s vs fp32" in out


def test_variants_need_the_generator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "zoo:sngan-d", "-o", str(tmp_path / "d"), "--precision", "int8"]) == 1
    assert "precision variants are made of the generator" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_show_reports_the_variants(variants: tuple[Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    out, report = variants
    capsys.readouterr()
    assert run(["show", str(out)]) == 0
    text = capsys.readouterr().out
    v = report["networks"]["generator"]["precision"]["int8"]
    assert f"generator int8: generator.int8.onnx, PSNR {v['psnr_db']:.1f} dB against fp32" in text
    assert f"{v['speedup_vs_fp32']:.2f}× fp32 onnxruntime images/s" in text


def test_sample_runs_a_precision_variant(variants: tuple[Path, dict], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = variants
    want = gcc_gan.sample(gcc_gan.load_compiled(out, backend="onnx"), 8, seed=2)
    for p in ("fp16", "int8"):
        gen = gcc_gan.load_compiled(out, backend="onnx", precision=p)
        assert gen.backend == f"onnx {p}"
        got = gcc_gan.sample(gen, 8, seed=2)
        assert psnr_db(got.astype(np.float32) / 127.5, want.astype(np.float32) / 127.5) >= 30
        assert not np.array_equal(got, want)  # close to fp32, but the variant's own images (PSNR is inf for fp32)
    # int8 implies the ONNX backend; an explicit onnx is the same
    assert run(["sample", str(out), "-n", "4", "-o", str(tmp_path / "s.npz"), "--precision", "int8"]) == 0
    assert "onnx int8" in capsys.readouterr().out
    assert run(["sample", str(out), "-n", "4", "-o", str(tmp_path / "s2.npz"), "--backend", "onnx",
                "--precision", "int8"]) == 0
    assert "onnx int8" in capsys.readouterr().out
    assert np.array_equal(np.load(tmp_path / "s.npz")["arr_0"], np.load(tmp_path / "s2.npz")["arr_0"])
    assert np.load(tmp_path / "s.npz")["arr_0"].shape == (4, 32, 32, 3)
    # a contradiction or an unknown value on the command line: usage errors (exit 2) naming why
    for args, msg in ((["--backend", "torch", "--precision", "int8"],
                       "--precision int8 runs generator.int8.onnx, an ONNX file that onnxruntime runs, not "
                       "--backend torch"),
                      (["--precision", "int4"], "'int4' is not one of 'fp32', 'fp16', 'int8'")):
        assert run(["sample", str(out), "-n", "1", "-o", str(tmp_path / "e.npz"), *args]) == 2
        assert msg in " ".join(capsys.readouterr().err.split())
    with pytest.raises(GccGanError, match="not --backend torch"):
        gcc_gan.load_compiled(out, backend="torch", precision="fp16")
    with pytest.raises(GccGanError, match="compile --precision int8"):
        gcc_gan.load_generator("zoo:dcgan", backend="onnx", precision="int8")
    bare = tmp_path / "bare"
    gcc_gan.compile("zoo:dcgan", bare, verify=False, width=0.0625)
    with pytest.raises(GccGanError, match=r"no generator\.fp16\.onnx \(compile with --precision fp16\)"):
        gcc_gan.load_compiled(bare, backend="onnx", precision="fp16")
    assert not (tmp_path / "e.npz").exists()
