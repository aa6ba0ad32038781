"""Weight import from the published reference implementations' checkpoints.

A checkpoint (raw state dict, or a training dict holding `gen_state_dict` /
`avg_gen_state_dict` / `dis_state_dict` / `state_dict`, keys possibly `module.`-prefixed;
zip or legacy torch format, pickled under numpy 1.x or 2) is mapped onto the reference
interpreter of a genotype's generator and/or discriminator through the reference module
paths the native encoding records for each parametrised op, in whichever official layout
the keys show (AutoGAN's `models/` or search-code names). Every tensor is checked against
the genotype's shapes before anything is allocated. Loading never unpickles arbitrary
objects (`torch.load(weights_only=True)`).

Zip archives are bounded before extraction (`export.archive`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from ..compiler.interpreter import Interpreter
from ..compiler.pipeline import spectral_uv
from ..errors import GccGanError
from .archive import archive_bound, check_archive
from ..genotype_dsl.encodings import from_encoding
from ..genotype_dsl.encodings.common import Layout, Native, Refs, sngan_discriminator
from ..genotype_dsl.model import Genotype, Network
from ..genotype_dsl.ops import fmt_shape

CHECKPOINT_KEYS = ("avg_gen_state_dict", "gen_state_dict", "generator", "state_dict", "model")
D_CHECKPOINT_KEYS = ("dis_state_dict", "discriminator")


def _benign_globals() -> list[Any]:
    """Objects training scripts put beside the weights (AutoGAN's numpy `best_fid`, an
    argparse Namespace of the run's arguments) that can be rebuilt without running code;
    anything else stays refused by `weights_only`. numpy 1.x (which the official code
    pins) pickles them under `numpy.core…`, numpy 2 under `numpy._core…`: both names are
    accepted for the same few objects."""
    import argparse

    import numpy as np

    core = getattr(np, "_core", None) or np.core
    dtypes = {type(np.dtype(t)) for t in ("bool", "uint8", "int32", "int64", "float16", "float32", "float64")}
    mine: list[Any] = [core.multiarray._reconstruct, core.multiarray.scalar]
    numpy1 = [(f, f"numpy.core.multiarray.{f.__name__}") for f in mine]
    return [argparse.Namespace, np.ndarray, np.dtype, *mine, *numpy1, *sorted(dtypes, key=str)]


def _allowed_names() -> set[str]:
    return {g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}" for g in _benign_globals()}


def _load_failure(p: Path, e: Exception) -> str:
    """Why torch.load refused the file, in one line: the offending globals when known."""
    try:
        allowed = _allowed_names()
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


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and all(isinstance(v, Tensor) for v in obj.values())


def read_checkpoint(path: str | os.PathLike[str], max_bytes: int | None = None) -> Any:
    """The unpickled checkpoint object (zip or legacy torch format, `weights_only`); a zip
    whose members declare more than `max_bytes` is refused before extraction."""
    p = Path(path)
    if not p.exists():
        raise GccGanError(f"{p}: no such checkpoint file")
    if not p.is_file():
        raise GccGanError(f"{p}: is not a file; expected a PyTorch checkpoint (.pth / .pt)")
    if max_bytes is not None:
        check_archive(p, max_bytes)
    try:
        with torch.serialization.safe_globals(_benign_globals()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise GccGanError(f"{p}: not a loadable PyTorch checkpoint of tensors ({_load_failure(p, e)})") from None


def state_dict_in(obj: Any, p: Path, keys: tuple[str, ...], what: str = "generator",
                  raw_ok: bool = True) -> dict[str, Tensor]:
    """The state dict under the first of `keys` in a training dict (or `obj` itself when it
    is a plain state dict and `raw_ok`), `module.` prefixes removed."""
    if not (raw_ok and _is_state_dict(obj)):
        if not isinstance(obj, Mapping) or _is_state_dict(obj):
            if _is_state_dict(obj):
                raise GccGanError(f"{p}: a plain state dict holds one network; the {what} needs a training "
                                  f"checkpoint with {' or '.join(keys)}")
            raise GccGanError(f"{p}: expected a state dict of tensors")
        for k in keys:
            if k in obj and isinstance(obj[k], Mapping):
                obj = obj[k]
                break
        else:
            raise GccGanError(f"{p}: no {what} state dict found; looked for keys {', '.join(keys)} "
                              f"(the file has: {', '.join(map(str, obj)) or 'nothing'})")
    if not _is_state_dict(obj):
        raise GccGanError(f"{p}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_checkpoint(path: str | os.PathLike[str], prefer: str | None = None) -> dict[str, Tensor]:
    """The generator state dict inside a checkpoint file, `module.` prefixes removed."""
    return state_dict_in(read_checkpoint(path), Path(path), (prefer,) if prefer else CHECKPOINT_KEYS)


def _layouts(native: Native) -> dict[str, Layout]:
    return {"default": Layout(native.refs), **native.layouts}


def detect_layout(native: Native, sd: Mapping[str, Tensor]) -> tuple[str, Layout]:
    """The checkpoint layout whose module paths cover the most keys of `sd` (AutoGAN's
    `models/` or search-code names), the default one on a tie."""
    def score(lay: Layout) -> int:
        heads = {k.rsplit(".", 1)[0] for k in sd}
        return sum(p in heads for p in lay.refs)
    return max(_layouts(native).items(), key=lambda kv: score(kv[1]))


def _weight(sd: Mapping[str, Tensor], path: str) -> tuple[str, Tensor] | None:
    for local in ("weight", "weight_orig"):
        if f"{path}.{local}" in sd:
            return f"{path}.{local}", sd[f"{path}.{local}"]
    return None


def infer_width(native: Native, sd: Mapping[str, Tensor], refs: Refs | None = None) -> int:
    """The base width the checkpoint was trained at, from its first width-relative layer.
    Only a candidate: `map_state_dict` checks every tensor against it before anything is
    built."""
    net = native.network
    widths = {n.name: n.width for n in net.nodes}
    edges = {e.name: e for e in net.edges}
    for path, (edge_name, j) in (native.refs if refs is None else refs).items():
        edge = edges.get(edge_name)
        if edge is None:
            continue
        call = edge.ops[j]
        w = getattr(call.params, "out_width", None) or (widths.get(edge.dst) if call.spec.produces_channels else None)
        found = _weight(sd, path)
        if w and found and found[1].dim() >= 2:
            key, t = found
            rows = t.shape[1] if call.op == "conv_transpose" else t.shape[0]
            gf = rows / w
            if gf != int(gf) or gf < 1:
                raise GccGanError(f"checkpoint tensor {key} has shape {fmt_shape(tuple(t.shape))}, "
                                  f"which fits no base width for this genotype")
            return int(gf)
    raise GccGanError("cannot infer the width from the checkpoint: none of the genotype's layers is in it")


# the canonical layout's local tensor names -> the names the official code saves them under
_SN_NAMES = {"parametrizations.weight.original": ("weight_orig",), "parametrizations.weight.0._u": ("weight_u",),
             "parametrizations.weight.0._v": ("weight_v",)}


@dataclass
class Mapped:
    weights: dict[str, Tensor]  # canonical layout, every tensor of the network
    notes: list[str]


def map_state_dict(native: Native, model: Interpreter, sd: Mapping[str, Tensor],
                   strict: bool = True) -> dict[str, Tensor]:
    """`map_checkpoint`'s weights, in the native encoding's default layout."""
    return map_checkpoint(native, model, sd, strict).weights


def map_checkpoint(native: Native, model: Interpreter, sd: Mapping[str, Tensor], strict: bool = True,
                   layout: Layout | None = None) -> Mapped:
    """The interpreter state dict filled from reference-layout `sd`. `model` may live on
    the meta device: every tensor is checked against its shape before anything is
    allocated. Raises GccGanError naming the first missing, aliased-inconsistent or
    mis-shaped tensor. Tensors of layers the official code computes but never uses (and,
    for layouts that hold them, blocks the architecture does not select) are dropped
    with a note; spectral-norm vectors missing from the checkpoint are recomputed."""
    lay = layout or Layout(native.refs)
    key_of = {e.edge.name: model.keys[e.index] for e in model.info.edges}
    by_op: dict[tuple[str, int], list[str]] = {}
    unused_paths: list[str] = []
    for path, where in lay.refs.items():
        if where[0] in key_of:
            by_op.setdefault(where, []).append(path)
        else:
            unused_paths.append(path)
    target = model.state_dict()
    out: dict[str, Tensor] = {}
    used: set[str] = set()
    no_uv: list[str] = []
    for (edge_name, j), paths in by_op.items():
        prefix = f"edges.{key_of[edge_name]}.{j}."
        for key, want in target.items():
            if not key.startswith(prefix):
                continue
            local = key[len(prefix):]
            names = _SN_NAMES.get(local, (local,))
            found = [f"{p}.{n}" for p in paths for n in names if f"{p}.{n}" in sd]
            if not found:
                if local.endswith(("._u", "._v")):
                    no_uv.append(key)
                    continue
                if local in _SN_NAMES and any(f"{p}.weight" in sd for p in paths):
                    raise GccGanError(f"checkpoint tensor {paths[0]}.weight is a plain weight, but the genotype's "
                                      f"layer has spectral norm (the official code saves weight_orig, weight_u, "
                                      f"weight_v): was the network trained without spectral norm? Import it into a "
                                      f"genotype whose layer has \"sn\": false")
                raise GccGanError(f"checkpoint is missing tensor {paths[0]}.{names[0]} "
                                  f"(expected shape {fmt_shape(tuple(want.shape))})")
            value = sd[found[0]]
            if tuple(value.shape) != tuple(want.shape):
                raise GccGanError(f"checkpoint tensor {found[0]} has shape {fmt_shape(tuple(value.shape))} "
                                  f"but the genotype needs {fmt_shape(tuple(want.shape))}")
            for alias in found[1:]:
                if not torch.equal(sd[alias], value):
                    raise GccGanError(f"checkpoint tensors {found[0]} and {alias} should be the same "
                                      f"(aliased) parameter but differ")
            out[key] = value.to(want.dtype)
            used.update(found)
    missing = [k for k in target if k not in out and not k.endswith(("._u", "._v"))]
    if missing:
        raise GccGanError(f"no reference tensor maps to {missing[0]}: the genotype has layers the "
                          f"reference layout does not describe")
    notes: list[str] = []
    dropped = sorted(k for k in sd if k not in used and any(k.startswith(p + ".") for p in unused_paths))
    if dropped:
        layers = sorted({k.rsplit(".", 1)[0] for k in dropped})
        notes.append(f"dropped {len(dropped)} tensor(s) of {len(layers)} layer(s) the official code computes but "
                     f"never uses ({', '.join(layers[:4])}{', …' if len(layers) > 4 else ''}); they do not change "
                     f"the output")
    spare = sorted(k for k in sd if k not in used and k not in dropped and k.startswith(lay.spare))
    if spare:
        notes.append(f"ignored {len(spare)} tensor(s) of blocks this architecture does not select (the search "
                     f"code's cells hold every candidate block)")
    if strict:
        extra = sorted(k for k in sd if k not in used and k not in dropped and k not in spare)
        if extra:
            raise GccGanError(f"checkpoint tensor {extra[0]} (shape {fmt_shape(tuple(sd[extra[0]].shape))}) "
                              f"has no place in this genotype ({len(extra)} unused tensor(s)): "
                              f"is it the checkpoint of a different architecture?")
    for key in no_uv:  # the power iteration's vectors, run to convergence from the loaded weight
        stem = key.rsplit(".", 2)[0]
        weight = out[f"{stem}.original"]
        dim = 1 if isinstance(_module_at(model, stem.rsplit(".", 2)[0]), nn.ConvTranspose2d) else 0
        u, v = spectral_uv(weight, dim)
        out[f"{stem}.0._u"], out[f"{stem}.0._v"] = u, v
    if no_uv:
        notes.append(f"{len(no_uv) // 2} spectral-norm layer(s) had no weight_u / weight_v: ran the power "
                     f"iteration to convergence on the loaded weights")
    return Mapped(out, notes)


def _module_at(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


IMPORT_METHODS = ("autogan", "adversarialnas")


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
    _check_same(genotype.generator, native.network, "generator", "does not match its provenance.encoding",
                "Weights can only be imported into the network the encoding describes")
    return native


def _check_same(mine_net: Network, theirs_net: Network, where: str, what: str, advice: str) -> None:
    mine = mine_net.model_dump(mode="json", exclude_none=True)
    theirs = theirs_net.model_dump(mode="json", exclude_none=True)
    mine.pop("base_width"), theirs.pop("base_width")
    diff = _first_difference(mine, theirs)
    if diff is not None:
        raise GccGanError(f"the genotype's {where} {what} (first difference at {where}.{diff}); was it edited by "
                          f"hand? {advice}")


def discriminator_native(genotype: Genotype, df: int | None = None) -> Native:
    """The official discriminator (AutoGAN's and AdversarialNAS's: the SNGAN ResNet D,
    `dis_state_dict`) matching the genotype's discriminator, at base width `df`."""
    d = genotype.discriminator
    if d is None:
        raise GccGanError("the genotype has no discriminator to import weights into")
    size = getattr(d.inputs[0], "size", 32) if d.inputs else 32
    sn = any(getattr(c.params, "sn", False) for e in d.edges for c in e.ops)
    ref = sngan_discriminator(df=d.base_width, size=size, sn=sn)
    _check_same(d, ref.network, "discriminator", "is not the SNGAN/AutoGAN ResNet discriminator the official code "
                "trains (block1-4, l5)", "Only that discriminator's checkpoints can be imported")
    return ref if df is None else sngan_discriminator(df=df, size=size, sn=sn)


def width_arg(base: int, gf: int) -> str:
    """The shortest `--width` multiplier string that scales `base` to exactly `gf`."""
    for digits in range(4, 18):
        s = f"{gf / base:.{digits}g}"
        if max(1, round(base * float(s))) == gf:
            return s
    return repr(gf / base)


@dataclass(frozen=True)
class NetImport:
    role: str
    layout: str  # the checkpoint layout found ("default", "search")
    n_tensors: int
    params: int
    base_width: int  # the checkpoint's base width (gf / df)
    genotype_base_width: int
    width_arg: str  # the `--width` multiplier to compile with, exact when parsed back
    notes: tuple[str, ...]


def _import_net(role: str, native0: Native, rebuild: Callable[[int], Native], sd: Mapping[str, Tensor],
                base: int, width: float | None) -> tuple[dict[str, Tensor], NetImport]:
    from ..genotype_dsl.analysis import analyze

    layout_name, layout0 = detect_layout(native0, sd)
    gf = max(1, round(base * width)) if width is not None else infer_width(native0, sd, layout0.refs)
    native = rebuild(gf)
    layout = _layouts(native)[layout_name]
    # every tensor is checked against the genotype's shapes on the meta device first, so a
    # crafted checkpoint cannot make import allocate a network it does not hold the weights of
    with torch.device("meta"):
        model = Interpreter(analyze(native.network, role=role))
    mapped = map_checkpoint(native, model, sd, layout=layout)
    params = sum(p.numel() for p in model.parameters())
    return mapped.weights, NetImport(role, layout_name, len(mapped.weights), params, gf, base, width_arg(base, gf),
                                     tuple(mapped.notes))


def import_checkpoint(method: str, ckpt: str | os.PathLike[str], genotype_spec: str | os.PathLike[str],
                      out: str | os.PathLike[str], width: float | None = None, key: str | None = None,
                      net: str = "g") -> list[NetImport]:
    """Map a reference checkpoint onto the genotype's generator (`net` "g"), discriminator
    ("d") or both, and save the canonical-layout weights to `out` (safetensors,
    atomically; keys prefixed `generator.` / `discriminator.` for both)."""
    from safetensors.torch import save

    from ..atomic import atomic_write_bytes
    from ..genotype_dsl.io import load_genotype

    roles = {"g": ("generator",), "d": ("discriminator",), "both": ("generator", "discriminator")}.get(net)
    if roles is None:
        raise GccGanError(f"--net must be g, d or both, not {net!r}")
    if width is not None and not width > 0:
        raise GccGanError(f"--width must be a positive multiplier, not {width:g}")
    g = load_genotype(genotype_spec)
    plans: list[tuple[str, Native, Callable[[int], Native], int]] = []
    if "generator" in roles:
        nat = native_for(method, g)
        assert g.generator is not None
        enc = g.provenance.encoding or {}
        plans.append(("generator", nat, lambda gf: from_encoding({**enc, "gf": gf}), g.generator.base_width))
    if "discriminator" in roles:
        if method not in IMPORT_METHODS:
            raise GccGanError(f"unknown checkpoint format {method!r}; expected one of {', '.join(IMPORT_METHODS)}")
        nat = discriminator_native(g)
        assert g.discriminator is not None
        plans.append(("discriminator", nat, lambda df: discriminator_native(g, df), g.discriminator.base_width))
    dest = Path(out)
    if dest.is_dir():
        raise GccGanError(f"{dest}: is a directory; give a .safetensors file path with -o")
    obj = read_checkpoint(ckpt, archive_bound(g, width))
    p = Path(ckpt)
    tensors: dict[str, Tensor] = {}
    results: list[NetImport] = []
    for role, nat, rebuild, base in plans:
        if role == "generator":
            sd = state_dict_in(obj, p, (key,) if key else CHECKPOINT_KEYS, raw_ok=len(roles) == 1)
        else:
            sd = state_dict_in(obj, p, D_CHECKPOINT_KEYS, "discriminator", raw_ok=len(roles) == 1)
        w, res = _import_net(role, nat, rebuild, sd, base, width)
        prefix = f"{role}." if len(roles) > 1 else ""
        tensors.update({prefix + k: v for k, v in w.items()})
        results.append(res)
    if len(results) == 2 and results[0].width_arg != results[1].width_arg:
        a, b = results
        raise GccGanError(f"the checkpoint's generator is at {a.width_arg} × the genotype's width but its "
                          f"discriminator at {b.width_arg} ×; `compile --width` scales both alike, so import them "
                          f"one at a time (--net g, --net d)")
    meta = {"format": "pt", "imported_from": p.name, "method": method, "nets": ",".join(r.role for r in results),
            "base_width": ",".join(str(r.base_width) for r in results)}
    data = save({k: v.detach().contiguous() for k, v in tensors.items()}, metadata=meta)
    try:
        atomic_write_bytes(dest, data)
    except OSError as e:
        raise GccGanError(f"cannot write {dest}: {e.strerror or e}") from None
    return results
