"""`gcc-gan sample` and the Python API: sources, output formats (PNG folder, .npz, grid),
determinism, truncation, backends, the README example, and readers of the output
(`folder:` data spec, torch-fidelity itself with random Inception-layout weights)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import gcc_gan
from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError
from gcc_gan.runtime.sample import latent_batches
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL = 0.0625  # width 16 instead of 256: same graph, fast



@pytest.fixture(scope="module")
def small_genotype(tmp_path_factory: pytest.TempPathFactory) -> Path:
    g = gcc_gan.load_genotype("zoo:autogan-a")
    p = tmp_path_factory.mktemp("geno") / "small.json"
    from gcc_gan.genotype_dsl.io import save_genotype

    save_genotype(g.model_copy(update={"generator": g.generator.scaled(SMALL)}), p)
    return p


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, small_genotype: Path) -> Path:
    out = tmp_path_factory.mktemp("compiled") / "out"
    gcc_gan.compile(str(small_genotype), out, verify=False)
    return out


def folder_images(d: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in sorted(d.glob("*.png"))])


def test_import_stays_light() -> None:
    code = "import sys, gcc_gan; assert 'torch' not in sys.modules; print(sorted(gcc_gan.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "sample" in out and "compile" in out


def test_formats_agree_and_are_deterministic(compiled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sample", str(compiled), "-n", "7", "-o", str(tmp_path / "a"), "--batch-size", "3",
                "--seed", "5"]) == 0
    assert run(["sample", str(compiled), "-n", "7", "-o", str(tmp_path / "b.npz"), "--batch-size", "3",
                "--seed", "5"]) == 0
    assert run(["sample", str(compiled), "-n", "7", "-o", str(tmp_path / "g.png"), "--batch-size", "3",
                "--seed", "5"]) == 0
    assert "wrote 7 images (32×32, torch)" in capsys.readouterr().out
    pngs = folder_images(tmp_path / "a")
    npz = np.load(tmp_path / "b.npz")["arr_0"]
    assert npz.dtype == np.uint8 and npz.shape == (7, 32, 32, 3)
    assert np.array_equal(pngs, npz)
    meta = json.loads((tmp_path / "a" / "samples.json").read_text())
    assert meta["n"] == 7 and meta["seed"] == 5 and meta["latent_dims"] == [128]
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape == (3 * 33 + 1, 3 * 33 + 1, 3)  # ⌈√7⌉ = 3 per row, 1-pixel gaps
    assert np.array_equal(grid[1:33, 34:66], npz[1])
    # the API gives the same images; another seed gives others
    api = gcc_gan.sample(str(compiled), 7, seed=5, batch_size=3)
    assert np.array_equal(api, npz)
    assert not np.array_equal(gcc_gan.sample(str(compiled), 7, seed=6, batch_size=3), npz)
    # a pixel-level change the mean would hide: images are not constant
    assert npz.std() > 1


def test_latents_match_bench_and_truncation() -> None:
    # no truncation: exactly the stream gcc-gan bench / torch-fidelity draw
    zs = np.concatenate([b[0] for b in latent_batches([8], 10, 4, seed=3)])
    rng = np.random.RandomState(3)
    assert np.array_equal(zs, np.concatenate([rng.randn(m, 8) for m in (4, 4, 2)]).astype(np.float32))
    a = np.concatenate([b[0] for b in latent_batches([64], 50, 7, seed=1, truncation=0.5)])
    b = np.concatenate([b[0] for b in latent_batches([64], 50, 50, seed=1, truncation=0.5)])
    assert np.array_equal(a, b)  # independent of the batch size
    assert np.abs(a).max() <= 0.5 and a.std() > 0.2
    with pytest.raises(GccGanError, match="truncation"):
        next(latent_batches([8], 1, 1, truncation=0.0))


def test_onnx_backend_matches_torch(compiled: Path) -> None:
    t = gcc_gan.sample(str(compiled), 6, seed=2)
    o = gcc_gan.sample(str(compiled), 6, seed=2, backend="onnx")
    assert np.abs(t.astype(int) - o.astype(int)).max() <= 1  # rounding of float differences ≤ 1e-4


def test_sources_genotype_weights_and_training_run(small_genotype: Path, compiled: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    # a training-run layout: genotype.json + generator.safetensors (canonical layout)
    ref = gcc_gan.build(str(small_genotype), seed=7)
    w = {k: v.contiguous() for k, v in ref.state_dict().items()}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "genotype.json").write_text(small_genotype.read_text())
    save_file(w, str(run_dir / "generator.safetensors"))
    from_run = gcc_gan.sample(str(run_dir), 4, seed=1)
    from_file = gcc_gan.sample(str(small_genotype), 4, seed=1, weights=run_dir / "generator.safetensors")
    assert np.array_equal(from_run, from_file)
    # the compile dir holds seed-0 weights: different from seed 7, equal to a fresh genotype load
    assert not np.array_equal(from_run, gcc_gan.sample(str(compiled), 4, seed=1))
    assert np.abs(gcc_gan.sample(str(small_genotype), 4, seed=1).astype(int)
                  - gcc_gan.sample(str(compiled), 4, seed=1).astype(int)).max() <= 1
    assert set(load_file(str(compiled / "generator.safetensors")))  # sanity: a real compile dir


def test_folder_is_a_data_spec_and_a_torch_fidelity_input(compiled: Path, tmp_path: Path,
                                                          inception_file: Path) -> None:
    import torch_fidelity

    from gcc_gan.train.data import load_dataset

    out = gcc_gan.save_samples(str(compiled), 20, tmp_path / "s", seed=0)
    ds = load_dataset(f"folder:{out}", 32)
    assert len(ds) == 20
    x = ds.batch(np.arange(20))
    imgs = folder_images(out)
    # the data loader gives [-1, 1] floats of the same pixels
    assert torch.allclose(x, torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1, atol=1e-6)
    m = torch_fidelity.calculate_metrics(input1=str(out), isc=True, isc_splits=2, cuda=False, verbose=False,
                                         feature_extractor_weights_path=str(inception_file))
    assert np.isfinite(m["inception_score_mean"]) and m["inception_score_mean"] >= 1.0

    # the .npz in torch-fidelity: its uint8 NHWC array, as a dataset of CHW uint8 tensors
    gcc_gan.save_samples(str(compiled), 20, tmp_path / "s.npz", seed=0)
    arr = np.load(tmp_path / "s.npz")["arr_0"]

    class Npz(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(arr)

        def __getitem__(self, i: int) -> torch.Tensor:
            return torch.from_numpy(arr[i]).permute(2, 0, 1).contiguous()

    m2 = torch_fidelity.calculate_metrics(input1=Npz(), isc=True, isc_splits=2, cuda=False, verbose=False,
                                          feature_extractor_weights_path=str(inception_file))
    assert m2["inception_score_mean"] == pytest.approx(m["inception_score_mean"], rel=1e-5)


def test_output_rules(compiled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert run(["sample", str(compiled), "-n", "2", "-o", str(out)]) == 0
    # stderr no terminal: plain progress lines (its start and end), no bar and no blank line
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sampling 2 images (torch): 0/2" and err[1].startswith("sampling 2 images (torch): 2/2  (")
    assert len(err) == 2
    assert run(["sample", str(compiled), "-n", "2", "-o", str(out)]) == 1
    assert "already exists; replace it with --force" in capsys.readouterr().err
    assert run(["sample", str(compiled), "-n", "3", "-o", str(out), "--force"]) == 0
    assert len(list(out.glob("*.png"))) == 3
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert run(["sample", str(compiled), "-n", "2", "-o", str(other), "--force"]) == 1
    assert "not a gcc-gan sample folder" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "x"
    for args, msg, code in ((["-n", "0"], "at least one image", 1),
                            (["-n", "2", "--backend", "tf"], "'tf' is not one of 'torch', 'onnx'", 2),  # usage error
                            (["-n", "2", "--batch-size", "0"], "at least 1", 1),
                            (["-n", "2", "--truncation", "-1"], "positive", 1)):
        assert run(["sample", str(compiled), *args, "-o", str(tmp_path / "x.npz")]) == code
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err
        assert not (tmp_path / "x.npz").exists()
    for name in ("grid.jpg", "s.npy", "g.JPEG"):  # a file gcc-gan cannot write, not a folder named so
        assert run(["sample", str(compiled), "-n", "2", "-o", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert "a folder of PNGs" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / name).exists()
    with pytest.raises(GccGanError, match="not a .jpg file"):
        gcc_gan.save_samples(str(compiled), 2, tmp_path / "x.jpg")
    with pytest.raises(GccGanError, match=r"already exists; replace it with --force \(Python: force=True\)"):
        gcc_gan.save_samples(str(compiled), 2, out)  # the README example run twice: the API's own spelling too
    assert run(["sample", str(tmp_path / "nope"), "-n", "2", "-o", str(tmp_path / "y.npz")]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    assert run(["sample", str(compiled), "-n", "2", "-o", str(tmp_path / "y.npz"), "--weights", "w.st"]) == 1
    assert "a compile directory already has its weights" in capsys.readouterr().err


def test_readme_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """As written and offline: no Inception weights anywhere (a metric that needs them would fail)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Deployment: sampling and the Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    assert "gcc_gan.compile(" in code and "gcc_gan.benchmark(" in code
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GCC_GAN_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.setenv("GCC_GAN_CACHE", str(tmp_path / "cache"))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "128 (3, 32, 32)" in out and re.search(r"^SWD x1e3 \d+\.\d over 64 images$", out, re.MULTILINE), out
    info = analyze(zoo_genotype("dcgan").generator)  # type: ignore[arg-type]
    assert re.search(rf"^{info.params} {info.macs} [1-9]\d* images/s$", out, re.MULTILINE), out
    assert len(list((tmp_path / "samples").glob("*.png"))) == 100
    assert (tmp_path / "out" / "generator.onnx").is_file()
    assert not (tmp_path / "torch").exists()  # nothing was downloaded into the hub cache


