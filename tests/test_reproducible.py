"""The same inputs give the same compile output bytes (issue 10: safetensors metadata
came out in hash order). generator.py, generator.safetensors, generator.onnx, generator.pt2
and report.json up to its timings are identical (.pt2: torch.export writes a random
serialization id and the temp directory's path into its stack traces; gcc-gan drops the
traces and rewrites the ids, see export/standalone.py)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save

from gcc_gan.cli.main import run
from gcc_gan.export.safetensors_io import canonical_bytes, save_safetensors


def test_safetensors_metadata_is_written_sorted(tmp_path: Path) -> None:
    meta = {f"key{i}": str(i) for i in (5, 1, 7, 3, 0, 6, 2, 4)}
    tensors = {"b": torch.arange(6.0).reshape(2, 3), "a": torch.zeros(4, dtype=torch.int64)}
    files = set()
    for i in range(6):  # safetensors alone gives several orders over six saves of eight keys
        save_safetensors(tensors, tmp_path / f"{i}.safetensors", meta)
        files.add((tmp_path / f"{i}.safetensors").read_bytes())
    assert len(files) == 1, "same inputs, different bytes"
    data = files.pop()
    (n,) = struct.unpack("<Q", data[:8])
    assert list(json.loads(data[8:8 + n])["__metadata__"]) == sorted(meta)
    assert canonical_bytes(save(tensors, metadata=meta)) == data
    with safe_open(str(tmp_path / "0.safetensors"), "pt") as f:
        assert f.metadata() == meta
        assert torch.equal(f.get_tensor("b"), tensors["b"])


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if not (k.endswith("wall_s") or k.endswith("_wait_s") or k == "step_wall_s")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.parametrize("verify", [False, True], ids=["no-verify", "verified"])
def test_compile_twice_gives_the_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str], verify: bool) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]  # the .pt2 comes from the standalone worker when verified
    for out in outs:
        assert run(["compile", "zoo:dcgan", "-o", str(out), "--width", "0.0625",
                    *([] if verify else ["--no-verify"])]) == 0, capsys.readouterr().err
    for name in ("generator.py", "generator.safetensors", "generator.onnx", "generator.pt2"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    a, b = (_without_timings(json.loads((o / "report.json").read_text())) for o in outs)
    assert a == b


def test_canonical_archive_keeps_a_loadable_program(tmp_path: Path) -> None:
    """The rewritten .pt2 is a valid zip (CRCs fixed) that torch.export.load runs, and a
    second pass changes nothing."""
    import zipfile

    import torch

    from gcc_gan.export.standalone import canonical_archive, export_program

    path = tmp_path / "m.pt2"
    export_program(torch.nn.Linear(4, 2).eval(), (torch.randn(3, 4),), path)
    data = path.read_bytes()
    assert canonical_archive(data) == data
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    x = torch.randn(5, 4)
    assert torch.export.load(str(path)).module()(x).shape == (5, 2)
