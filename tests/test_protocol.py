"""Evaluation protocols on every number, clean vs legacy resize, repeats, PRDC (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gcc_gan
from gcc_gan.bench import inception as inc
from gcc_gan.bench.metric_prdc import prdc
from gcc_gan.bench.protocol import PRESETS, describe, get_protocol
from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GCC_GAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_clean_resize_equals_clean_fid() -> None:
    from cleanfid.resize import build_resizer

    x = torch.from_numpy(np.random.RandomState(0).randint(0, 256, (3, 3, 32, 32), dtype=np.uint8))
    ours = inc.clean_resize(x).numpy()
    theirs = np.stack([build_resizer("clean")(img.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for img in x])
    assert ours.shape == (3, 3, 299, 299) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    with pytest.raises(GccGanError, match="uint8"):
        inc.clean_resize(x.float())


def test_clean_mode_feeds_the_clean_resize_to_the_same_network(inception_file: Path, one_thread: None) -> None:
    net = inc.load_inception(inception_file, warn_unverified=False)
    x = torch.from_numpy(np.random.RandomState(1).randint(0, 256, (2, 3, 299, 299), dtype=np.uint8))
    # at 299×299 both resizes are the identity: the same features either way
    pool_l, logits_l = net.features(x, "legacy-tf")
    pool_c, logits_c = net.features(x, "clean")
    torch.testing.assert_close(pool_c, pool_l, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits_c, logits_l, rtol=1e-4, atol=1e-4)
    small = x[:, :, :32, :32].contiguous()  # upsampled: bicubic and TF1 bilinear differ
    assert not torch.allclose(net.features(small, "clean")[0], net.features(small, "legacy-tf")[0], atol=1e-3)


def test_stats_in_the_other_resize_mode_are_refused(inception_file: Path) -> None:
    from gcc_gan.bench import stats as S
    from gcc_gan.bench.metric_fid import Gaussian

    net = inc.load_inception(inception_file, warn_unverified=False)
    s = S.RealStats(Gaussian(np.zeros(2048), np.eye(2048), 2), np.zeros((2, 2048), np.float32),
                    S.protocol("digits", 32, 2, net))
    assert s.protocol["resize"] == "tf1x-bilinear-299" and "subset_seed" not in s.protocol  # cache keys unchanged
    S.check_compatible(s, net, "s.npz")
    with pytest.raises(GccGanError, match="--fid-mode clean"):
        S.check_compatible(s, net, "s.npz", "clean")
    assert S.protocol("digits", 32, 2, net, "clean", subset_seed=1)["subset_seed"] == 1


def test_prdc_equals_reference_package() -> None:
    import prdc as reference

    rng = np.random.RandomState(0)
    real = rng.randn(120, 32).astype(np.float32)
    for shift in (0.0, 0.3, 2.0):
        fake = (rng.randn(100, 32) * 1.1 + shift).astype(np.float32)
        ours = prdc(real, fake, k=5, chunk=37)  # chunks that do not divide the sets
        ref = reference.compute_prdc(real, fake, nearest_k=5)
        for key in ("precision", "recall", "density", "coverage"):
            assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), (shift, key)
    assert prdc(real, real, 5)["precision"] == 1.0 and prdc(real, real, 5)["coverage"] == 1.0
    with pytest.raises(GccGanError, match="more than 5"):
        prdc(real[:5], fake, 5)


def test_presets_and_protocol_line() -> None:
    assert get_protocol(None).name == "torch-fidelity" and set(PRESETS) >= {"autogan", "studiogan", "clean-fid"}
    a = get_protocol("autogan")
    assert (a.num_samples, a.real_samples, a.fid_mode, a.is_splits) == (50_000, 50_000, "legacy-tf", 10)
    assert get_protocol("clean-fid").fid_mode == "clean"
    m = a.with_overrides(num_samples=64, fid_mode=None)
    assert m.modified == ("num_samples",) and m.real_samples == 50_000 and a.with_overrides(num_samples=50_000) is a
    with pytest.raises(GccGanError, match="unknown protocol"):
        get_protocol("sngan")
    line = describe({"preset": m.to_json(), "num_generated": 64, "latent_seeds": [7, 8, 9], "is_splits": 10,
                     "kid": {"subsets": 100, "subset_size": 40, "requested": 1000},
                     "real": {"source": "cifar10:/d", "num_samples": 40, "sha256": "ab" * 32},
                     "inception": {"sha256": "6726825d" + "0" * 56, "fid_inception": True}})
    for part in ("protocol autogan, modified: num_samples=64", "64 generated vs 40 real (cifar10:/d",
                 "sha256 abababababab", "resize legacy-tf", "FID-comparable", "IS 10 splits",
                 "KID 100×40 (reduced from 1000)", "3 repeats, latent seeds 7..9", "truncation none"):
        assert part in line, part


def test_bad_protocol_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["bench", "zoo:dcgan", "--metrics", "is", "--protocol", "nope"]) == 1
    assert "unknown protocol" in capsys.readouterr().err
    assert run(["bench", "zoo:dcgan", "--metrics", "is", "--fid-mode", "bicubic"]) == 1
    assert "legacy-tf or clean" in capsys.readouterr().err
    assert run(["bench", "zoo:dcgan", "--metrics", "prdc"]) == 1
    assert "give --real" in capsys.readouterr().err


def test_bench_repeats_protocol_and_api_agree(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              inception_file: Path, one_thread: None) -> None:
    """The issue's acceptance run in small: mean ± std and the protocol line on stdout, the
    protocol fields in the JSON, the same numbers from gcc_gan.benchmark."""
    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.RandomState(0)
    for i in range(8):  # more real images than generated: each repeat draws another real subset
        Image.fromarray(rng.randint(0, 256, (16, 16, 3), dtype=np.uint8)).save(real / f"{i}.png")
    out = tmp_path / "b.json"
    args = dict(metrics="fid,kid,prdc,swd", real=f"folder:{real}", inception_weights=str(inception_file),
                num_samples=6, repeats=2, batch_size=6, width=0.0625)
    code = run(["bench", "zoo:dcgan", "--width", "0.0625", "--metrics", args["metrics"], "--real", args["real"],
                "--inception-weights", args["inception_weights"], "--num-samples", "6", "--repeats", "2",
                "--batch-size", "6", "--json", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "±" in cap.out and "protocol torch-fidelity (the default), modified: num_samples=6" in cap.out
    assert "2 repeats, latent seeds 2020..2021" in cap.out and "NOT FID-comparable" in cap.out
    assert "KID subsets reduced from 1000 to 6" in cap.out
    doc = json.loads(out.read_text())
    r = doc["results"][0]
    p = r["protocol"]
    assert doc["protocol"]["name"] == "torch-fidelity" and doc["repeats"] == 2
    assert p["num_generated"] == 6 and p["latent_seeds"] == [2020, 2021] and p["truncation"] is None
    assert p["real"]["num_samples"] == 6 and p["real"]["dataset_size"] == 8 and p["real"]["subset_seeds"] == [0, 1]
    assert len(p["real"]["sha256"]) == 64 and p["preset"]["resize"] == "tf1x-bilinear-299"
    assert p["inception"]["fid_inception"] is False and p["kid"]["subset_size"] == 6 and p["prdc_k"] == 5
    assert r["fid"]["std_of"] == "repeats" and len(r["fid"]["values"]) == 2 and r["fid"]["std"] > 0
    assert len(r["kid"]["subsets_std"]) == 2 and set(r["prdc"]) == {"precision", "recall", "density", "coverage"}
    assert r["swd"]["protocol"]["latent_seeds"] == [2020, 2021] and r["swd"]["std"] is not None
    api = gcc_gan.benchmark("zoo:dcgan", **args)  # type: ignore[arg-type]
    a = api.rows[0]
    for key in ("fid", "kid", "prdc", "swd"):
        assert json.loads(json.dumps(a[key])) == r[key], key
    assert api.to_json()["protocol"] == doc["protocol"]
