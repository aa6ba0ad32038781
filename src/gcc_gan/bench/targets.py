"""What `gcc-gan bench` / `gcc_gan.bench` measure: a genotype (file, zoo entry or
`Genotype`, optionally re-widthed and with trained weights), a `gcc-gan train` run or a
`gcc-gan compile` output directory, loaded into the modules and files the measurements
need."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import torch
from torch import Tensor, nn

from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo
from ..genotype_dsl.model import Genotype
from ..genotype_dsl.ops import Shape


@dataclass
class Target:
    label: str  # the "method" column
    source: str  # what the user typed
    module: nn.Module  # the compiled generator, eval mode
    input_shapes: dict[str, Shape]
    output_shapes: dict[str, Shape]
    params: int
    macs: int  # per image, IR of the genotype (the papers' count)
    macs_compiled: int | None = None  # after the compiler's passes
    info: NetInfo | None = None  # the genotype's network (None for a compile dir)
    weights: dict[str, Tensor] | None = None  # canonical layout, for the interpreter
    ir_ops: list[Any] = field(default_factory=list)  # the compiled IR's ops (for the FLOP check)
    onnx: Path | None = None  # an existing ONNX file (compile dir)
    notes: list[str] = field(default_factory=list)
    encoding: dict[str, Any] | None = None  # the genotype's provenance.encoding (official counts)

    @property
    def latent_dims(self) -> list[int]:
        return [s[0] for s in self.input_shapes.values()]

    @property
    def image_size(self) -> int:
        shape = next(iter(self.output_shapes.values()))
        if len(shape) != 3:
            raise GccGanError(f"{self.source}: the generator's output {shape} is not an image")
        return int(shape[-1])

    def interpreter(self) -> nn.Module:
        from ..compiler.interpreter import Interpreter
        from ..compiler.pipeline import load_weights

        if self.info is None:
            raise GccGanError(f"{self.source}: no genotype, so no reference interpreter")
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the compiler's default initialisation seed: same weights
            m = Interpreter(self.info)
        if self.weights is not None:
            load_weights(m, self.weights, self.source)
        return m.eval()

    def official_counts(self) -> dict[str, int] | None:
        """Params and MACs as the official code counts them (None when unknown: a compile
        directory, or a generator that no longer matches its encoding)."""
        from ..genotype_dsl.encodings import OFFICIAL_FORMATS, official_counts

        if self.info is None:
            return None
        counts: tuple[int, int] | None = (self.params, self.macs)
        if (self.encoding or {}).get("format") in OFFICIAL_FORMATS:
            counts = official_counts(self.info.net, self.encoding)
        return None if counts is None else {"params": counts[0], "macs": counts[1]}


def read_weights(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Canonical-layout generator weights: a `.safetensors` file (gcc-gan import / train /
    compile) or a torch checkpoint of tensors; keys `generator.`-prefixed or bare; or a
    training run / checkpoint directory (its final or newest EMA generator)."""
    from ..train.rundir import generator_weights_file

    p = Path(path)
    if p.is_dir():
        p = generator_weights_file(p)
    if not p.is_file():
        raise GccGanError(f"--weights {p}: no such file")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            sd = load_file(str(p))
        except (SafetensorError, OSError, ValueError) as e:
            raise GccGanError(f"{p}: not a readable safetensors file ({str(e).strip() or type(e).__name__})") from None
    else:
        from ..export.weights import load_checkpoint

        sd = load_checkpoint(p)
    mine = {k.removeprefix("generator."): v for k, v in sd.items() if k.startswith("generator.")}
    if mine:
        return mine
    if any(k.startswith("discriminator.") for k in sd):
        raise GccGanError(f"{p}: holds only discriminator tensors; bench measures generators")
    return dict(sd)


def load_genotype_target(spec: str | Genotype, weights: str | os.PathLike[str] | None = None,
                         width: float | None = None, seed: int = 0, source: str | None = None) -> Target:
    """A genotype's generator; `source`: what the user named (default: `spec`)."""
    from ..compiler.pipeline import compile_network
    from ..genotype_dsl.analysis import generator_at_width
    from ..train.rundir import genotype_for_weights, spec_name

    # weights from a training run: its own genotype at the trained width
    g, infos, width = genotype_for_weights(spec, weights, width, "gcc-gan bench")
    source = source or spec_name(spec)
    info = generator_at_width(infos, source, width, "; bench measures generators")
    w = read_weights(weights) if weights is not None else None
    c = compile_network(info, w, role="generator", genotype=g, seed=seed)
    if isinstance(spec, str) and spec.startswith("zoo:"):
        label = spec[4:]
    else:
        label = g.name or (Path(source).stem if isinstance(spec, str) else source)
    if width is not None:
        label += f" ×{width:g}"
    return Target(label=label, source=source, module=c.instantiate(), input_shapes=dict(c.input_shapes),
                  output_shapes=dict(c.output_shapes), params=info.params, macs=info.macs,
                  macs_compiled=int(c.report["macs_after"]), info=info, weights=w,
                  ir_ops=[o for e in c.ir.edges for o in e.ops] if c.ir is not None else [],
                  encoding=g.provenance.encoding)


