"""One behaviour across commands (issue 10, "consistency a user notices in the first hour"):
presets, --force, exit codes and wording of usage errors, help text, output written to a
file or a pipe, a reader that goes away, weights from a training run, bench labels and
missing / unverified Inception weights, text slips, and `folder:` data with bad files."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import cli
import torch
from PIL import Image

from gcc_gan.bench import inception as inc
from gcc_gan.console import PLAIN_WIDTH, make_console
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.io import save_genotype
from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.presets import resolve_preset
from gcc_gan.train.data import DEFAULT_MAX_PIXELS, load_dataset

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["--width", "0.0625", "--batch-size", "8", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GCC_GAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no real Inception found by accident



def shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`cmd` in bash with pipefail, `gcc-gan` being this worktree's CLI: real pipes and files."""
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": ""}
    env.pop("COLUMNS")
    gcc = f"{sys.executable} -m gcc_gan.cli.main"
    return subprocess.run(["bash", "-c", "set -o pipefail; " + cmd.replace("gcc-gan", gcc)], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


# --------------------------------------------------------------------------- presets


def test_one_preset_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import gcc_gan.presets as P

    assert resolve_preset("paper", "cpu") == P.PresetChoice("paper", None)  # asked for: no note
    assert resolve_preset("tiny", "cuda").name == "tiny"
    monkeypatch.setattr(P, "_gpu_available", lambda: False)
    c = resolve_preset(None, "auto")
    assert c.name == "tiny" and c.note == "preset tiny (no GPU; --preset paper for the published protocol)"
    assert resolve_preset(None, "cpu").name == "tiny"
    monkeypatch.setattr(P, "_gpu_available", lambda: True)
    assert resolve_preset(None, "auto").name == "paper" and "--preset tiny" in str(resolve_preset(None).note)
    assert resolve_preset(None, "cpu").name == "tiny"  # the run will not use the GPU
    assert resolve_preset(None, "cuda").name == "paper"


def _choices(func: object, param: str) -> set[str]:
    """The values of a command's Literal (or Optional[Literal]) option."""
    from typing import Literal, get_args, get_origin, get_type_hints

    t = get_type_hints(func)[param]
    while get_origin(t) is not Literal:
        t = next(a for a in get_args(t) if a is not type(None))
    return set(get_args(t))


def test_cli_choices_match_the_library() -> None:
    import gcc_gan.presets as P
    from gcc_gan.api import ROLES
    from gcc_gan.cli import bench_cmd, compile_cmd, scale_cmd, search_cmd, train_cmd
    from gcc_gan.executor import EXECUTORS
    from gcc_gan.search.config import LEGACY_METHODS, PRESET_NAMES
    from gcc_gan.search.registry import EVALUATORS, METHOD_PRESETS, SPACES, STRATEGIES
    from gcc_gan.train.config import AMP_MODES, PRESETS
    from gcc_gan.train.losses import LOSSES

    for cmd in (train_cmd.train_cmd, search_cmd.search_cmd, scale_cmd.scale_cmd):
        assert _choices(cmd, "preset") == set(PRESET_NAMES) == set(PRESETS) == set(P.PRESETS)
        assert _choices(cmd, "device") == {"auto", "cpu", "cuda"}
    assert _choices(train_cmd.train_cmd, "loss") == set(LOSSES)
    assert _choices(train_cmd.train_cmd, "amp") == set(AMP_MODES)
    assert _choices(search_cmd.search_cmd, "method") == set(METHOD_PRESETS) | set(LEGACY_METHODS)
    # the registries are the search's names (search/registry.py)
    assert _choices(search_cmd.search_cmd, "space") == set(SPACES.names())
    assert _choices(search_cmd.search_cmd, "strategy") == set(STRATEGIES.names())
    assert _choices(search_cmd.search_cmd, "evaluator") == set(EVALUATORS.names())
    assert _choices(scale_cmd.scale_cmd, "executor") == set(EXECUTORS)
    assert _choices(compile_cmd.compile_cmd, "net") == set(ROLES)
    assert _choices(bench_cmd.bench_cmd, "device") == {"cpu", "cuda"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU default is what is tested")
def test_train_defaults_to_tiny_on_a_cpu_and_says_so_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    code, _, err = cli(capsys, "train", "zoo:dcgan", "--data", "synthetic?n=16", "-o", tmp_path / "r", "--iters", "1",
                       *TINY)
    assert code == 0, err
    assert err.splitlines()[0] == "preset tiny (--device cpu; --preset paper for the published protocol)"
    conf = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert conf["n_critic"] == 1 and conf["beta1"] == 0.5  # the tiny preset's, not paper's 5 / 0.0
    # search and scale announce the same rule on their first line (here before a fast failure)
    code, _, err = cli(capsys, "search", "-o", tmp_path / "s", "--iters", "0")
    assert code == 1 and err.splitlines()[0].startswith("preset tiny (no GPU;")
    code, _, err = cli(capsys, "scale", "zoo:dcgan", "--sizes", "1", "-o", tmp_path / "c", "--threads", "0")
    assert code == 1 and err.splitlines()[0].startswith("preset tiny (no GPU;")
    # asked for explicitly: no announcement
    code, _, err = cli(capsys, "search", "-o", tmp_path / "s", "--iters", "0", "--preset", "tiny")
    assert code == 1 and "preset tiny (" not in err


# --------------------------------------------------------------------------- weights from a run


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step tiny DCGAN training run: its weights are at ×0.0625 of zoo:dcgan."""
    from gcc_gan.cli.main import run

    out = tmp_path_factory.mktemp("run") / "r"
    assert run(["train", "zoo:dcgan", "--data", "synthetic?n=16", "-o", str(out), "--iters", "1", "--preset", "tiny",
                *TINY]) == 0
    return out


def test_compile_and_bench_use_the_runs_own_genotype(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     dcgan_run: Path) -> None:
    runs = dcgan_run
    # the README's form: the source genotype with the run's weights (trained at ×0.0625)
    code, out, err = cli(capsys, "compile", "zoo:dcgan", "--weights", runs, "-o", tmp_path / "c", "--no-verify")
    assert code == 0, err
    assert f"using {runs}/genotype.json" in err
    from gcc_gan.genotype_dsl.analysis import analyze
    from gcc_gan.genotype_dsl.io import load_genotype

    report = json.loads((tmp_path / "c" / "report.json").read_text())
    trained = load_genotype(str(runs / "genotype.json")).generator
    assert trained is not None and trained.base_width == round(zoo_genotype("dcgan").generator.base_width / 16)
    assert report["networks"]["generator"]["params_reference"] == analyze(trained, role="generator").params
    # a weights file inside the run and the run's genotype itself work the same way
    code, _, err = cli(capsys, "compile", runs / "genotype.json", "--weights", runs / "generator.safetensors",
                       "-o", tmp_path / "c2", "--no-verify")
    assert code == 0, err
    # another network: one message naming the command that works
    code, _, err = cli(capsys, "compile", "zoo:sngan", "--weights", runs, "-o", tmp_path / "c3", "--no-verify")
    assert code == 1 and "Traceback" not in err
    flat = " ".join(err.split())
    assert f"gcc-gan compile {runs}/genotype.json --weights {runs}" in flat and "trained zoo:dcgan" in flat
    assert not (tmp_path / "c3").exists()
    # bench takes the run (directory) as --weights too, with the run's genotype
    code, _, err = cli(capsys, "bench", "zoo:dcgan", "--weights", runs, "--metrics", "size",
                         "--json", tmp_path / "b.json")
    assert code == 0, err
    r = json.loads((tmp_path / "b.json").read_text())["results"][0]
    assert r["size"]["params"] == analyze(trained, role="generator").params


def test_api_and_cli_compile_a_training_run_identically(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        dcgan_run: Path) -> None:
    """One compile path: `gcc_gan.compile(spec, out, weights=RUN)` resolves the run's own
    genotype and trained width exactly as `gcc-gan compile spec --weights RUN` does (the
    source genotype at full width would not even load the run's ×0.0625 weights)."""
    import gcc_gan

    run = dcgan_run
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "--weights", run, "-o", tmp_path / "cli", "--no-verify")
    assert code == 0, err
    report = gcc_gan.compile("zoo:dcgan", tmp_path / "api", weights=run, verify=False)
    a, b = tmp_path / "cli", tmp_path / "api"
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in ("generator.safetensors", "generator.py"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    cli_report = json.loads((a / "report.json").read_text())
    assert cli_report["genotype"] == report["genotype"]
    trained = gcc_gan.load_genotype(str(run / "genotype.json"))
    assert report["genotype"]["sha256"] == trained.digest()
    # and `build` (the same resolution) loads the run's weights into the run's network
    net = gcc_gan.build("zoo:dcgan", run)
    assert sum(p.numel() for p in net.parameters()) == report["networks"]["generator"]["params_reference"]


# --------------------------------------------------------------------------- output to files and pipes


def test_wide_console_when_not_a_terminal() -> None:
    buf = io.StringIO()
    c = make_console(file=buf)
    assert not c.is_terminal and c.width == PLAIN_WIDTH
    c.print("x" * 300)
    assert buf.getvalue() == "x" * 300 + "\n"  # one line, not wrapped at 80


def test_piped_tables_are_complete(tmp_path: Path) -> None:
    from gcc_gan.genotype_dsl.zoo import ENTRIES

    p = shell("gcc-gan zoo > zoo.txt && gcc-gan show zoo:adversarialnas | cat > show.txt", tmp_path)
    assert p.returncode == 0, p.stderr
    zoo = (tmp_path / "zoo.txt").read_text()
    assert "…" not in zoo
    for key, entry in ENTRIES.items():  # each row whole, on one line
        assert any(key in line and entry.description in line for line in zoo.splitlines()), key
    show = (tmp_path / "show.txt").read_text()
    assert "…" not in show and "8,846,851 (8.85 M)" in show
    p = shell("gcc-gan bench zoo:dcgan zoo:autogan-a --width 0.0625 --metrics size,macs,latency --batches 1 "
              "--latency-repeats 1 | tee bench.txt > /dev/null", tmp_path)
    assert p.returncode == 0, p.stderr
    bench = (tmp_path / "bench.txt").read_text()
    assert not [line for line in bench.splitlines() if "…" in line and not line.startswith("benchmarking")]
    for word in ("interpreter", "compiled", "onnxruntime", "compiled MACs G", "FLOP check"):
        assert word in bench, word
    assert max(len(line) for line in bench.splitlines()) > 80  # laid out wide, not squeezed into 80 columns


# --------------------------------------------------------------------------- help


def test_help_is_plain_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "train", "--help")
    assert code == 0
    assert "<bool>" not in out  # flags take no value
    assert "--preset <tiny|paper>" in out and "--loss <hinge|ns|wgan-gp>" in out  # choices, not <str>
    assert "--device <auto|cpu|cuda>" in out
    flat = " ".join(out.split())
    assert "folder:PATH, lsun:PATH, digits or synthetic (default)" in flat  # --data's help is not cut
    assert "show this message and exit" in out
    code, out, _ = cli(capsys, "--help")
    flat = " ".join(out.split())
    assert code == 0 and "(JSON path: reason) and exit 1." in flat  # descriptions whole, wrapped in a column
    assert "against one fixed discriminator; write results.csv, is_vs_size.png and fid_vs_size.png." in flat
    code, out, _ = cli(capsys, "show", "--help")
    assert "genotype JSON file, zoo entry, or a gcc-gan compile directory" in " ".join(out.split())
    assert "print a machine-readable JSON object instead" in out


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args,needle", [
    (["search", "--method", "foo"], "'foo' is not one of 'adversarial', 'degas', 'autogan', 'dggan', 'random'"),
    (["compile", "zoo:dcgan", "-o", "x", "--net", "x"], "'x' is not one of 'g', 'd', 'both'"),
    (["render", "zoo:dcgan", "-o", "x.png", "--net", "x"], "'x' is not one of 'g', 'd', 'generator'"),
    (["convert", "foo", "1", "-o", "x.json"], "'foo' is not one of 'autogan', 'adversarialnas'"),
    (["train", "zoo:dcgan", "-o", "r", "--preset", "huge"], "'huge' is not one of 'tiny', 'paper'"),
    (["train", "zoo:dcgan", "-o", "r", "--iters", "abc"], "expected an integer"),
    (["scale", "zoo:dcgan", "--sizes", "1", "-o", "s", "--executor", "dask"], "'dask' is not one of 'local', 'ray'"),
    (["bench", "zoo:dcgan", "--device", "tpu"], "'tpu' is not one of 'cpu', 'cuda'"),
])
def test_usage_errors_exit_2_in_plain_words(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                            needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert needle in err and "Value error" not in err and "Input should be" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["compile", "missing.json", "-o", "out"],
    ["train", "missing.json", "-o", "out"],
    ["bench", "missing.json", "--metrics", "size"],
    ["scale", "missing.json", "--sizes", "1", "-o", "out"],
])
def test_a_missing_file_is_rejected_before_importing_torch(tmp_path: Path, args: list[str]) -> None:
    code = f"import sys; from gcc_gan.cli.main import run; c = run({args!r}); print(c, 'torch' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, env={**os.environ, "PYTHONPATH": SRC},
                       capture_output=True, text=True, timeout=120)
    assert p.stdout.split() == ["1", "False"], p.stderr
    assert "missing.json: no such file" in p.stderr


