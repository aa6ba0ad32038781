"""Checkpoints that carry checksums (every corruption one message, resume falls back to the
newest intact checkpoint), exclusive output locks between real processes, a full disk, and
Ctrl-C / resume messages — for train and search (issue 10: items 2, 4, 6 and the
interrupt / resume items)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import torch
from conftest import cli as run_captured
from safetensors.torch import load_file, save_file

from gcc_gan.cli.main import run as cli

pytestmark = pytest.mark.usefixtures("one_thread")

# a tiny DCGAN (gf 4 / df 4) on 32×32 synthetic images, and tiny search supernets
TRAIN = ["zoo:dcgan", "--data", "synthetic?n=128", "--preset", "tiny", "--width", "0.0625", "--batch-size", "8",
         "--iters", "6", "--checkpoint-every", "3", "--log-every", "2", "--sample-every", "1000", "--device", "cpu"]
SEARCH_TINY = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, log_every=1, checkpoint_every=2)
SEARCH_DATA = "synthetic?n=64"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    r = run_captured(capsys, *args)
    assert "Traceback" not in r.err + r.out
    return r.code, r.err


def _proc(args: list[str], **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "from gcc_gan.cli.main import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, **kw)  # type: ignore[call-overload]


def _wait_for(cond: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended early ({proc.returncode}): "
                                 f"{proc.stderr.read().decode() if proc.stderr else ''}")
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def _rehash(ck: Path) -> None:
    """Make the manifest agree with the files again (a consistent, hand-edited checkpoint)."""
    m = json.loads((ck / "manifest.json").read_text())
    for name in m["files"]:
        data = (ck / name).read_bytes()
        m["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (ck / "manifest.json").write_text(json.dumps(m))


def _edit_json(path: Path, fn: Callable[[dict], None]) -> None:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


def _garble(path: Path, at: float = 0.9) -> None:
    """Flip bytes inside the tensor data (same size: only a checksum can tell)."""
    b = bytearray(path.read_bytes())
    i = int(len(b) * at)
    for k in range(i, min(i + 8, len(b))):
        b[k] ^= 0x5A
    path.write_bytes(bytes(b))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _rng_as_float(path: Path) -> None:
    t = load_file(str(path))
    save_file({k: v.float() for k, v in t.items()}, str(path))


# --------------------------------------------------------------------------- train corruptions

# (what is damaged, how, whether the manifest is made to agree again, words of the warning)
TRAIN_DAMAGE = [
    ("generator.safetensors", _truncate, False, "generator.safetensors is"),
    ("generator_ema.safetensors", _zero, False, "generator_ema.safetensors is 0 bytes"),
    ("discriminator.safetensors", _garble, False, "discriminator.safetensors: checksum mismatch"),
    ("optimizers.safetensors", _garble, False, "optimizers.safetensors: checksum mismatch"),
    ("generator.safetensors", _truncate, True, "generator.safetensors: not a readable safetensors file"),
    ("generator_ema.safetensors", _zero, True, "not a readable safetensors file"),
    ("state.json", lambda p: _edit_json(p, lambda d: d.pop("optim_g")), False, "state.json is"),
    ("state.json", lambda p: _edit_json(p, lambda d: d.pop("optim_g")), True, "KeyError: 'optim_g'"),
    ("state.json", lambda p: _edit_json(p, lambda d: d["numpy_random"].__setitem__(0, "PCG64")), True,
     "ValueError: set_state can only be used with legacy MT19937 state instances"),
    ("state.json", lambda p: _edit_json(p, lambda d: d.__setitem__("numpy_random", ["MT19937", [1, 2], 0, 0, 0.0])),
     True, "IndexError"),
    ("rng.safetensors", _rng_as_float, True, "TypeError: torch RNG state"),
    ("state.json", lambda p: p.write_bytes(b"\xff\xfe{garbage"), True, "state.json is unreadable"),
    ("log.csv", lambda p: p.write_bytes(p.read_bytes()[:-4] + b"\xff\xfe\r\n"), False, "log.csv: checksum"),
    ("manifest.json", _zero, False, "manifest.json is unreadable"),
    ("manifest.json", lambda p: p.unlink(), False, "no manifest.json (written by a gcc-gan without checksums)"),
]


@pytest.fixture(scope="module")
def train_ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 6-iteration run (checkpoints at 3 and 6)."""
    out = tmp_path_factory.mktemp("train") / "ref"
    with _threads(1):  # as the tests (one_thread): the same float sums, bit-exact weights
        assert cli(["train", *TRAIN, "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize("name,damage,rehash,words", TRAIN_DAMAGE,
                         ids=[f"{n}-{d.__name__ if hasattr(d, '__name__') else i}-{'rehashed' if r else 'raw'}-{i}"
                              for i, (n, d, r, _) in enumerate(TRAIN_DAMAGE)])
def test_train_resume_falls_back_past_a_damaged_checkpoint(
        train_ref: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        damage: Callable[[Path], None], rehash: bool, words: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(train_ref, run)
    newest = run / "checkpoints" / "step-00000006"
    damage(newest / name)
    if rehash:
        _rehash(newest)
    (run / "generator.safetensors").unlink()
    code, err = _cli(["train", "--resume", "-o", str(run)], capsys)
    assert code == 0, err
    assert f"checkpoint {newest} is damaged" in err and words in err, err
    assert "falling back to the previous one" in err and "resuming from step 3" in " ".join(err.split())
    # iterations 4-6 redone from the intact checkpoint: exactly the uninterrupted run
    assert (run / "generator.safetensors").read_bytes() == (train_ref / "generator.safetensors").read_bytes()
    for f in ("generator.safetensors", "optimizers.safetensors"):
        assert (newest / f).read_bytes() == (train_ref / "checkpoints/step-00000006" / f).read_bytes()
    _same_log(train_ref / "log.csv", run / "log.csv")


def test_train_resume_with_no_intact_checkpoint_stops_with_one_message(
        train_ref: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(train_ref, run)
    _zero(run / "checkpoints/step-00000006/generator.safetensors")
    _truncate(run / "checkpoints/step-00000003/optimizers.safetensors")
    code, err = _cli(["train", "--resume", "-o", str(run)], capsys)
    assert code == 1
    assert "error: --resume: no intact checkpoint in" in err
    assert "step-00000006: generator.safetensors is 0 bytes" in err and "step-00000003: optimizers" in err


def test_train_resume_ignores_a_damaged_run_log(train_ref: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """RUN/log.csv with bad bytes (a UnicodeDecodeError before): the checkpoint's copy wins."""
    run = tmp_path / "run"
    shutil.copytree(train_ref, run)
    (run / "log.csv").write_bytes(b"\xff\xfe\x00garbage\n" + (run / "log.csv").read_bytes()[7:])
    shutil.rmtree(run / "checkpoints/step-00000006")
    code, err = _cli(["train", "--resume", "-o", str(run)], capsys)
    assert code == 0, err
    _same_log(train_ref / "log.csv", run / "log.csv")


def test_train_resume_without_checkpoint_says_it_starts_over(train_ref: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(train_ref, run)
    shutil.rmtree(run / "checkpoints")
    code, err = _cli(["train", "--resume", "-o", str(run)], capsys)
    assert code == 0, err
    assert "holds no checkpoint; --resume starts" in err and "from iteration 0" in err
    assert (run / "generator.safetensors").read_bytes() == (train_ref / "generator.safetensors").read_bytes()
    _same_log(train_ref / "log.csv", run / "log.csv")


# wall-clock columns: the only ones allowed to differ between an interrupted and an
# uninterrupted run
WALL_CLOCK = ("images_per_s", "elapsed_s")


def _same_log(a: Path, b: Path) -> None:
    ra, rb = (p.read_text().splitlines() for p in (a, b))
    head = ra[0].split(",")
    assert rb[0] == ra[0]
    keep = [i for i, c in enumerate(head) if c not in WALL_CLOCK]
    assert [[r.split(",")[i] for i in keep] for r in ra[1:]] == [[r.split(",")[i] for i in keep] for r in rb[1:]]


def test_train_log_identical_after_an_interrupt_between_log_rows(tmp_path: Path) -> None:
    """Checkpoints (every 3) between log rows (every 2): a row's loss window spans the
    checkpoint, so the resumed run must continue the window it was in."""
    from gcc_gan.train import TrainRequest, train

    over = dict(width=1 / 16, batch_size=8, log_every=2, sample_every=1000, iters=8, checkpoint_every=3)

    def req(out: Path, resume: bool = False) -> TrainRequest:
        return TrainRequest(out=out, genotype=None if resume else "zoo:dcgan", data=None if resume else
                            "synthetic?n=128", preset=None if resume else "tiny", overrides={} if resume else over,
                            resume=resume, device="cpu")

    train(req(tmp_path / "ref"))

    def die(tr: object) -> None:
        if tr.step == 5:  # type: ignore[attr-defined]
            raise SystemExit("killed")  # after the row of step 4, the checkpoint at 3

    with pytest.raises(SystemExit):
        train(req(tmp_path / "run"), on_step=die)
    train(req(tmp_path / "run", resume=True))
    _same_log(tmp_path / "ref" / "log.csv", tmp_path / "run" / "log.csv")


# --------------------------------------------------------------------------- search corruptions


def _search(out: Path, resume: bool = False, **over: object) -> None:
    from gcc_gan.search.run import SearchRequest, search

    search(SearchRequest(method="adversarial", data=SEARCH_DATA, out=out, resume=resume, device="cpu",
                         overrides={**SEARCH_TINY, "iters": 4, "min_diversity": 0.0, **over}))  # type: ignore[arg-type]


def _legacy(ck: Path, state_pt: bytes) -> None:
    """A checkpoint as gcc-gan wrote it before checksums: state.pt (a pickle) + state.json."""
    for p in ck.iterdir():
        p.unlink()
    (ck / "state.pt").write_bytes(state_pt)
    (ck / "state.json").write_text(json.dumps({"format": 1, "step": 4, "elapsed_s": 1.0, "extra": {}}))


SEARCH_DAMAGE = [
    ("modules.safetensors", _truncate, "modules.safetensors is"),
    ("modules.safetensors", _zero, "modules.safetensors is 0 bytes"),
    ("modules.safetensors", _garble, "modules.safetensors: checksum mismatch"),
    ("optimizers.safetensors", _garble, "optimizers.safetensors: checksum mismatch"),
    ("state.json", lambda p: _edit_json(p, lambda d: d.pop("optimizers")), "state.json is"),
    ("state.json", lambda p: p.write_bytes(p.read_bytes().replace(b'"step": 4', b'"step": 5')),
     "state.json: checksum mismatch"),
    ("history.jsonl", lambda p: p.write_bytes(b"\xff" + p.read_bytes()[1:]), "history.jsonl: checksum mismatch"),
    ("manifest.json", lambda p: p.write_text("{"), "manifest.json is unreadable"),
    ("", lambda ck: _legacy(ck, os.urandom(300)), "no manifest.json (written by a gcc-gan without checksums)"),
    ("", lambda ck: _legacy(ck, b""), "no manifest.json (written by a gcc-gan without checksums)"),
]


@pytest.fixture(scope="module")
def search_ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "ref"
    with _threads(1):
        _search(out)
    return out


# each case resumes and finishes a search: three kinds of damage in the default run (a cut file,
# a checksum mismatch, a legacy pickle), the rest behind -m slow (the same fallback path)
FAST_DAMAGE = {0, 5, 8}


@pytest.mark.parametrize("name,damage,words", [
    pytest.param(*case, id=f"{case[0] or 'legacy'}-{i}", marks=() if i in FAST_DAMAGE else pytest.mark.slow)
    for i, case in enumerate(SEARCH_DAMAGE)])
def test_search_resume_falls_back_past_a_damaged_checkpoint(
        search_ref: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        damage: Callable[[Path], None], words: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(search_ref, run)
    newest = run / "checkpoints" / "step-00000004"
    damage(newest / name if name else newest)
    (run / "genotype.json").unlink()
    code, err = _cli(["search", "--resume", "-o", str(run), "--device", "cpu"], capsys)
    assert code == 0, err
    assert f"checkpoint {newest} is damaged" in err and words in err, err
    assert "resuming from step 2" in " ".join(err.split())
    for f in ("modules.safetensors", "optimizers.safetensors"):
        assert (newest / f).read_bytes() == (search_ref / "checkpoints/step-00000004" / f).read_bytes()
    assert json.loads((run / "genotype.json").read_text())["generator"] == \
        json.loads((search_ref / "genotype.json").read_text())["generator"]
    strip = lambda p: [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"}  # noqa: E731
                       for x in p.read_text().splitlines()]
    assert strip(run / "history.jsonl") == strip(search_ref / "history.jsonl")


def test_search_checkpoint_holds_no_pickle(search_ref: Path) -> None:
    ck = search_ref / "checkpoints" / "step-00000004"
    assert sorted(p.name for p in ck.iterdir()) == ["history.jsonl", "manifest.json", "modules.safetensors",
                                                     "optimizers.safetensors", "state.json"]


def test_search_resume_with_only_legacy_checkpoints_stops_with_one_message(
        search_ref: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(search_ref, run)
    _legacy(run / "checkpoints/step-00000004", b"")
    _legacy(run / "checkpoints/step-00000002", b"\x80\x02garbled pickle")
    code, err = _cli(["search", "--resume", "-o", str(run), "--device", "cpu"], capsys)
    assert code == 1
    assert "error: --resume: no intact checkpoint" in err and "weights_only" not in err
    assert err.count("error:") == 1


def test_search_resume_without_checkpoint_says_it_starts_over(
        search_ref: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(search_ref, run)
    shutil.rmtree(run / "checkpoints")
    code, err = _cli(["search", "--resume", "-o", str(run), "--device", "cpu"], capsys)
    assert code == 0, err
    assert "holds no checkpoint; --resume starts" in err and "from step 0" in err
    assert len((run / "history.jsonl").read_text().splitlines()) == 4  # not 4 old + 4 new lines


# --------------------------------------------------------------------------- output locks


def _holder(path: Path) -> subprocess.Popen[bytes]:
    """Another process holding the output lock of `path` until killed."""
    code = ("import sys, time\nfrom gcc_gan.runlock import run_lock, set_command\n"
            "set_command(['train', '-o', sys.argv[1]])\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, env=ENV)
    assert p.stdout is not None and p.stdout.readline() == b"locked\n"
    return p


def test_two_trains_into_one_run_directory(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [a if a != "6" else "100000" for a in TRAIN]  # --iters: long enough to be still running
    first = _proc(["train", *args, "-o", str(run)])
    try:
        _wait_for(lambda: (run / "config.json").is_file(), first)
        second = _proc(["train", *TRAIN, "--seed", "1", "-o", str(run)])
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1, err.decode()
        msg = err.decode()
        assert f"-o {run} is in use by another gcc-gan process (pid {first.pid} on " in msg, msg
        assert "gcc-gan train zoo:dcgan" in msg and "started 20" in msg and "Traceback" not in msg
        assert first.poll() is None  # refused at once, not after waiting for the first to finish
        # --resume and --force are refused the same way while the first runs
        third = _proc(["train", "--force", *TRAIN, "-o", str(run)])
        assert third.wait(timeout=120) == 1 and b"is in use by another gcc-gan process" in third.stderr.read()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # kill -9 leaves no stale lock: the run resumes (and its config is the first's seed 0)
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 0
    resumed = _proc(["train", "--resume", "-o", str(run), "--iters", "6"])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert not (tmp_path / ".run.lock").exists()


@pytest.mark.parametrize("argv", [
    ["search", "--device", "cpu", "-o", "{out}"],
    ["search", "--resume", "-o", "{out}"],
    ["scale", "zoo:dcgan", "--sizes", "1", "--preset", "tiny", "-o", "{out}"],
    ["compile", "zoo:dcgan", "-o", "{out}"],
    ["import", "autogan", "{ckpt}", "--genotype", "zoo:autogan-a", "-o", "{out}"],
    ["stats", "synthetic", "-o", "{out}"],
    ["bench", "zoo:dcgan", "--metrics", "size", "--json", "{out}"],
    ["zoo", "dcgan", "-o", "{out}"],
    ["schema", "-o", "{out}"],
    ["render", "zoo:dcgan", "-o", "{out}"],
    ["convert", "autogan", "1 0 1 1 1 0 0 1 1 1 0 1 0 3", "-o", "{out}"],
], ids=lambda a: a[0] + ("-resume" if "--resume" in a else ""))
def test_every_writing_command_refuses_a_locked_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str]) -> None:
    ext = {"stats": ".npz", "bench": ".json", "zoo": ".json", "schema": ".json", "render": ".png",
           "convert": ".json", "import": ".safetensors"}.get(argv[0], "")
    out = tmp_path / f"out{ext}"
    ckpt = tmp_path / "ckpt.pth"
    ckpt.write_bytes(b"")
    holder = _holder(out)
    try:
        code, err = _cli([a.format(out=out, ckpt=ckpt) for a in argv], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert f"is in use by another gcc-gan process (pid {holder.pid} on " in err, err
    assert f"gcc-gan train -o {out}" in err
    assert not out.exists()


def test_lock_is_reentrant_and_removed(tmp_path: Path) -> None:
    from gcc_gan.runlock import lock_path, run_lock

    with run_lock(tmp_path / "x") as lp:
        with run_lock(tmp_path / "x"):
            assert lp.is_file()
        assert lp.is_file()
    assert not lock_path(tmp_path / "x").exists()


# --------------------------------------------------------------------------- a full disk


def _enospc_after(n: int) -> Callable[..., object]:
    from gcc_gan import checkpoints

    real, calls = checkpoints._write, [0]

    def write(path: Path, data: bytes) -> object:
        calls[0] += 1
        if calls[0] > n:  # half the file reaches the disk, then the disk is full
            path.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    return write


def test_full_disk_in_a_checkpoint_is_one_message_and_leaves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from gcc_gan import checkpoints

    monkeypatch.setattr(checkpoints, "_write", _enospc_after(3))
    run = tmp_path / "run"
    code, err = _cli(["train", *TRAIN, "-o", str(run)], capsys)
    assert code == 1
    assert re.search(r"error: .*step-00000003: no space left on device \([\d.]+ (bytes|KiB|MiB|GiB|TiB) free there\)", err), err
    assert "nothing was half-written" in err
    assert [p.name for p in (run / "checkpoints").iterdir()] == []  # no partial checkpoint, no temp dir


def test_full_disk_in_compile_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights file is written by `save_safetensors` (byte-reproducible bytes, plain
    `open().write`): a full disk there is an OSError ENOSPC, turned into one message."""
    import errno

    from gcc_gan.export import artifacts

    def full(tensors: object, path: object, metadata: object = None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(artifacts, "save_safetensors", full)
    code, err = _cli(["compile", "zoo:dcgan", "-o", str(tmp_path / "c"), "--no-verify"], capsys)
    assert code == 1 and f"{tmp_path / 'c'}: no space left on device (" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A real, nearly full file system (a 4 MiB tmpfs with 160 KiB left); skipped where
    mounting is not permitted."""
    d = tmp_path / "small"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip() or 'not permitted'})")
    (d / "filler").write_bytes(b"\0" * (shutil.disk_usage(d).free - (160 << 10)))
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.mark.parametrize("argv", [
    ["compile", "zoo:dcgan", "--no-verify", "-o", "{d}/c"],
    ["train", "zoo:dcgan", "--data", "synthetic?n=128", "--preset", "tiny", "--batch-size", "8", "--iters", "2",
     "--checkpoint-every", "1", "--sample-every", "1000", "--device", "cpu", "-o", "{d}/run"],
    ["search", "--iters", "2", "--min-diversity", "0", "--device", "cpu", "-o", "{d}/s"],
], ids=lambda a: a[0])
def test_full_disk_for_real(small_disk: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, err = _cli([a.format(d=small_disk) for a in argv], capsys)
    assert code == 1, err
    assert re.search(r"no space left on device \([\d.]+ (bytes|KiB|MiB) free there\)", err), err
    assert str(small_disk) in err and err.count("error:") == 1
    hidden = [p for p in small_disk.rglob(".*") if ".tmp" in p.name]
    assert hidden == []  # atomic writes: no temp file or dir left behind


# --------------------------------------------------------------------------- Ctrl-C


def _resume_command(err: str) -> list[str]:
    m = re.search(r"Continue with: gcc-gan (.+)$", err, re.M)
    assert m, err
    import shlex

    return shlex.split(m.group(1))


def test_ctrl_c_in_train_says_how_to_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [a if a != "6" else "100000" for a in TRAIN]
    p = _proc(["train", *args, "--checkpoint-every", "2", "-o", str(run)])
    _wait_for(lambda: any((run / "checkpoints").glob("step-*")), p)
    p.send_signal(signal.SIGINT)
    _, err_b = p.communicate(timeout=120)
    err = err_b.decode()
    assert p.returncode == 130, err
    assert "Traceback" not in err and "interrupted at iteration" in err
    assert re.search(rf"the last checkpoint is {re.escape(str(run))}/checkpoints/step-\d{{8}} \(iteration \d+\)", err)
    cmd = _resume_command(err)
    assert cmd == ["train", "--resume", "-o", str(run)]
    r = _proc([*cmd, "--iters", "4"])
    _, e2 = r.communicate(timeout=300)
    assert r.returncode == 0, e2.decode()


def test_ctrl_c_in_search_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "s"
    p = _proc(["search", "--iters", "100000", "--device", "cpu", "-o", str(out)])
    # stopped inside the loop (a first history line), with or without a checkpoint yet
    _wait_for(lambda: (out / "history.jsonl").is_file() and (out / "history.jsonl").stat().st_size > 0, p,
              timeout=300)
    p.send_signal(signal.SIGINT)
    _, err_b = p.communicate(timeout=120)
    err = err_b.decode()
    assert p.returncode == 130, err
    cks = sorted((out / "checkpoints").glob("step-*"))
    where = (rf"the last checkpoint is {re.escape(str(cks[-1]))} \(step {int(cks[-1].name[5:])}\)" if cks
             else "no checkpoint had been written yet")
    assert "Traceback" not in err and re.search(rf"interrupted; {where}\. Continue with", err), err
    assert _resume_command(err) == ["search", "--method", "adversarial", "--resume", "-o", str(out)]


def test_ctrl_c_in_scale_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "sc"
    p = _proc(["scale", "zoo:dcgan", "--sizes", "0.5", "--preset", "tiny", "--iters", "100000", "--device", "cpu",
               "--allow-random-inception", "-o", str(out)], start_new_session=True)
    _wait_for(lambda: any(out.glob("runs/*/checkpoints/step-*")) or (out / "state.json").is_file(), p,
              timeout=300)
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    _, err_b = p.communicate(timeout=180)
    err = err_b.decode()
    assert p.returncode == 130, err
    assert "Traceback" not in err and f"recorded in {out}/state.json" in err, err
    cmd = _resume_command(err)
    assert cmd[:2] == ["scale", "zoo:dcgan"] and cmd[-1] == "--resume" and "--iters" in cmd


def test_full_disk_under_torch_save_for_real(small_disk: Path) -> None:
    """torch.save's zip writer says only `[enforce fail at inline_container.cc] ... file write
    failed`; inside an atomic write on a file system with almost nothing free it is a full disk."""
    from gcc_gan.atomic import DiskFullError, atomic_dir

    with pytest.raises(DiskFullError, match=r"/x: no space left on device \(.* free there\).*half-written"):
        with atomic_dir(small_disk / "x") as tmp:
            torch.save({"w": torch.zeros(1 << 20)}, tmp / "state.pt")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_every_spelling_of_an_output_shares_one_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.runlock import lock_path

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    want = lock_path(tmp_path / "real" / "run")
    assert lock_path("real/run") == lock_path("link/run") == lock_path(tmp_path / "link" / "run") == want
    holder = _holder(tmp_path / "link" / "run")
    try:
        code, err = _cli(["train", *TRAIN, "-o", "real/run"], capsys)
        assert code == 1 and f"is in use by another gcc-gan process (pid {holder.pid} on " in err, err
    finally:
        holder.kill()
        holder.wait()


def test_weights_from_checkpoints_skip_a_damaged_one(train_ref: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`--weights RUN/checkpoints` (compile, bench, sample) takes the newest INTACT checkpoint,
    as --resume does, and says so; a damaged checkpoint named directly is one error."""
    from gcc_gan.train.rundir import generator_weights_file

    run = tmp_path / "run"
    shutil.copytree(train_ref, run)
    newest = run / "checkpoints" / "step-00000006"
    _garble(newest / "generator_ema.safetensors")
    assert generator_weights_file(run / "checkpoints").parent.name == "step-00000003"
    assert "step-00000006 is damaged" in capsys.readouterr().err
    code, err = _cli(["compile", str(run / "genotype.json"), "--weights", str(newest), "-o", str(tmp_path / "c"),
                      "--no-verify"], capsys)
    assert code == 1 and f"checkpoint {newest} is damaged" in err and "Traceback" not in err
