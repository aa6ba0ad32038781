"""The trainer: losses, determinism, resume after kill -9 (bit-exact), divergence
detection, the weights contract with `compile --weights`, and every bad CLI input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import assert_cli_error
from conftest import cli as run_captured
from safetensors.torch import load_file

from gcc_gan.checkpoints import KILL_AFTER_ENV
from gcc_gan.cli.main import run as cli
from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.train import TrainRequest, make_config, train
from gcc_gan.train.losses import d_loss, g_loss, gradient_penalty
from gcc_gan.train.trainer import GanTrainer

# a tiny DCGAN (gf 4 / df 4) on 32×32 synthetic images: milliseconds per step
TINY = dict(width=1 / 16, batch_size=8, log_every=2, sample_every=1000)
DATA = "synthetic?n=128"


def _req(out: Path, **over: object) -> TrainRequest:
    kw = {**TINY, "iters": 6, "checkpoint_every": 3}
    kw.update({k: v for k, v in over.items() if k not in ("genotype", "data", "d", "resume", "force", "preset")})
    extra = {k: v for k, v in over.items() if k in ("genotype", "data", "d", "resume", "force", "preset")}
    return TrainRequest(out=out, genotype=extra.get("genotype", "zoo:dcgan"), data=extra.get("data", DATA),
                        d=extra.get("d"), preset=extra.get("preset", "tiny"), overrides=kw,
                        resume=bool(extra.get("resume", False)), force=bool(extra.get("force", False)), device="cpu")



# tiny convolutions gain nothing from threads (conftest's one_thread); subprocesses get the same
pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- losses


def test_losses() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert d_loss("hinge", real, fake).item() == pytest.approx(0.25 + 0.5)
    assert g_loss("hinge", fake).item() == pytest.approx(1.0)
    ns = d_loss("ns", real, fake).item()
    sp = torch.nn.functional.softplus
    assert ns == pytest.approx((sp(-real).mean() + sp(fake).mean()).item())
    assert d_loss("wgan-gp", real, fake).item() == pytest.approx(-1.0 - 1.25)
    # a linear critic has gradient norm ‖w‖ everywhere: GP = (‖w‖ - 1)²
    w = torch.tensor([3.0, 4.0])
    gp = gradient_penalty(lambda x: (x.flatten(1) * w).sum(1), torch.randn(5, 2, 1, 1), torch.randn(5, 2, 1, 1),
                          torch.rand(5, 1, 1, 1))
    assert gp.item() == pytest.approx(16.0)


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_other_losses_train(tmp_path: Path, loss: str) -> None:
    res = train(_req(tmp_path / "r", loss=loss, iters=3, n_critic=2))
    assert res.step == 3 and res.generator.is_file()


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_weights(tmp_path: Path) -> None:
    a = train(_req(tmp_path / "a"))
    b = train(_req(tmp_path / "b"))
    c = train(_req(tmp_path / "c", seed=1))
    assert a.generator.read_bytes() == b.generator.read_bytes()
    assert a.generator.read_bytes() != c.generator.read_bytes()
    run = tmp_path / "a"
    for f in ("config.json", "genotype.json", "log.csv", "real_vs_fake.png", "samples/final.png"):
        assert (run / f).is_file(), f
    assert len(list((run / "checkpoints").iterdir())) == 2  # step 3 and 6, hidden temps gone
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,d_loss,g_loss") and len(rows) == 4


def test_ema_off_equals_raw_and_on_differs(tmp_path: Path) -> None:
    off = train(_req(tmp_path / "off", ema=0.0, iters=3))
    ck = tmp_path / "off" / "checkpoints" / "step-00000003"
    raw, ema = load_file(str(ck / "generator.safetensors")), load_file(str(ck / "generator_ema.safetensors"))
    assert all(torch.equal(raw[k], ema[k]) for k in raw)
    assert load_file(str(off.generator)).keys() == raw.keys()
    train(_req(tmp_path / "on", ema=0.9, iters=3))
    ck = tmp_path / "on" / "checkpoints" / "step-00000003"
    raw, ema = load_file(str(ck / "generator.safetensors")), load_file(str(ck / "generator_ema.safetensors"))
    assert any(not torch.equal(raw[k], ema[k]) for k in raw if k.endswith("weight"))


# --------------------------------------------------------------------------- weights contract


def test_generator_weights_load_into_the_run_genotype(tmp_path: Path) -> None:
    res = train(_req(tmp_path / "r", iters=2))
    g = load_genotype(str(tmp_path / "r" / "genotype.json"))
    assert g.generator is not None and g.generator.base_width == 4  # stored at the trained width
    net = Interpreter(analyze(g.generator))
    net.load_state_dict(load_file(str(res.generator)), strict=True)  # the canonical layout, exactly
    # and from the source genotype with --width, as `compile zoo:dcgan --width 0.0625` does
    src = load_genotype("zoo:dcgan").generator
    assert src is not None
    Interpreter(analyze(src.scaled(1 / 16))).load_state_dict(load_file(str(res.generator)), strict=True)
    conf = json.loads((tmp_path / "r" / "config.json").read_text())
    assert conf["train"]["width"] == 1 / 16 and "generator.safetensors" in conf["weights"]["compile"]
    with torch.no_grad():
        img = net.eval()(torch.randn(2, 128))
    assert img.shape == (2, 3, 32, 32) and img.abs().max() <= 1


def test_sngan_d_follows_data_size(tmp_path: Path) -> None:
    # autogan-a G (32×32) against the default-resolution SNGAN D, both tiny
    res = train(_req(tmp_path / "r", genotype="zoo:autogan-a", d="zoo:sngan-d", width=1 / 64, iters=1,
                     batch_size=4))
    assert res.step == 1


@pytest.mark.parametrize("d, size", [("zoo:sngan-d", 48), ("zoo:dcgan-d", 48), ("zoo:dcgan-d", 64)])
def test_discriminator_resized_to_the_data(d: str, size: int) -> None:
    from gcc_gan.train.run import _discriminator

    net = _discriminator(d, size).scaled(1 / 16)
    out = Interpreter(analyze(net, role="discriminator"))(torch.randn(2, 3, size, size))
    assert out.shape == (2, 1)


def test_trains_on_a_folder_of_images(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(6):
        Image.new("RGB", (48, 40), (40 * i, 255 - 40 * i, 90)).save(tmp_path / f"{i}.png")
    res = train(_req(tmp_path / "r", data=f"folder:{tmp_path}", iters=2, batch_size=4))
    assert res.step == 2
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"] == f"folder:{tmp_path}"


# --------------------------------------------------------------------------- divergence


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    def poison(tr: GanTrainer) -> None:  # a fault in the middle of a real run
        if tr.step == 7:
            with torch.no_grad():
                next(tr.g.parameters()).fill_(float("nan"))

    out = tmp_path / "r"
    with pytest.raises(GccGanError, match=r"diverged at iteration 8: D loss nan.*step-00000006 is kept"):
        train(_req(out, iters=12, checkpoint_every=3), on_step=poison)
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["step-00000003", "step-00000006"]
    assert not (out / "generator.safetensors").exists()
    good = load_file(str(out / "checkpoints" / "step-00000006" / "generator.safetensors"))
    assert all(torch.isfinite(t).all() for t in good.values())
    res = train(_req(out, iters=12, checkpoint_every=3, resume=True, preset=None))  # resumes from step 6
    assert res.resumed_from == 6 and res.step == 12


def test_weights_nan_without_loss_nan_is_caught_before_checkpoint(tmp_path: Path) -> None:
    def poison(tr: GanTrainer) -> None:  # D's weights break right before a checkpoint
        if tr.step == 3:
            with torch.no_grad():
                for p in tr.d.parameters():
                    p.fill_(float("inf"))

    with pytest.raises(GccGanError, match="diverged at iteration 3: weights are not finite.*no checkpoint"):
        train(_req(tmp_path / "r", iters=6, checkpoint_every=3), on_step=poison)
    assert not list((tmp_path / "r" / "checkpoints").glob("step-*"))


# --------------------------------------------------------------------------- resume after kill -9


def _cli_proc(args: list[str], **env_over: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_over}  # identical threading in every process
    return subprocess.Popen([sys.executable, "-c", "from gcc_gan.cli.main import main; main()", "train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


# log.csv columns that measure wall-clock time: the only ones an interrupted run may differ in
WALL_CLOCK_COLUMNS = ("images_per_s", "elapsed_s")


def test_resume_after_kill9_is_bit_exact(tmp_path: Path) -> None:
    # checkpoints every 3 between log rows every 2: a log row's loss window can span the
    # checkpoint the run resumes from
    args = ["zoo:dcgan", "--data", DATA, "--preset", "tiny", "--width", "0.0625", "--batch-size", "8",
            "--iters", "24", "--checkpoint-every", "3", "--log-every", "2", "--sample-every", "10", "--device", "cpu"]
    ref = _cli_proc([*args, "-o", str(tmp_path / "ref")])
    # SIGKILLed right after its step-9 checkpoint (mid log window: rows at 8 and 10): a kill
    # by timer could land after the run had finished, and the resume then tested nothing
    victim = _cli_proc([*args, "-o", str(tmp_path / "run")], **{KILL_AFTER_ENV: "9"})
    _, verr = victim.communicate(timeout=300)
    assert victim.returncode == -signal.SIGKILL, verr.decode()
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode() if ref.stderr else ""
    ck = tmp_path / "run" / "checkpoints"
    killed_at = max(int(p.name[5:]) for p in ck.iterdir() if p.name.startswith("step-"))
    assert killed_at == 9 and not (tmp_path / "run" / "generator.safetensors").exists()
    before = (tmp_path / "run" / "log.csv").read_bytes().splitlines(keepends=True)
    resumed = _cli_proc(["--resume", "-o", str(tmp_path / "run")])
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert b"Traceback" not in err
    a, b = tmp_path / "ref", tmp_path / "run"
    assert (a / "generator.safetensors").read_bytes() == (b / "generator.safetensors").read_bytes()
    for f in ("generator.safetensors", "discriminator.safetensors", "optimizers.safetensors"):
        assert (a / "checkpoints/step-00000024" / f).read_bytes() == (b / "checkpoints/step-00000024" / f).read_bytes()
    steps = [int(r.split(",")[0]) for r in (b / "log.csv").read_text().splitlines()[1:]]
    assert steps == list(range(2, 25, 2)), f"log rows after resuming from step {killed_at}"
    # the log: rows up to the checkpoint exactly as the killed run wrote them; every row equal
    # to the uninterrupted run's but for its wall-clock columns
    after = (b / "log.csv").read_bytes().splitlines(keepends=True)
    kept = [r for r in before[1:] if r.endswith(b"\n") and int(r.split(b",")[0]) <= killed_at]
    assert after[: 1 + len(kept)] == before[: 1 + len(kept)]
    ref_rows, rows = ([r.split(",") for r in (p / "log.csv").read_text().splitlines()] for p in (a, b))
    assert rows[0] == ref_rows[0]
    cols = [i for i, c in enumerate(ref_rows[0]) if c not in WALL_CLOCK_COLUMNS]
    assert [[r[i] for i in cols] for r in rows] == [[r[i] for i in cols] for r in ref_rows]


# --------------------------------------------------------------------------- CLI


def _fail(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    r = run_captured(capsys, "train", *args)
    assert_cli_error(r)  # exit 1, one `error:` line, no traceback
    return r.err


def test_cli_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert cli(["train", "zoo:dcgan", "--data", DATA, "-o", str(out), "--preset", "tiny", "--width", "0.0625",
                "--batch-size", "8", "--iters", "2", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "generator.safetensors" in captured.out
    assert (out / "generator.safetensors").is_file()
    # resume of a finished run: nothing to do, artifacts rewritten identically
    before = (out / "generator.safetensors").read_bytes()
    assert cli(["train", "--resume", "-o", str(out), "--device", "cpu"]) == 0
    assert (out / "generator.safetensors").read_bytes() == before
    # --resume may extend --iters
    assert cli(["train", "--resume", "-o", str(out), "--iters", "3", "--device", "cpu"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["iters"] == 3
    assert cli(["train", "zoo:dcgan", "--data", DATA, "-o", str(out), "--force", "--preset", "tiny", "--width",
                "0.0625", "--batch-size", "8", "--iters", "1", "--device", "cpu"]) == 0


def test_cli_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    o = str(tmp_path / "run")
    base = ["--data", DATA, "-o", o, "--preset", "tiny", "--width", "0.0625", "--batch-size", "8", "--device", "cpu"]
    g_only = tmp_path / "g_only.json"
    g = load_genotype("zoo:dcgan")
    g_only.write_text(g.model_copy(update={"discriminator": None}).to_json())
    not_json = tmp_path / "bad.json"
    not_json.write_text("{ nope")
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases: list[tuple[list[str], str]] = [
        (["zoo:nope", *base], "no zoo entry 'nope'"),
        ([str(tmp_path / "missing.json"), *base], "no such file"),
        ([str(not_json), *base], "malformed JSON"),
        (["zoo:sngan-d", *base], "has no generator network"),
        ([str(g_only), *base, "--d", str(g_only)], "has no discriminator"),
        (["zoo:dcgan", *base, "--d", "zoo:missing"], "no zoo entry"),
        (["zoo:dcgan", *base, "--size", "64"], "makes 32×32 images"),
        (["zoo:dcgan", *base, "--iters", "0"], "--iters 0"),
        (["zoo:dcgan", *base, "--width", "-1"], "--width -1"),
        (["zoo:dcgan", *base, "--batch-size", "0"], "--batch-size 0"),
        (["zoo:dcgan", *base, "--n-critic", "0"], "--n-critic 0"),
        (["zoo:dcgan", *base, "--lr", "-0.1"], "--lr -0.1"),
        (["zoo:dcgan", *base, "--ema", "1.5"], "--ema 1.5"),
        (["zoo:dcgan", *base, "--threads", "0"], "--threads 0"),
        (["zoo:dcgan", *base, "--data", "imagenet:/x"], "unknown data spec"),
        (["zoo:dcgan", *base, "--data", f"cifar10:{tmp_path / 'nocifar'}"], "no such directory"),
        (["zoo:dcgan", *base, "--resume"], "does not exist"),
        (["zoo:dcgan", *base, "--resume", "--force"], "contradict"),
        (["zoo:dcgan", *base[:3], str(afile), *base[4:]], "is not a directory"),
        ([*base], "missing GENOTYPE"),
    ]
    if not torch.cuda.is_available():
        cases.append((["zoo:dcgan", *base, "--device", "cuda"], "no CUDA GPU"))
    for args, msg in cases:
        err = _fail(args, capsys)
        assert msg in err, (args, err)
        assert not (tmp_path / "run").exists(), f"{args} left a half-written run"
    # a value outside an option's choices is a usage error (exit 2) naming the choices
    for opt, value, msg in (("--loss", "wasserstein", "'hinge', 'ns', 'wgan-gp'"), ("--preset", "huge", "'tiny'"),
                            ("--amp", "fp8", "'bf16'"), ("--device", "tpu", "'auto', 'cpu', 'cuda'")):
        assert cli(["train", "zoo:dcgan", *base, opt, value]) == 2
        err = capsys.readouterr().err
        assert f"'{value}' is not one of" in err and msg in err, err
        assert not (tmp_path / "run").exists()
    # an existing non-run directory is neither trained into nor deleted
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "precious.txt").write_text("keep me")
    assert "already exists" in _fail(["zoo:dcgan", *base], capsys)
    assert "not a gcc-gan training run; refusing to delete" in _fail(["zoo:dcgan", *base, "--force"], capsys)
    assert "not a gcc-gan training run" in _fail(["--resume", "-o", o], capsys)
    assert (tmp_path / "run" / "precious.txt").read_text() == "keep me"


def test_cli_resume_refuses_changed_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    o = str(tmp_path / "run")
    assert cli(["train", "zoo:dcgan", "--data", DATA, "-o", o, "--preset", "tiny", "--width", "0.0625",
                "--batch-size", "8", "--iters", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert "already exists; continue it with --resume" in _fail(["zoo:dcgan", "--data", DATA, "-o", o], capsys)
    assert "started with loss='hinge'" in _fail(["--resume", "-o", o, "--loss", "ns"], capsys)
    assert "drop --preset" in _fail(["--resume", "-o", o, "--preset", "tiny"], capsys)
    assert "trained on synthetic" in _fail(["--resume", "-o", o, "--data", "synthetic?n=64"], capsys)
    assert "was trained from zoo:dcgan" in _fail(["zoo:autogan-a", "--resume", "-o", o], capsys)
    # --force with a bad input fails before deleting anything
    assert "no such directory" in _fail(["zoo:dcgan", "--data", f"cifar10:{tmp_path / 'x'}", "-o", o, "--force"],
                                        capsys)
    assert (tmp_path / "run" / "generator.safetensors").is_file()
    (tmp_path / "run" / "config.json").write_text("{}")
    assert "damaged" in _fail(["--resume", "-o", o], capsys)


def test_make_config_precedence() -> None:
    c = make_config("tiny", {"width": 0.5, "batch_size": 16, "iters": None})
    assert (c.width, c.d_width, c.batch_size, c.d_batch_size, c.n_critic) == (0.5, 0.5, 16, 16, 1)
    p = make_config(None, {})
    assert (p.loss, p.lr_g, p.beta1, p.beta2, p.n_critic, p.batch_size, p.d_batch_size, p.iters) == \
        ("hinge", 2e-4, 0.0, 0.9, 5, 128, 64, 50_000)
