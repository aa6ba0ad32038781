"""Datasets: every kind from tiny files in its real layout, and every bad path/layout
giving one clear GccGanError."""

from __future__ import annotations

import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gcc_gan.errors import GccGanError
from gcc_gan.train.data import SampleOrder, load_dataset, parse_data_spec


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


def _as_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


# --------------------------------------------------------------------------- spec strings


def test_spec_parsing() -> None:
    s = parse_data_spec("stl10:/data/stl?split=train+unlabeled")
    assert (s.kind, str(s.path), s.options) == ("stl10", "/data/stl", {"split": "train+unlabeled"})
    assert parse_data_spec("synthetic").path is None
    assert parse_data_spec("synthetic?n=100").options == {"n": "100"}


@pytest.mark.parametrize("spec, msg", [
    ("imagenet:/x", "unknown data spec"),
    ("cifar10", "needs a path"),
    ("cifar10:", "needs a path"),
    ("synthetic:/some/path", "takes no path"),
    ("digits:/some/path", "takes no path"),
    ("digits?n=5", "accepts no options"),
    ("cifar10:/x?color=1", "unknown option"),
    ("synthetic?n=abc", "n='abc'"),
    ("synthetic?n=3", "must be an integer"),
])
def test_bad_specs(spec: str, msg: str) -> None:
    with pytest.raises(GccGanError, match=msg):
        load_dataset(spec)


# --------------------------------------------------------------------------- digits


def test_digits_are_sklearns_images_upsampled() -> None:
    from sklearn.datasets import load_digits

    d = load_dataset("digits", 16)
    assert len(d) == 1797 and d.size == 16 and "digits" in d.description
    x = d.batch(np.arange(4))
    assert x.shape == (4, 3, 16, 16) and x.min() >= -1.0 and x.max() <= 1.0
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])  # gray as RGB
    raw = load_digits().images[:4]
    native = load_dataset("digits", 8).batch(np.arange(4))[:, 0].numpy()  # no resize at 8×8
    np.testing.assert_allclose((native + 1.0) * 127.5, np.rint(raw * 255.0 / 16.0), atol=1e-3)
    assert load_dataset("digits").size == 32  # the default resolution


# --------------------------------------------------------------------------- synthetic


def test_synthetic() -> None:
    a = load_dataset("synthetic?n=64", 32)
    b = load_dataset("synthetic?n=64", 32)
    assert len(a) == 64 and a.size == 32
    x = a.batch(np.arange(64))
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.8 and x.max() > 0.8
    assert torch.equal(x, b.batch(np.arange(64)))  # deterministic: no files, no randomness
    assert x.std(dim=(2, 3)).mean() > 0.1  # structured, not flat
    assert load_dataset("synthetic?n=16", 48).batch(np.arange(2)).shape == (2, 3, 48, 48)


# --------------------------------------------------------------------------- CIFAR-10


def _write_cifar(root: Path, per_batch: int = 3) -> dict[str, np.ndarray]:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x = _images(per_batch, 32, seed=i)
        out[name] = x
        with open(d / name, "wb") as f:  # the real layout: bytes keys, uint8 N×3072
            pickle.dump({b"batch_label": name.encode(), b"labels": [1] * per_batch,
                         b"data": x.reshape(per_batch, 3072), b"filenames": [b"a.png"] * per_batch}, f, protocol=2)
    return out


def test_cifar10(tmp_path: Path) -> None:
    ref = _write_cifar(tmp_path)
    train = load_dataset(f"cifar10:{tmp_path}")  # parent of cifar-10-batches-py
    assert len(train) == 15 and train.size == 32
    assert np.array_equal(_as_uint8(train.batch(np.arange(3))), ref["data_batch_1"])
    test = load_dataset(f"cifar10:{tmp_path / 'cifar-10-batches-py'}?split=test")  # the folder itself
    assert len(test) == 3 and np.array_equal(_as_uint8(test.batch(np.arange(3))), ref["test_batch"])
    assert len(load_dataset(f"cifar10:{tmp_path}?split=all")) == 18
    small = load_dataset(f"cifar10:{tmp_path}", 16)
    assert small.batch(np.arange(2)).shape == (2, 3, 16, 16)


