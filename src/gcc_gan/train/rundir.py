"""Weights that come from a training run, for every command that takes them (compile,
bench): the run knows the network it trained, so its own genotype and width are used.

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

from ..errors import GccGanError
from ..genotype_dsl.io import load_genotype, parse_genotype, read_json
from ..genotype_dsl.model import Genotype

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


def generator_weights_file(path: Path) -> Path:
    """The generator weights a path names: the file itself, or in a run / checkpoint
    directory the final (or newest checkpoint's EMA) generator."""
    if not path.is_dir():
        return path
    ckpt = checkpoint_dir(path)
    f = next((ckpt / n for n in CHECKPOINT_FILES["generator"] if (ckpt / n).is_file()), None)
    if f is None:
        raise GccGanError(f"{ckpt}: no {' or '.join(CHECKPOINT_FILES['generator'])} for the generator")
    return f


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


def genotype_for_weights(spec: str, weights: str | Path | None, width: float | None,
                         command: str) -> tuple[Genotype, dict, float | None]:
    """(genotype, its analysed networks, width still to apply) for `spec` used with
    `weights`: a training run's own genotype at its trained width (see `run_genotype`)
    when the weights come from one, else `spec` itself at `width`."""
    from ..genotype_dsl.analysis import analyze_genotype
    from ..genotype_dsl.io import load_and_analyze

    g, infos = load_and_analyze(spec)
    if weights is not None:
        trained = run_genotype(spec, g, Path(weights), width, command=command)
        if trained is not None:
            return trained, analyze_genotype(trained), None
    return g, infos, width
