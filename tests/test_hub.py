"""Compile outputs other tools take as they are: generator.uint8.onnx for torch-fidelity,
ONNX-zoo test data, a Hugging Face Hub model-card folder (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gcc_gan
from gcc_gan.cli.main import run
from gcc_gan.export.hub import TEST_DATA_DIR, UINT8_ONNX, read_test_data


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dcgan at 1/16 width compiled with --torch-fidelity --model-card (no verification:
    these tests check the new files themselves)."""
    out = tmp_path_factory.mktemp("hub") / "out"
    gcc_gan.compile("zoo:dcgan", out, width=0.0625, verify=False, torch_fidelity=True, model_card=True)
    return out


def test_onnx_test_data_set(hub_dir: Path) -> None:
    import onnxruntime as ort

    inputs, outputs = read_test_data(hub_dir)
    assert (hub_dir / TEST_DATA_DIR / "input_0.pb").is_file() and len(inputs) == len(outputs) == 1
    assert inputs[0].shape == (1, 128) and outputs[0].shape == (1, 3, 32, 32)
    s = ort.InferenceSession(str(hub_dir / "generator.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(None, {s.get_inputs()[0].name: inputs[0]})[0]
    np.testing.assert_allclose(got, outputs[0], atol=1e-4)
    report = json.loads((hub_dir / "report.json").read_text())["networks"]["generator"]
    assert f"{TEST_DATA_DIR}/output_0.pb" in report["files"] and UINT8_ONNX in report["files"]


def test_uint8_onnx_matches_sampling_and_torch_fidelity_reads_it(hub_dir: Path, inception_file: Path,
                                                                 one_thread: None) -> None:
    import onnxruntime as ort
    import torch_fidelity
    from torch_fidelity.generative_model_onnx import GenerativeModelONNX

    s = ort.InferenceSession(str(hub_dir / UINT8_ONNX), providers=["CPUExecutionProvider"])
    (inp,), (out,) = s.get_inputs(), s.get_outputs()
    assert inp.name == "z" and inp.shape[0] == out.shape[0] and isinstance(inp.shape[0], str)  # dynamic batch
    z = np.random.RandomState(0).randn(5, 128).astype(np.float32)
    images = s.run(None, {"z": z})[0]
    assert images.dtype == np.uint8 and images.shape == (5, 3, 32, 32)
    want = gcc_gan.sample(hub_dir, 5, seed=0, batch_size=5)  # uint8 NHWC from the same latents
    assert np.abs(images.transpose(0, 2, 3, 1).astype(int) - want.astype(int)).max() <= 1
    gen = GenerativeModelONNX(str(hub_dir / UINT8_ONNX), 128, "normal", 0)
    m = torch_fidelity.calculate_metrics(input1=gen, input1_model_num_samples=4, isc=True, isc_splits=2,
                                         feature_extractor_weights_path=str(inception_file), batch_size=4,
                                         cuda=False, verbose=False, save_cpu_ram=True)
    assert np.isfinite(m["inception_score_mean"]) and m["inception_score_mean"] >= 1.0 - 1e-6


def test_model_card_folder(hub_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from huggingface_hub import ModelCard

    card = ModelCard.load(hub_dir / "README.md").data.to_dict()
    assert card["library_name"] == "gcc-gan" and card["pipeline_tag"] == "unconditional-image-generation"
    assert "gan" in card["tags"] and card["datasets"]
    cfg = json.loads((hub_dir / "config.json").read_text())
    assert cfg["weights"] == "generator.safetensors" and cfg["z_size"] == 128
    gen = gcc_gan.load_compiled(hub_dir)
    assert gen.latent_dims == [128]
    # measured metrics and their protocol into the model-index (SWD: no Inception needed)
    bench = tmp_path / "b.json"
    assert run(["bench", str(hub_dir), "--metrics", "swd", "--real", "digits", "--num-samples", "8",
                "--json", str(bench)]) == 0
    assert run(["card", str(hub_dir), "--bench", str(bench)]) == 1  # README.md exists
    assert "--force" in capsys.readouterr().err
    assert run(["card", str(hub_dir), "--bench", str(bench), "--force"]) == 0
    card = ModelCard.load(hub_dir / "README.md").data.to_dict()
    (result,) = card["model-index"][0]["results"]
    (metric,) = result["metrics"]
    assert result["task"]["type"] == "unconditional-image-generation" and result["dataset"]["name"] == "digits"
    assert metric["type"] == "swd" and metric["value"] > 0
    assert card["datasets"] == ["digits"]
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert run(["card", str(hub_dir), "--bench", str(bad), "--force"]) == 1
    assert "not a gcc-gan bench" in capsys.readouterr().err
    assert run(["card", str(tmp_path)]) == 1
