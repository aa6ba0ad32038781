"""Byte-reproducible safetensors files.

safetensors writes its `__metadata__` map in hash order, which differs from run to run
(the same inputs gave different bytes). `save_safetensors` writes the file with the
metadata keys sorted; everything else is safetensors' own serialisation."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping

from safetensors.torch import save
from torch import Tensor


def canonical_bytes(data: bytes) -> bytes:
    """`data` (a safetensors file) with its header's metadata keys sorted. The header
    keeps its length: only the order of its entries changes."""
    (n,) = struct.unpack("<Q", data[:8])
    raw = data[8:8 + n]
    header = json.loads(raw)
    meta = header.get("__metadata__")
    if not meta:
        return data
    header["__metadata__"] = dict(sorted(meta.items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(text) != len(raw.rstrip(b" ")):  # not the compact form we expect: leave it alone
        return data
    return data[:8] + text.ljust(n, b" ") + data[8 + n:]


def save_safetensors(tensors: Mapping[str, Tensor], path: str | os.PathLike[str],
                     metadata: Mapping[str, str] | None = None) -> None:
    """Like `safetensors.torch.save_file`, with the same bytes for the same inputs."""
    data = canonical_bytes(save(dict(tensors), metadata=dict(metadata) if metadata else None))
    with open(path, "wb") as f:
        f.write(data)