def _shapes(raw: Mapping[str, Any], what: str, where: Path) -> dict[str, Shape]:
    try:
        return {str(k): tuple(int(x) for x in v) for k, v in raw.items()}
    except (TypeError, ValueError, AttributeError):
        raise GccGanError(f"{where}: malformed {what} in report.json") from None


def load_dir_target(path: str) -> Target:
    """A `gcc-gan compile` output dir: report.json, generator.py + generator.safetensors,
    generator.onnx. generator.py is executed, as running it would (it is the compiler's
    own output)."""
    d = Path(path)
    rep_path = d / "report.json"
    if not rep_path.is_file():
        raise GccGanError(f"{d}: not a gcc-gan compile directory (no report.json)")
    try:
        report = json.loads(rep_path.read_text(encoding="utf-8"))
        net = report["networks"]["generator"]
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GccGanError(f"{rep_path}: malformed JSON ({e})") from None
    except (KeyError, TypeError):
        raise GccGanError(f"{d}: report.json describes no generator (compile with --net g or both)") from None
    src, st = d / "generator.py", d / "generator.safetensors"
    for f in (src, st):
        if not f.is_file():
            raise GccGanError(f"{d}: missing {f.name}")
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(st), "pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(st))
    except (SafetensorError, OSError, ValueError) as e:
        raise GccGanError(f"{st}: not a readable safetensors file ({e})") from None
    class_name = meta.get("class_name", "Generator")
    ns: dict[str, Any] = {"__name__": "gcc_gan_bench_generator"}
    try:
        exec(compile(src.read_text(encoding="utf-8"), str(src), "exec"), ns)  # noqa: S102 - compiler output
        module: nn.Module = ns[class_name]()
        module.load_state_dict(state, strict=True)
    except Exception as e:  # noqa: BLE001 - a broken or edited dir is reported, not a traceback
        raise GccGanError(f"{d}: cannot build {class_name} from generator.py + generator.safetensors "
                          f"({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    try:
        params, macs = int(net["params_reference"]), int(net["macs_before"])
        macs_after = int(net["macs_after"])
    except (KeyError, TypeError, ValueError):
        raise GccGanError(f"{rep_path}: missing params / MACs of the generator") from None
    genotype = report.get("genotype") or {}
    onnx = d / "generator.onnx"
    return Target(label=str(genotype.get("name") or d.name), source=path, module=module.eval(),
                  input_shapes=_shapes(net.get("input_shapes", {}), "input_shapes", rep_path),
                  output_shapes=_shapes(net.get("output_shapes", {}), "output_shapes", rep_path),
                  params=params, macs=macs, macs_compiled=macs_after, onnx=onnx if onnx.is_file() else None)


def disambiguate_labels(targets: list[Target], weights: list[str] | None = None,
                        width: float | None = None) -> None:
    """Rows are labelled by genotype name; where two targets share a label, those rows are
    labelled by what was typed (path or zoo:NAME, with their --weights), numbered if even
    that repeats, so every row says which target it is."""
    from collections import Counter

    def count() -> Counter[str]:
        return Counter(t.label for t in targets)

    dup = count()
    for i, t in enumerate(targets):
        if dup[t.label] > 1:
            w = f" ×{width:g}" if width is not None and t.info is not None else ""
            t.label = f"{t.source}{w}" + (f" + {weights[i]}" if weights else "")
    dup = count()
    seen: Counter[str] = Counter()
    for t in targets:
        if dup[t.label] > 1:
            seen[t.label] += 1
            t.label = f"{t.label} #{seen[t.label]}"


def resolve_source(spec: str, weights: str | os.PathLike[str] | None = None, width: float | None = None
                   ) -> tuple[Literal["compiled", "genotype"], str, str | os.PathLike[str] | None]:
    """What FILE|DIR|zoo:NAME names, for every command that takes one (bench, sample):
    ("compiled", DIR, None) for a compile directory (has report.json); ("genotype", spec,
    weights) for a genotype file or zoo entry, and for a training run directory (has
    genotype.json): its genotype.json with the run as `weights` unless others are given
    (the final EMA generator, else the newest checkpoint's)."""
    p = Path(spec)
    if spec.startswith("zoo:") or p.is_file():
        return "genotype", spec, weights
    if not p.is_dir():
        raise GccGanError(f"{spec}: no such file or directory")
    if (p / "report.json").is_file():
        if weights is not None or width is not None:
            raise GccGanError(f"{spec}: --weights and --width apply to genotypes; a compile directory "
                              "already has its weights and width")
        return "compiled", spec, None
    if (p / "genotype.json").is_file():
        return "genotype", str(p / "genotype.json"), weights if weights is not None else spec
    raise GccGanError(f"{spec}: a directory that is neither a gcc-gan compile directory (no report.json) nor a "
                      "training run (no genotype.json)")


def load_target(spec: str | Genotype, weights: str | None = None, width: float | None = None) -> Target:
    """`spec`: anything `resolve_source` takes, or a `Genotype`."""
    if isinstance(spec, Genotype):
        return load_genotype_target(spec, weights, width)
    kind, what, weights = resolve_source(spec, weights, width)
    if kind == "compiled":
        return load_dir_target(what)
    return load_genotype_target(what, weights, width, source=spec)