def test_compiled_dir_documents_itself(compiled: Path, small_genotype: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    m = onnx.load(str(compiled / "generator.onnx"))
    dims = lambda vi: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]  # noqa: E731
    assert [(v.name, dims(v)) for v in m.graph.input] == [("z", ["batch", 128])]
    assert [(v.name, dims(v)) for v in m.graph.output] == [("image", ["batch", 3, 32, 32])]
    meta = {p.key: p.value for p in m.metadata_props}
    g = gcc_gan.load_genotype(str(small_genotype))
    assert meta["latent_size"] == "128" and meta["precision"] == "fp32"
    assert meta["genotype_sha256"] == g.digest() and meta["gcc_gan_version"] == gcc_gan.__version__
    assert "z [batch, 128]" in m.doc_string and "image [batch, 3, 32, 32]" in m.doc_string
    # generator.py: its usage docstring runs as written, where gcc_gan cannot be imported
    src = (compiled / "generator.py").read_text()
    doc = src.split('"""')[1]
    snippet = "\n".join(line[4:] for line in doc.split("Usage")[1].splitlines()[2:] if line.startswith("    "))
    assert "LATENT_DIM" in snippet and re.search(r"^LATENT_DIM = 128\b", src, re.M)
    code = ("import sys; sys.modules['gcc_gan'] = None\n" + snippet
            + "\nassert images.shape == (16, 3, 32, 32), images.shape\nassert Generator.latent_dim == 128")
    subprocess.run([sys.executable, "-c", code], cwd=compiled, check=True, capture_output=True)
    assert gcc_gan.load_compiled(compiled).latent_dim == 128
    # the compile summary names the next step
    assert run(["compile", str(small_genotype), "-o", str(tmp_path / "c"), "--no-verify"]) == 0
    assert f"gcc-gan sample {tmp_path / 'c'} -n 64 -o grid.png" in capsys.readouterr().out


