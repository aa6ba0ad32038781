"""IS / FID / KID and the Inception loader: closed forms, agreement with torch-fidelity and
pytorch-fid given identical inputs, bounds, determinism, and the no-download rules.
Random Inception weights in the real file's layout stand in for the real ones."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcc_gan.bench import inception as inc
from gcc_gan.bench.features import Features, generator_features
from gcc_gan.bench.metric_fid import Gaussian, fid, frechet_distance, frechet_distance_low_rank, statistics
from gcc_gan.bench.metric_is import inception_score
from gcc_gan.bench.metric_kid import kid
from gcc_gan.errors import GccGanError
from gcc_gan.pixels import to_uint8



@pytest.fixture(scope="session")
def inception(inception_file: Path) -> inc.Inception:
    return inc.load_inception(inception_file)


def _gauss(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> Gaussian:
    f = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d) + shift
    return statistics(f)


# ----------------------------------------------------------------------------- FID


def test_fid_of_identical_statistics_is_zero() -> None:
    g = _gauss(np.random.default_rng(0), 300, 32)
    for method in ("eigh", "eigvals", "sqrtm"):
        assert abs(frechet_distance(g, g, method)) < 1e-8


def test_fid_closed_form_for_diagonal_covariances() -> None:
    rng = np.random.default_rng(1)
    d = 40
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    v1, v2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    want = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum())
    a, b = Gaussian(mu1, np.diag(v1), 10_000), Gaussian(mu2, np.diag(v2), 10_000)
    for method in ("eigh", "eigvals", "sqrtm"):
        assert frechet_distance(a, b, method) == pytest.approx(want, rel=1e-10)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 48), shift=st.floats(-2, 2))
def test_eigenvalue_forms_equal_sqrtm(seed: int, d: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = _gauss(rng, 2 * d + 5, d), _gauss(rng, 2 * d + 5, d, shift)
    ref = frechet_distance(a, b, "sqrtm")
    assert frechet_distance(a, b, "eigh") == pytest.approx(ref, rel=1e-7, abs=1e-8)
    assert frechet_distance(a, b, "eigvals") == pytest.approx(ref, rel=1e-7, abs=1e-8)


def test_low_rank_path_equals_full_statistics() -> None:
    rng = np.random.default_rng(2)
    fake = rng.standard_normal((20, 64)) * 0.5 + 0.1
    real = _gauss(rng, 500, 64, 0.3)
    low = frechet_distance_low_rank(fake, real)
    # the d×d forms take square roots of the ~45 rounding-level eigenvalues of the singular
    # product (each ~1e-8): they agree with the exact low-rank form to that, not to eps
    for method in ("eigh", "eigvals", "sqrtm"):
        assert low == pytest.approx(frechet_distance(statistics(fake), real, method), abs=64 * 3e-8)


def test_fid_agrees_with_pytorch_fid_and_torch_fidelity() -> None:
    pfid = pytest.importorskip("pytorch_fid.fid_score")
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(3)
    a, b = _gauss(rng, 400, 64), _gauss(rng, 400, 64, 0.5)
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(pfid.calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma), rel=1e-7)
    tf = fid_statistics_to_metric({"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma}, False)
    assert ours == pytest.approx(tf["frechet_inception_distance"], rel=1e-7)


def test_statistics_are_float64_and_unbiased() -> None:
    f = np.random.default_rng(4).standard_normal((50, 8)).astype(np.float32)
    g = statistics(f)
    assert g.mu.dtype == np.float64 and g.sigma.dtype == np.float64
    np.testing.assert_allclose(g.sigma, np.cov(f.astype(np.float64), rowvar=False), rtol=1e-12)


def test_few_samples_warn_but_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    feats = Features(rng.standard_normal((30, 16)).astype(np.float32), np.zeros((30, 10), np.float32))
    value = fid(feats, _gauss(rng, 100, 16))
    assert np.isfinite(value)
    err = capsys.readouterr().err
    assert "warning" in err and "fewer than 2048" in err


# ----------------------------------------------------------------------------- IS


def test_is_bounds_and_extremes() -> None:
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((200, 1008)).astype(np.float32) * 3
    mean, _ = inception_score(logits)
    assert 1.0 <= mean <= 1008.0
    # identical predictions for every sample: p(y|x) = p(y), KL = 0, IS = 1
    assert inception_score(np.tile(logits[:1], (200, 1)))[0] == pytest.approx(1.0, abs=1e-12)
    # confident and evenly spread over 10 classes in every split: IS = 10
    onehot = np.tile(np.eye(10, dtype=np.float32) * 200.0, (20, 1))
    assert inception_score(onehot, shuffle=False)[0] == pytest.approx(10.0, rel=1e-6)


def test_is_agrees_with_torch_fidelity_and_is_deterministic() -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = np.random.default_rng(7).standard_normal((100, 1008)).astype(np.float32) * 4
    ours = inception_score(logits, seed=2020)
    theirs = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=2020)
    assert ours[0] == pytest.approx(theirs["inception_score_mean"], rel=1e-10)
    assert ours[1] == pytest.approx(theirs["inception_score_std"], rel=1e-8)
    assert inception_score(logits, seed=2020) == ours
    with pytest.raises(GccGanError, match="at least 10 samples"):
        inception_score(logits[:5])


# ----------------------------------------------------------------------------- KID


def test_kid_agrees_with_torch_fidelity() -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(8)
    a = rng.standard_normal((120, 32)).astype(np.float32)
    b = (rng.standard_normal((150, 32)) * 1.2 + 0.2).astype(np.float32)
    ours = kid(a, b, subsets=20, subset_size=100, seed=3)
    theirs = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=20,
                                    kid_subset_size=100, rng_seed=3, verbose=False)
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours[0] > 0.0
    a2 = rng.standard_normal((120, 32)).astype(np.float32)  # a fresh sample of a's distribution
    same = kid(a, a2, subsets=20, subset_size=100, seed=3)[0]
    assert abs(same) < ours[0] / 10  # unbiased: near zero for the same distribution


# ----------------------------------------------------------------------------- Inception weights


def _no_weights_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_missing_weights_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hub = _no_weights_anywhere(monkeypatch, tmp_path)
    with pytest.raises(GccGanError) as e:
        inc.resolve_weights()
    msg = str(e.value)
    assert inc.FIDELITY_NAME in msg and str(hub) in msg and inc.ENV_VAR in msg and "--inception-weights" in msg


def test_weights_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hub = _no_weights_anywhere(monkeypatch, tmp_path)
    hub.mkdir(parents=True)
    (hub / inc.PYTORCH_FID_NAME).write_bytes(b"x")
    assert inc.resolve_weights() == hub / inc.PYTORCH_FID_NAME
    (hub / inc.FIDELITY_NAME).write_bytes(b"x")
    assert inc.resolve_weights() == hub / inc.FIDELITY_NAME
    env_file = tmp_path / "env.pth"
    env_file.write_bytes(b"x")
    monkeypatch.setenv(inc.ENV_VAR, str(env_file))
    assert inc.resolve_weights() == env_file
    explicit = tmp_path / "explicit.pth"
    explicit.write_bytes(b"x")
    assert inc.resolve_weights(explicit) == explicit
    with pytest.raises(GccGanError, match="no such file"):
        inc.resolve_weights(tmp_path / "nope.pth")
    monkeypatch.setenv(inc.ENV_VAR, str(tmp_path / "gone.pth"))
    with pytest.raises(GccGanError, match=inc.ENV_VAR):
        inc.resolve_weights()


def test_bad_weight_files_are_clear_errors(tmp_path: Path, inception_file: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(GccGanError, match="not a loadable Inception weights file"):
        inc.load_state_dict(garbage)
    sd = torch.load(inception_file, weights_only=True)
    del sd["Mixed_7c.branch_pool.conv.weight"]
    broken = tmp_path / "broken.pth"
    torch.save(sd, broken)
    with pytest.raises(GccGanError, match="missing key"):
        inc.load_state_dict(broken)


def test_pytorch_fid_layout_loads(tmp_path: Path, inception_file: Path) -> None:
    # pytorch-fid's file: same module names, no num_batches_tracked buffers
    sd = {k: v for k, v in torch.load(inception_file, weights_only=True).items() if "num_batches_tracked" not in k}
    p = tmp_path / inc.PYTORCH_FID_NAME
    torch.save(sd, p)
    loaded = inc.load_state_dict(p)
    assert torch.equal(loaded["fc.weight"], sd["fc.weight"]) and "Conv2d_1a_3x3.bn.num_batches_tracked" in loaded


def test_building_never_touches_the_network(monkeypatch: pytest.MonkeyPatch, inception_file: Path) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    net = inc.build_from_state_dict(inc.load_state_dict(inception_file), fast=False)
    assert not net.training


def test_fast_extractor_matches_torch_fidelity(inception: inc.Inception, inception_file: Path) -> None:
    """BatchNorm folding + channels-last give torch-fidelity's features to float rounding."""
    ref = inc.build_from_state_dict(inc.load_state_dict(inception_file), fast=False)
    x = (torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    pool, logits = inception.features(x)
    with torch.no_grad():
        rpool, rlogits = ref(x)
    torch.testing.assert_close(pool, rpool, rtol=1e-4, atol=1e-6 * float(rpool.abs().max()))
    torch.testing.assert_close(logits, rlogits, rtol=1e-4, atol=1e-5 * float(rlogits.abs().max()))
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)