def test_cifar10_bad_layouts(tmp_path: Path) -> None:
    with pytest.raises(GccGanError, match=r"(?s)no such directory.*data_batch_1"):
        load_dataset(f"cifar10:{tmp_path / 'nope'}")
    with pytest.raises(GccGanError, match="no data_batch_1 found"):
        load_dataset(f"cifar10:{tmp_path}")
    _write_cifar(tmp_path)
    root = tmp_path / "cifar-10-batches-py"
    with pytest.raises(GccGanError, match="split must be"):
        load_dataset(f"cifar10:{tmp_path}?split=valid")
    os.remove(root / "data_batch_4")
    with pytest.raises(GccGanError, match="missing data_batch_4"):
        load_dataset(f"cifar10:{tmp_path}")
    (root / "data_batch_4").write_bytes(b"garbage, not a pickle")
    with pytest.raises(GccGanError, match="data_batch_4: not a CIFAR-10 python batch"):
        load_dataset(f"cifar10:{tmp_path}")
    with open(root / "data_batch_4", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8)}, f)
    with pytest.raises(GccGanError, match="uint8 N×3072"):
        load_dataset(f"cifar10:{tmp_path}")


class _Evil:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar10_refuses_arbitrary_pickles(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_2", "wb") as f:
        pickle.dump({b"data": _Evil()}, f)
    with pytest.raises(GccGanError, match="refusing to load (posix|os|nt).system"):
        load_dataset(f"cifar10:{tmp_path}")


# --------------------------------------------------------------------------- STL-10


def _write_stl(root: Path, files: dict[str, int]) -> dict[str, np.ndarray]:
    d = root / "stl10_binary"
    d.mkdir(parents=True)
    out = {}
    for i, (name, n) in enumerate(files.items()):
        x = _images(n, 96, seed=10 + i)
        out[name] = x
        # the real layout: each channel stored column-major
        (d / f"{name}_X.bin").write_bytes(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).tobytes())
    return out


def test_stl10(tmp_path: Path) -> None:
    ref = _write_stl(tmp_path, {"train": 3, "test": 2, "unlabeled": 4})
    full = load_dataset(f"stl10:{tmp_path}", 96)
    assert len(full) == 3 and np.array_equal(_as_uint8(full.batch(np.arange(3))), ref["train"])
    default = load_dataset(f"stl10:{tmp_path / 'stl10_binary'}")
    assert default.size == 48  # the AutoGAN / AdversarialNAS protocol
    both = load_dataset(f"stl10:{tmp_path}?split=train+unlabeled", 96)
    assert len(both) == 7 and np.array_equal(_as_uint8(both.batch(np.arange(3, 7))), ref["unlabeled"])
    assert len(load_dataset(f"stl10:{tmp_path}?split=test")) == 2


def test_stl10_train_needs_no_unlabeled_file(tmp_path: Path) -> None:
    _write_stl(tmp_path, {"train": 2})
    assert len(load_dataset(f"stl10:{tmp_path}")) == 2
    with pytest.raises(GccGanError, match=r"(?s)missing unlabeled_X.bin.*stl10_binary"):
        load_dataset(f"stl10:{tmp_path}?split=train+unlabeled")


