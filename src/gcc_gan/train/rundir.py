"""Weights for every command and API function that takes them (compile, bench, sample):
canonical-layout `.safetensors` files, and weights that come from a training run, which
knows the network it trained, so its own genotype and width are used.

A run (`gcc-gan train -o RUN`) holds `config.json` and `genotype.json`, the latter AT THE
TRAINED WIDTH (e.g. ×0.25 with `--preset tiny`). Given `--weights RUN` (or a file or
checkpoint inside it) together with the genotype the run was started from, the commands
use RUN/genotype.json; given a different network, they say which command works instead of
failing later on a shape mismatch.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import GccGanError
from ..genotype_dsl.io import load_genotype, parse_genotype, read_json
from ..genotype_dsl.model import Genotype

if TYPE_CHECKING:  # torch is imported where tensors are read: the callers' checks stay fast
    from torch import Tensor

#: files of a training checkpoint directory (gcc-gan train), in the canonical layout
CHECKPOINT_FILES = {"generator": ("generator_ema.safetensors", "generator.safetensors"),
                    "discriminator": ("discriminator.safetensors",)}


def checkpoint_dir(path: Path) -> Path:
    """`path` itself when it holds weight files, else the newest `step-N` checkpoint in it
    or in its `checkpoints/` (a training run directory)."""
    from ..checkpoints import MANIFEST, DamagedCheckpoint, verify

    names = {n for files in CHECKPOINT_FILES.values() for n in files}
    for d in (path, path / "checkpoints"):
        if any((d / n).is_file() for n in names):
            if (d / MANIFEST).is_file():  # a checkpoint given directly: its checksums must hold
                try:
                    verify(d)
                except DamagedCheckpoint as e:
                    raise GccGanError(f"checkpoint {d} is damaged: {e}") from None
            return d
        steps = [(int(m.group(1)), p) for p in (d.iterdir() if d.is_dir() else [])
                 if (m := re.fullmatch(r"step-(\d+)", p.name)) and p.is_dir()
                 and any((p / n).is_file() for n in names)]
        for _, ck in sorted(steps, reverse=True):  # the newest intact one, as --resume picks
            try:
                if (ck / MANIFEST).is_file():  # (one without, from an older gcc-gan, cannot be checked)
                    verify(ck)
                return ck
            except DamagedCheckpoint as e:
                print(f"warning: checkpoint {ck} is damaged ({e}); using the previous one", file=sys.stderr)
        if steps:
            raise GccGanError(f"{d}: no intact checkpoint (every step-N fails its checksums)")
    raise GccGanError(f"{path}: a directory without weights; expected {', '.join(sorted(names))} "
                      f"(a training checkpoint) or step-N/ checkpoints inside it")


def role_weights_file(ckpt: Path, role: str) -> Path:
    """The weights file of `role` ("generator": the EMA one when there is one) in the
    checkpoint directory `ckpt` (see `checkpoint_dir`)."""
    f = next((ckpt / n for n in CHECKPOINT_FILES[role] if (ckpt / n).is_file()), None)
    if f is None:
        raise GccGanError(f"{ckpt}: no {' or '.join(CHECKPOINT_FILES[role])} for the {role}")
    return f


def generator_weights_file(path: Path) -> Path:
    """The generator weights a path names: the file itself, or in a run / checkpoint
    directory the final (or newest checkpoint's EMA) generator."""
    if not path.is_dir():
        return path
    return role_weights_file(checkpoint_dir(path), "generator")


def load_weights_file(path: Path) -> dict[str, Tensor]:
    """A safetensors file of tensors; every failure is a readable GccGanError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.exists():
        raise GccGanError(f"{path}: no such weights file")
    if not path.is_file():
        raise GccGanError(f"{path}: is not a file; expected a .safetensors weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise GccGanError(f"{path}: not a readable safetensors file ({str(e).strip() or type(e).__name__})") from None


def weights_for(role: str, weights: dict[str, Tensor], roles: tuple[str, ...], path: Path) -> dict[str, Tensor]:
    """The canonical-layout tensors of one network: keys prefixed `generator.` /
    `discriminator.` (one file for both) or, for a single network, unprefixed."""
    prefix = f"{role}."
    mine = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    if mine:
        return mine
    if len(roles) == 1 and not any(k.startswith(("generator.", "discriminator.")) for k in weights):
        return weights
    raise GccGanError(f"{path}: no tensors for the {role} (with --net both, keys must start with "
                      f"'generator.' / 'discriminator.')")


def weights_by_role(path: Path, roles: tuple[str, ...]) -> dict[str, dict[str, Tensor]]:
    """Canonical-layout weights per network from a .safetensors file (see `weights_for`)
    or a training checkpoint / run directory (the EMA generator when there is one)."""
    if not path.is_dir():
        given = load_weights_file(path)
        return {role: weights_for(role, given, roles, path) for role in roles}
    ckpt = checkpoint_dir(path)
    return {role: load_weights_file(role_weights_file(ckpt, role)) for role in roles}


def find_run(weights: Path) -> Path | None:
    """The training run `weights` belongs to: the run directory itself, its checkpoints/
    or a step-N/ in it, or a weights file in any of those; None if none."""
    start = weights if weights.is_dir() else weights.parent
    for d in (start, start.parent, start.parent.parent):
        if (d / "config.json").is_file() and (d / "genotype.json").is_file():
            return d
    return None


def run_genotype(spec: str, given: Genotype, weights: Path, width: float | None,
                 command: str = "gcc-gan compile") -> Genotype | None:
    """The genotype to pair with `weights` when they come from a training run: the run's
    own genotype.json (trained width) when `given` (`spec`, at `width` if given, else at the
    run's width) is the network the run trained; None when `weights` are not from a run.
    Raises a GccGanError naming the command that works when the networks differ."""
    run = find_run(weights)
    if run is None:
        return None
    try:
        trained = parse_genotype(read_json(run / "genotype.json"), str(run / "genotype.json"))
        conf = json.loads((run / "config.json").read_text(encoding="utf-8"))
        run_width = float(conf["train"]["width"])
        source = str(conf.get("sources", {}).get("genotype", "?"))
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
        raise GccGanError(f"--weights {weights}: {run}/config.json is damaged ({e})") from None
    if given.generator is None or trained.generator is None:
        return None
    mult = width if width is not None else run_width
    if given.generator == trained.generator or given.generator.scaled(mult) == trained.generator:
        return trained
    at = f" at --width {width:g}" if width is not None else ""
    works = f"{command} {shlex.quote(str(run / 'genotype.json'))} --weights {shlex.quote(str(weights))}"
    raise GccGanError(f"--weights {weights}: the run {run} trained {source} at width ×{run_width:g}; {spec}{at} "
                      f"is a different network. Use the run's own genotype: {works}")


def load_run_genotype(spec: str, weights: Path, width: float | None,
                      command: str = "gcc-gan compile") -> Genotype | None:
    """`run_genotype` for a genotype named by `spec` (FILE or zoo:NAME)."""
    if find_run(weights) is None:
        return None
    return run_genotype(spec, load_genotype(spec), weights, width, command)


def spec_name(spec: str | Genotype) -> str:
    """How messages name a genotype: as the user typed it, or a Genotype by its name."""
    return spec if isinstance(spec, str) else f"genotype {spec.name or spec.digest()[:12]}"


def genotype_for_weights(spec: str | Genotype, weights: str | Path | None, width: float | None,
                         command: str, on_run: Callable[[Path, Genotype], None] | None = None
                         ) -> tuple[Genotype, dict, float | None]:
    """(genotype, its analysed networks, width still to apply) for `spec` (FILE, zoo:NAME
    or a Genotype) used with `weights`: a training run's own genotype at its trained width
    (see `run_genotype`) when the weights come from one, else `spec` itself at `width`.
    The one resolution of compile (CLI and API), bench and sample; `on_run(run, genotype)`
    is told when the run's genotype replaces a different `spec`."""
    from ..genotype_dsl.analysis import analyze_genotype
    from ..genotype_dsl.io import load_and_analyze

    if width is not None and not width > 0:
        raise GccGanError(f"--width must be a positive multiplier, not {width:g}")
    g, infos = (spec, analyze_genotype(spec)) if isinstance(spec, Genotype) else load_and_analyze(spec)
    if weights is not None:
        trained = run_genotype(spec_name(spec), g, Path(weights), width, command=command)
        if trained is not None:
            run = find_run(Path(weights))
            if on_run is not None and run is not None and trained != g:
                on_run(run, trained)
            return trained, analyze_genotype(trained), None
    return g, infos, width
