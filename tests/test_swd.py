"""ProGAN's multi-scale sliced Wasserstein distance (bench/swd.py) and `gcc-gan bench
--metrics swd`: zero on identical sets, growing with distortion, deterministic, and one
pyramid level per octave down to 16×16."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gcc_gan.bench.swd import laplacian_pyramid, n_levels, swd
from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError


def _images(n: int = 96, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # smooth random images (low-frequency structure, like natural images)
    x = torch.randn(n, 3, size // 4, size // 4, generator=g)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False).tanh()


def test_swd_of_a_set_with_itself_is_zero_and_grows_with_distortion() -> None:
    x = _images()
    assert swd(x, x, nhoods=32).mean == 0.0
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    vals = [swd(x, (x + s * noise).clamp(-1, 1), nhoods=32).mean for s in (0.02, 0.1, 0.4)]
    assert 0 < vals[0] < vals[1] < vals[2]
    blurred = [swd(x, x * (1 - a) + F.avg_pool2d(x, 3, 1, 1) * a, nhoods=32).mean for a in (0.2, 1.0)]
    assert 0 < blurred[0] < blurred[1]


def test_swd_is_deterministic_and_seeded() -> None:
    x, y = _images(seed=0), _images(seed=1)
    a, b = swd(x, y, seed=3, nhoods=16), swd(x, y, seed=3, nhoods=16)
    assert a == b
    assert swd(x, y, seed=4, nhoods=16) != a
    # uint8 and [-1, 1] floats are the same images
    u8 = x.mul(127.5).add(127.5).round().clamp(0, 255).to(torch.uint8)
    assert abs(swd(u8, y, seed=3, nhoods=16).mean - a.mean) < 0.05 * a.mean


def test_levels_and_pyramid_reconstruct() -> None:
    assert [n_levels(s) for s in (8, 16, 32, 64)] == [1, 1, 2, 3]
    assert list(swd(_images(8, 32), _images(8, 32, 1), nhoods=4).levels) == [32, 16]
    assert list(swd(_images(8, 8), _images(8, 8, 1), nhoods=4).levels) == [8]
    x = _images(4, 32)
    pyr = laplacian_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [32, 16, 8]
    # the pyramid is invertible: collapse it back
    from gcc_gan.bench.swd import _up
    rec = pyr[-1]
    for lap in reversed(pyr[:-1]):
        rec = lap + _up(rec)
    assert torch.allclose(rec, x, atol=1e-5)


def test_swd_bad_input() -> None:
    with pytest.raises(GccGanError, match="one shape"):
        swd(_images(4, 16), _images(4, 32))
    with pytest.raises(GccGanError, match="at least 2"):
        swd(_images(1, 16), _images(1, 16))


def test_bench_swd_metric(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    code = run(["bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "swd", "--real", "synthetic",
                "--num-samples", "32", "--json", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    r = json.loads(out.read_text())["results"][0]["swd"]
    assert r["num_samples"] == 32 and r["mean"] > 0 and set(r["levels"]) == {"32", "16"}
    assert "SWD" in cap.out
    code = run(["bench", "zoo:dcgan", "--metrics", "swd"])
    assert code == 1 and "give --real" in capsys.readouterr().err