def test_stl10_bad_layouts(tmp_path: Path) -> None:
    with pytest.raises(GccGanError, match=r"(?s)no train_X.bin found.*column-major"):
        load_dataset(f"stl10:{tmp_path}")
    (tmp_path / "stl10_binary").mkdir()
    (tmp_path / "stl10_binary" / "train_X.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(GccGanError, match="1000 bytes is not a whole number of 3×96×96 images"):
        load_dataset(f"stl10:{tmp_path}")
    with pytest.raises(GccGanError, match="split must be"):
        load_dataset(f"stl10:{tmp_path}?split=train+train")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(GccGanError, match="not a directory"):
        load_dataset(f"stl10:{f}")


# --------------------------------------------------------------------------- folder


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    red = Image.new("RGB", (40, 20), (255, 0, 0))
    red.paste((0, 0, 255), (0, 0, 10, 20))  # blue left strip: cropped away by the centre crop
    red.save(tmp_path / "a" / "wide.png")
    Image.new("L", (8, 8), 255).save(tmp_path / "a" / "b" / "grey.jpg")
    Image.new("RGBA", (16, 16), (0, 255, 0, 128)).save(tmp_path / "green.PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{tmp_path}", 16)
    assert len(ds) == 3
    x = _as_uint8(ds.batch(np.arange(3)))  # sorted paths: a/b/grey.jpg, a/wide.png, green.PNG
    assert x.shape == (3, 3, 16, 16)
    assert (x[0] > 250).all()
    assert np.abs(x[1].astype(int) - np.array([255, 0, 0])[:, None, None]).max() <= 2
    assert (x[2, 1] == 255).all() and (x[2, 0] == 0).all()


def test_folder_bad(tmp_path: Path) -> None:
    with pytest.raises(GccGanError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(GccGanError, match=r"(?s)no image files found.*centre-cropped"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(GccGanError, match="broken.png: cannot decode image"):
        load_dataset(f"folder:{tmp_path}")


# --------------------------------------------------------------------------- LSUN


def _write_lmdb(path: Path, n: int) -> None:
    import lmdb

    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(n):
            buf = io.BytesIO()
            Image.new("RGB", (24, 20), (10 * i, 100, 200)).save(buf, format="WEBP", lossless=True)
            txn.put(f"{i:040x}".encode(), buf.getvalue())
    env.close()


def test_lsun(tmp_path: Path) -> None:
    pytest.importorskip("lmdb")
    _write_lmdb(tmp_path / "bedroom_train_lmdb", 5)
    ds = load_dataset(f"lsun:{tmp_path / 'bedroom_train_lmdb'}", 8)
    assert len(ds) == 5
    x = _as_uint8(ds.batch(np.array([3, 0])))
    assert x.shape == (2, 3, 8, 8) and (x[0, 0] == 30).all() and (x[1, 2] == 200).all()
    with pytest.raises(GccGanError, match=r"(?s)no data.mdb.*lmdb directory"):
        load_dataset(f"lsun:{tmp_path}")
    with pytest.raises(GccGanError, match="no such directory"):
        load_dataset(f"lsun:{tmp_path / 'nope'}")


def test_lsun_without_lmdb_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lmdb", None)  # as if the optional extra were not installed
    with pytest.raises(GccGanError, match=r"pip install 'gcc-gan\[lsun\]'"):
        load_dataset(f"lsun:{tmp_path}")


# --------------------------------------------------------------------------- order


def test_sample_order_is_a_pure_function_of_position() -> None:
    a = SampleOrder(10, seed=3)
    whole = a.indices(0, 35)
    for epoch in range(3):
        assert sorted(whole[epoch * 10:(epoch + 1) * 10]) == list(range(10))
    b = SampleOrder(10, seed=3)
    assert np.array_equal(b.indices(17, 9), whole[17:26])  # a fresh instance, mid-epoch, spanning epochs
    assert np.array_equal(b.indices(0, 5), whole[:5])
    assert not np.array_equal(SampleOrder(10, seed=4).indices(0, 35), whole)


@pytest.mark.slow
def test_train_and_search_run_on_digits(tmp_path: Path) -> None:
    """The issue's commands on the bundled digits (minutes on a loaded CPU: slow; the fast
    twin is test_digits_are_sklearns_images_upsampled)."""
    from gcc_gan.cli.main import run

    assert run(["train", "zoo:dcgan", "--data", "digits", "--preset", "tiny", "--iters", "2",
                "-o", str(tmp_path / "train")]) == 0
    assert (tmp_path / "train" / "generator.safetensors").is_file()
    # 2 iterations give a collapsed generator: the health check off (this tests the data path)
    assert run(["search", "--data", "digits", "--preset", "tiny", "--iters", "2", "--min-diversity", "0",
                "-o", str(tmp_path / "search")]) == 0
    assert (tmp_path / "search" / "genotype.json").is_file()