# --------------------------------------------------------------------------- --force


def test_writing_commands_refuse_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    f = tmp_path / "mine.json"
    cases = [["zoo", "dcgan", "-o", f], ["schema", "-o", f], ["convert", "autogan", "1 0 1 1 1 0 0 1 1 1 0 1 0 3",
                                                                   "-o", f]]
    for args in cases:
        f.write_text("hand edits")
        code, _, err = cli(capsys, *args)
        assert code == 1 and f"{f}: the file already exists; add --force to replace it" in err, (args, err)
        assert f.read_text() == "hand edits"
        code, _, err = cli(capsys, *args, "--force")
        assert code == 0, err
        assert f.read_text() != "hand edits"
    png = tmp_path / "g.png"
    png.write_bytes(b"mine")
    assert cli(capsys, "render", "zoo:dcgan", "-o", png)[0] == 1 and png.read_bytes() == b"mine"
    out_json = tmp_path / "b.json"
    out_json.write_text("{}")
    code, _, err = cli(capsys, "bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "size", "--json", out_json)
    assert code == 1 and "--json" in err and out_json.read_text() == "{}"


# --------------------------------------------------------------------------- a reader that goes away


def test_compile_piped_into_head_exits_0(tmp_path: Path) -> None:
    p = shell("gcc-gan compile zoo:dcgan --width 0.0625 --no-verify -o out | head -1", tmp_path)
    assert p.returncode == 0, p.stderr
    # stderr (a pipe too) holds the compile's phases, one line each, and nothing else
    assert p.stdout.startswith("compiled")
    phases = p.stderr.splitlines()
    assert phases[0] == "compiling…" and "tracing generator.onnx…" in phases and all(ln.endswith("…") for ln in phases)
    assert (tmp_path / "out" / "report.json").is_file()
    p = shell("gcc-gan schema | head -1 && gcc-gan zoo | head -1", tmp_path)
    assert p.returncode == 0 and p.stderr == "", p.stderr


# --------------------------------------------------------------------------- bench


def test_bench_labels_same_named_targets_by_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a" / "g.json", tmp_path / "b" / "g.json"
    for p in (a, b):
        p.parent.mkdir()
        save_genotype(zoo_genotype("dcgan"), p)  # both named "dcgan"
    code, out, err = cli(capsys, "bench", a, b, "zoo:sngan", "--width", "0.0625", "--metrics", "size",
                         "--json", tmp_path / "r.json")
    assert code == 0, err
    labels = [r["method"] for r in json.loads((tmp_path / "r.json").read_text())["results"]]
    assert labels == [f"{a} ×0.0625", f"{b} ×0.0625", "sngan ×0.0625"]
    assert all(label in out for label in labels)
    # the same target twice: numbered
    code, _, err = cli(capsys, "bench", "zoo:dcgan", "zoo:dcgan", "--width", "0.0625", "--metrics", "size",
                       "--json", tmp_path / "r2.json", "--force")
    labels = [r["method"] for r in json.loads((tmp_path / "r2.json").read_text())["results"]]
    assert code == 0 and labels == ["zoo:dcgan ×0.0625 #1", "zoo:dcgan ×0.0625 #2"], err


def test_bench_without_inception_reports_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "size,is",
                         "--json", tmp_path / "r.json", "--num-samples", "10")
    assert code == 0, err
    assert err.count("IS / FID / KID unavailable") == 1 and inc.FIDELITY_NAME in " ".join(err.split())
    r = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert r["size"]["params"] > 0 and r["unavailable"] == {"is": "no FID Inception weights"}
    assert "unavailable" in out
    # only IS asked for: nothing to report, so the missing file is an error
    code, _, err = cli(capsys, "bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "is")
    assert code == 1 and inc.FIDELITY_NAME in " ".join(err.split())
    # a file the user named that is missing is an error too
    code, _, err = cli(capsys, "bench", "zoo:dcgan", "--metrics", "size,is", "--inception-weights", tmp_path / "no")
    assert code == 1 and "no such file" in err


def test_flop_check_caption_only_with_its_column(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "size")
    assert code == 0, err
    assert "FLOP check" not in out
    code, out, err = cli(capsys, "bench", "zoo:dcgan", "--width", "0.0625", "--metrics", "size,macs")
    assert code == 0 and out.count("FLOP check") == 2  # the caption and the column


# --------------------------------------------------------------------------- Inception weights


def test_inception_file_is_verified_by_its_sha256(inception_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert inc.is_fid_inception(inc.FID_SHA256_PREFIX + "0" * 56)
    assert not inc.is_fid_inception(inc.file_sha256(inception_file))
    inc._WARNED.clear()
    net = inc.load_inception(inception_file)  # random weights in the real layout: used, with a warning
    assert not net.verified
    err = " ".join(capsys.readouterr().err.split())
    assert f"{inception_file}: not the FID Inception" in err and "NOT comparable" in err
    inc.load_inception(inception_file)
    assert "not the FID Inception" not in capsys.readouterr().err  # once per file
    inc.load_inception(inception_file, warn_unverified=False)


def test_stats_line_and_unverified_note(tmp_path: Path, inception_file: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "stats", "synthetic?n=16", "-o", tmp_path / "s.npz", "--num-samples", "4",
                         "--inception-weights", inception_file)
    assert code == 0, err
    assert f"wrote {tmp_path / 's.npz'}: statistics of 4 real images at 32×32 from synthetic?n=16, " in out
    assert "(NOT the FID Inception)" in out and "32×32, 32×32" not in out


# --------------------------------------------------------------------------- real_vs_fake.png


def test_real_vs_fake_is_captioned(tmp_path: Path) -> None:
    from gcc_gan.train.images import LABEL_BAND, save_side_by_side

    white = torch.ones(64, 3, 8, 8)
    save_side_by_side(white, white, tmp_path / "rf.png")
    img = np.asarray(Image.open(tmp_path / "rf.png").convert("L"))
    half = (img.shape[1] - 8) // 2
    band = img[:LABEL_BAND]
    assert (band[:, :half] < 128).sum() > 10 and (band[:, -half:] < 128).sum() > 10  # text over each grid
    assert (img[LABEL_BAND:] > 250).all()  # the grids themselves untouched


# --------------------------------------------------------------------------- folder: data


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG that declares w×h pixels (its IHDR) with almost no data: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (12, 12), (60 * i, 0, 0)).save(d / f"ok{i}.png")
    (d / "sub" / "empty.jpg").write_bytes(b"")
    (d / "garbage.png").write_bytes(b"\x89PNG not really")
    _png_header_only(d / "huge.png", 13000, 13000)
    return d


def test_folder_skips_unusable_files_with_a_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert DEFAULT_MAX_PIXELS < 13000 * 13000 // 4
    d = _folder(tmp_path)
    ds = load_dataset(f"folder:{d}", 8)
    assert len(ds) == 4 and "4 images (3 unreadable skipped)" in ds.description
    err = " ".join(capsys.readouterr().err.split())
    assert "skipping 3 of 7 image files" in err
    for name in ("empty.jpg: empty file", "garbage.png: cannot decode image", "huge.png: 13000×13000"):
        assert name in err, name
    assert ds.batch(np.arange(4)).shape == (4, 3, 8, 8)
    with pytest.raises(GccGanError, match=r"3 of 7 image files cannot be used \(\?strict=1\)"):
        load_dataset(f"folder:{d}?strict=1", 8)
    # the cap is configurable: ?max_pixels=100 leaves no 12×12 image usable
    with pytest.raises(GccGanError, match="none of its 7 image files can be used"):
        load_dataset(f"folder:{d}?max_pixels=100", 8)


def test_folder_scan_is_cached_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gcc_gan.train.data as D

    d = _folder(tmp_path)
    load_dataset(f"folder:{d}", 8)
    reads: list[Path] = []
    real = D._read_header
    monkeypatch.setattr(D, "_read_header", lambda p: reads.append(p) or real(p))
    load_dataset(f"folder:{d}", 8)
    assert reads == []  # nothing changed: no header read again
    Image.new("RGB", (12, 12)).save(d / "ok0.png", format="PNG", compress_level=1)  # new bytes, new mtime
    os.utime(d / "ok0.png", ns=(1, 1))
    load_dataset(f"folder:{d}", 8)
    assert reads == [d / "ok0.png"]


def test_folder_image_that_fails_mid_run_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        Image.new("RGB", (12, 12), (100 * i, 0, 0)).save(d / f"{i}.png")
    good = (d / "1.png").read_bytes()
    (d / "1.png").write_bytes(good[:45])  # header intact, data truncated: passes the scan, fails to decode
    ds = load_dataset(f"folder:{d}", 8)
    assert len(ds) == 3
    x = ds.batch(np.array([1, 2]))  # no exception: 1 is replaced by the next readable image, 2
    assert torch.equal(x[0], x[1])
    assert "1.png" in capsys.readouterr().err
    strict = load_dataset(f"folder:{d}?strict=1", 8)
    with pytest.raises(GccGanError, match="1.png: cannot decode image"):
        strict.batch(np.array([1]))