@pytest.mark.slow  # torch.compile's first call: tens of seconds to minutes on this CPU
def test_torch_compile_switch_gives_the_same_images(compiled: Path) -> None:
    eager = gcc_gan.sample(str(compiled), 5, seed=4, batch_size=3)
    gen = gcc_gan.load_compiled(compiled, compiled=True)
    fast = gcc_gan.sample(gen, 5, seed=4, batch_size=3)  # the last batch of 2 is padded to 3
    assert np.abs(fast.astype(int) - eager.astype(int)).max() <= 1
    with pytest.raises(GccGanError, match="--compile applies to the torch backend"):
        gcc_gan.load_compiled(compiled, backend="onnx", compiled=True)


def test_api_compile_replaces_an_earlier_compile_only_with_force(compiled: Path, small_genotype: Path) -> None:
    before = (compiled / "report.json").read_bytes()
    stamp = (compiled / "report.json").stat()
    with pytest.raises(GccGanError, match="force=True"):
        gcc_gan.compile(str(small_genotype), compiled, verify=False)
    assert (compiled / "report.json").read_bytes() == before
    assert (compiled / "report.json").stat().st_ino == stamp.st_ino  # untouched
    gcc_gan.compile(str(small_genotype), compiled, verify=False, force=True)
    again = (compiled / "report.json").stat()  # written anew (atomically: a new file), same content
    assert (again.st_ino, again.st_mtime_ns) != (stamp.st_ino, stamp.st_mtime_ns)
    assert json.loads((compiled / "report.json").read_text())["genotype"] == json.loads(before)["genotype"]