def test_generator_features_are_deterministic(inception: inc.Inception) -> None:
    from gcc_gan.compiler.interpreter import Interpreter
    from gcc_gan.genotype_dsl.analysis import analyze
    from gcc_gan.genotype_dsl.zoo import zoo_genotype

    net = zoo_genotype("dcgan").generator
    assert net is not None
    torch.manual_seed(0)
    g = Interpreter(analyze(net.scaled(0.125)))
    a = generator_features(inception, g, [128], 2, batch_size=1, seed=11, progress=False)
    b = generator_features(inception, g, [128], 2, batch_size=2, seed=11, progress=False)
    np.testing.assert_allclose(a.pool, b.pool, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(to_uint8(torch.tensor([[[[-1.0, 0.0, 1.0, 2.0]]] * 3])).flatten()[:4],
                                  np.array([0, 127, 255, 255], dtype=np.uint8))


def test_features_agree_with_pytorch_fid_given_identical_weights_and_resize(inception: inc.Inception,
                                                                            inception_file: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The same weights file in pytorch-fid's own FID Inception gives the same pool features
    (299×299 input, so neither side resizes; pytorch-fid's [0, 1] input scaled so that its
    2x − 1 equals torch-fidelity's (u − 128) / 128)."""
    pinc = pytest.importorskip("pytorch_fid.inception")
    sd = inc.load_state_dict(inception_file)

    def fid_inception_v3_from_file() -> torch.nn.Module:  # pytorch-fid's builder, minus its download
        net = pinc._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        for name, block in (("Mixed_5b", pinc.FIDInceptionA(192, pool_features=32)),
                            ("Mixed_5c", pinc.FIDInceptionA(256, pool_features=64)),
                            ("Mixed_5d", pinc.FIDInceptionA(288, pool_features=64)),
                            ("Mixed_6b", pinc.FIDInceptionC(768, channels_7x7=128)),
                            ("Mixed_6c", pinc.FIDInceptionC(768, channels_7x7=160)),
                            ("Mixed_6d", pinc.FIDInceptionC(768, channels_7x7=160)),
                            ("Mixed_6e", pinc.FIDInceptionC(768, channels_7x7=192)),
                            ("Mixed_7b", pinc.FIDInceptionE_1(1280)), ("Mixed_7c", pinc.FIDInceptionE_2(2048))):
            setattr(net, name, block)
        net.load_state_dict(sd, strict=True)
        return net

    monkeypatch.setattr(pinc, "fid_inception_v3", fid_inception_v3_from_file)
    theirs = pinc.InceptionV3([pinc.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=False,
                              normalize_input=True).eval()
    u = (torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    with torch.no_grad():
        want = theirs((u.float() - 128.0) / 256.0 + 0.5)[0].flatten(1)
    got, _ = inception.features(u)
    torch.testing.assert_close(got.double(), want.double(), rtol=1e-4, atol=1e-5 * float(want.abs().max()))
