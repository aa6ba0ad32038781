"""Weight import from the published reference implementations' checkpoints.

A checkpoint (raw state dict, or a training dict holding `gen_state_dict` /
`avg_gen_state_dict` / `state_dict`, keys possibly `module.`-prefixed) is mapped onto the
reference interpreter of a genotype's generator through the reference module paths the
native encoding records for each parametrised op. Loading never unpickles arbitrary
objects (`torch.load(weights_only=True)`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from ..compiler.interpreter import Interpreter
from ..errors import GccGanError
from ..genotype_dsl.encodings import from_encoding
from ..genotype_dsl.encodings.common import Native
from ..genotype_dsl.model import Genotype
from ..genotype_dsl.ops import fmt_shape

CHECKPOINT_KEYS = ("avg_gen_state_dict", "gen_state_dict", "generator", "state_dict", "model")


def _benign_globals() -> list[Any]:
    """Objects training scripts put beside the weights (AutoGAN's numpy `best_fid`, an
    argparse Namespace of the run's arguments) that can be rebuilt without running code;
    anything else stays refused by `weights_only`."""
    import argparse

    import numpy as np

    core = getattr(np, "_core", None) or np.core
    dtypes = {type(np.dtype(t)) for t in ("bool", "uint8", "int32", "int64", "float16", "float32", "float64")}
    return [argparse.Namespace, np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar,
            *sorted(dtypes, key=str)]


def _load_failure(p: Path, e: Exception) -> str:
    """Why torch.load refused the file, in one line: the offending globals when known."""
    try:
        allowed = {f"{g.__module__}.{g.__qualname__}" for g in _benign_globals()}
        unsafe = [g for g in torch.serialization.get_unsafe_globals_in_checkpoint(p) if g not in allowed]
    except Exception:  # noqa: BLE001 - not a zip checkpoint: fall back to the error text
        unsafe = []
    if unsafe:
        return (f"it holds pickled Python objects that are not tensors: {', '.join(unsafe[:4])}; checkpoints are "
                f"loaded with weights_only=True and never executed. Re-save the plain state dict, e.g. "
                f"torch.save(ckpt['gen_state_dict'], 'g.pth'), from a trusted environment")
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    if "Weights only load failed" in text:  # torch's advice (weights_only=False) is not ours to give
        m = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        return f"not a pickled state dict: {m.group(1).strip()}" if m else "not a pickled state dict"
    return text.splitlines()[0] if text else type(e).__name__


def load_checkpoint(path: str | os.PathLike[str], prefer: str | None = None) -> dict[str, Tensor]:
    """The generator state dict inside a checkpoint file, `module.` prefixes removed."""
    p = Path(path)
    if not p.exists():
        raise GccGanError(f"{p}: no such checkpoint file")
    if not p.is_file():
        raise GccGanError(f"{p}: is not a file; expected a PyTorch checkpoint (.pth / .pt)")
    try:
        with torch.serialization.safe_globals(_benign_globals()):
            obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise GccGanError(f"{p}: not a loadable PyTorch checkpoint of tensors ({_load_failure(p, e)})") from None
    if isinstance(obj, Mapping) and not all(isinstance(v, Tensor) for v in obj.values()):
        keys = [prefer] if prefer else list(CHECKPOINT_KEYS)
        for k in keys:
            if k in obj and isinstance(obj[k], Mapping):
                obj = obj[k]
                break
        else:
            raise GccGanError(f"{p}: no generator state dict found; looked for keys {', '.join(keys)} "
                              f"(the file has: {', '.join(map(str, obj)) or 'nothing'})")
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise GccGanError(f"{p}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def infer_width(native: Native, sd: Mapping[str, Tensor]) -> int:
    """The base width the checkpoint was trained at, from its first width-relative layer."""
    net = native.network
    widths = {n.name: n.width for n in net.nodes}
    for path, (edge_name, j) in native.refs.items():
        edge = next(e for e in net.edges if e.name == edge_name)
        call = edge.ops[j]
        w = getattr(call.params, "out_width", None) or (widths.get(edge.dst) if call.spec.produces_channels else None)
        key = f"{path}.weight"
        if w and key in sd:
            rows = sd[key].shape[1] if call.op == "conv_transpose" else sd[key].shape[0]
            gf = rows / w
            if gf != int(gf) or gf < 1:
                raise GccGanError(f"checkpoint tensor {key} has shape {fmt_shape(tuple(sd[key].shape))}, "
                                  f"which fits no base width for this genotype")
            return int(gf)
    raise GccGanError("cannot infer the width from the checkpoint: none of the genotype's layers is in it")


def map_state_dict(native: Native, model: Interpreter, sd: Mapping[str, Tensor],
                   strict: bool = True) -> dict[str, Tensor]:
    """The interpreter state dict filled from reference-layout `sd`. Raises GccGanError
    naming the first missing, aliased-inconsistent or mis-shaped tensor."""
    key_of = {e.edge.name: model.keys[e.index] for e in model.info.edges}
    by_op: dict[tuple[str, int], list[str]] = {}
    for path, where in native.refs.items():
        by_op.setdefault(where, []).append(path)
    target = model.state_dict()
    out: dict[str, Tensor] = {}
    used: set[str] = set()
    for (edge_name, j), paths in by_op.items():
        prefix = f"edges.{key_of[edge_name]}.{j}."
        for key, want in target.items():
            if not key.startswith(prefix):
                continue
            local = key[len(prefix):].replace("parametrizations.weight.original", "weight")
            found = [f"{p}.{local}" for p in paths if f"{p}.{local}" in sd]
            if not found:
                raise GccGanError(f"checkpoint is missing tensor {paths[0]}.{local} "
                                  f"(expected shape {fmt_shape(tuple(want.shape))})")
            value = sd[found[0]]
            for alias in found[1:]:
                if not torch.equal(sd[alias], value):
                    raise GccGanError(f"checkpoint tensors {found[0]} and {alias} should be the same "
                                      f"(aliased) parameter but differ")
            if tuple(value.shape) != tuple(want.shape):
                raise GccGanError(f"checkpoint tensor {found[0]} has shape {fmt_shape(tuple(value.shape))} "
                                  f"but the genotype needs {fmt_shape(tuple(want.shape))}")
            out[key] = value.to(want.dtype)
            used.update(found)
    missing = [k for k in target if k not in out and not k.endswith(("_u", "_v"))]
    if missing:
        raise GccGanError(f"no reference tensor maps to {missing[0]}: the genotype has layers the "
                          f"reference layout does not describe")
    if strict:
        extra = sorted(k for k in sd if k not in used)
        if extra:
            raise GccGanError(f"checkpoint tensor {extra[0]} (shape {fmt_shape(tuple(sd[extra[0]].shape))}) "
                              f"has no place in this genotype ({len(extra)} unused tensor(s)): "
                              f"is it the checkpoint of a different architecture?")
    for k, v in target.items():
        out.setdefault(k, v)
    return out


IMPORT_METHODS = ("autogan", "adversarialnas")


@dataclass(frozen=True)
class ImportResult:
    n_tensors: int
    params: int
    base_width: int  # the checkpoint's base width (gf)
    genotype_base_width: int
    width_arg: str  # the `--width` multiplier to compile with, exact when parsed back


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """JSON path of the first place two JSON-like values differ (None when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{path}.{k}".lstrip(".")
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d is not None:
                return d.lstrip(".")
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None if len(a) == len(b) else f"{path} (length {len(a)} vs {len(b)})".lstrip(".")
    return None if a == b else path.lstrip(".")


def native_for(method: str, genotype: Genotype) -> Native:
    """The native network recorded in the genotype's provenance, checked to be exactly the
    genotype's generator (up to base width): its edge names define the weight layout."""
    if method not in IMPORT_METHODS:
        raise GccGanError(f"unknown checkpoint format {method!r}; expected one of {', '.join(IMPORT_METHODS)}")
    if genotype.generator is None:
        raise GccGanError("the genotype has no generator to import weights into")
    enc = genotype.provenance.encoding
    if not enc or "format" not in enc:
        raise GccGanError("the genotype has no provenance.encoding, so the reference implementation's tensor names "
                          "cannot be derived; use a genotype converted from an AutoGAN / AdversarialNAS encoding "
                          "(e.g. zoo:autogan-a, zoo:adversarialnas)")
    if enc["format"] != method:
        raise GccGanError(f"the genotype was converted from the encoding format {enc['format']!r}, not {method!r}")
    native = from_encoding(enc)
    mine = genotype.generator.model_dump(mode="json", exclude_none=True)
    theirs = native.network.model_dump(mode="json", exclude_none=True)
    mine.pop("base_width"), theirs.pop("base_width")
    diff = _first_difference(mine, theirs)
    if diff is not None:
        raise GccGanError(f"the genotype's generator does not match its provenance.encoding (first difference at "
                          f"generator.{diff}); was it edited by hand? Weights can only be imported into the "
                          f"network the encoding describes")
    return native


def width_arg(base: int, gf: int) -> str:
    """The shortest `--width` multiplier string that scales `base` to exactly `gf`."""
    for digits in range(4, 18):
        s = f"{gf / base:.{digits}g}"
        if max(1, round(base * float(s))) == gf:
            return s
    return repr(gf / base)


def import_checkpoint(method: str, ckpt: str | os.PathLike[str], genotype_spec: str | os.PathLike[str],
                      out: str | os.PathLike[str], width: float | None = None, key: str | None = None) -> ImportResult:
    """Map a reference checkpoint onto the genotype's generator and save the canonical-layout
    weights to `out` (safetensors, atomically)."""
    from safetensors.torch import save

    from ..atomic import atomic_write_bytes
    from ..genotype_dsl.analysis import analyze
    from ..genotype_dsl.io import load_genotype

    g = load_genotype(genotype_spec)
    native0 = native_for(method, g)
    assert g.generator is not None
    base = g.generator.base_width
    dest = Path(out)
    if dest.is_dir():
        raise GccGanError(f"{dest}: is a directory; give a .safetensors file path with -o")
    sd = load_checkpoint(ckpt, prefer=key)
    if width is not None:
        if not width > 0:
            raise GccGanError(f"--width must be a positive multiplier, not {width:g}")
        gf = max(1, round(base * width))
    else:
        gf = infer_width(native0, sd)
    native = from_encoding({**(g.provenance.encoding or {}), "gf": gf})
    model = Interpreter(analyze(native.network, role="generator"))
    weights = map_state_dict(native, model, sd)
    data = save({k: v.detach().contiguous() for k, v in weights.items()},
                metadata={"format": "pt", "imported_from": Path(ckpt).name, "method": method, "base_width": str(gf)})
    try:
        atomic_write_bytes(dest, data)
    except OSError as e:
        raise GccGanError(f"cannot write {dest}: {e.strerror or e}") from None
    return ImportResult(len(weights), sum(p.numel() for p in model.parameters()), gf, base, width_arg(base, gf))
