"""The teacher: a genotype with trained weights — a `gcc-gan train` run, a searcher's weights
or an imported official checkpoint — and, when the weights hold one, its discriminator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import GccGanError
from ..genotype_dsl.analysis import analyze
from ..genotype_dsl.io import load_genotype
from ..genotype_dsl.model import Genotype, LatentInput, Network


@dataclass
class TeacherSpec:
    genotype: Genotype  # the generator at the width the weights have
    weights: Path
    source: str  # as the user named it


def _is_run(path: Path) -> bool:
    return path.is_dir() and (path / "genotype.json").is_file()


def resolve_teacher(spec: str, weights: Path | None, width: float | None) -> TeacherSpec:
    """The teacher's genotype (at the trained width) and weights; no torch needed.

    `spec` is a genotype FILE, `zoo:NAME`, or a directory holding `genotype.json` (a training
    run: its weights are the run's own unless --weights names others)."""
    from ..train.rundir import genotype_for_weights

    path = Path(spec)
    if not spec.startswith("zoo:") and path.is_dir():
        if not _is_run(path):
            raise GccGanError(f"{spec}: a directory without genotype.json; expected a training run, a genotype "
                              "file or zoo:NAME")
        weights = weights if weights is not None else path
        spec = str(path / "genotype.json")
    if weights is None:
        raise GccGanError(f"{spec}: the teacher needs trained weights: add --weights W (a .safetensors file, a "
                          "training run or a checkpoint), or give a training run directory")
    if not weights.exists():
        raise GccGanError(f"--weights {weights}: no such file or directory")
    g, _, rest = genotype_for_weights(spec, weights, width, "gcc-gan compress")
    if rest is not None:
        if not rest > 0:
            raise GccGanError(f"--width must be a positive multiplier, not {rest:g}")
        g = g.model_copy(update={"generator": g.generator.scaled(rest) if g.generator else None,
                                 "discriminator": g.discriminator.scaled(rest) if g.discriminator else None})
    if g.generator is None:
        raise GccGanError(f"{spec}: has no generator to compress")
    check_generator(g.generator, spec)
    return TeacherSpec(g, weights, spec)


def check_generator(net: Network, spec: str) -> tuple[int, int]:
    """(latent size, image size) of a generator compress can distil: one latent input, one
    square RGB image output."""
    info = analyze(net, "generator", role="generator")
    lat = [i for i in net.inputs if isinstance(i, LatentInput)]
    outs = list(info.output_shapes.values())
    if len(net.inputs) != 1 or len(lat) != 1 or len(outs) != 1 or len(outs[0]) != 3 or outs[0][1] != outs[0][2]:
        raise GccGanError(f"{spec}: compress needs a generator with one latent input and one square image output")
    return lat[0].dim, outs[0][1]


def load_teacher_weights(t: TeacherSpec) -> tuple[dict, dict | None, str | None]:
    """(generator tensors, discriminator tensors or None, why there is no discriminator)."""
    from ..train.rundir import weights_by_role

    g = weights_by_role(t.weights, ("generator",))["generator"]
    if t.genotype.discriminator is None:
        return g, None, "the genotype has no discriminator"
    try:
        return g, weights_by_role(t.weights, ("generator", "discriminator"))["discriminator"], None
    except GccGanError as e:
        why = str(e)
    if t.weights.is_dir() and (t.weights / "checkpoints").is_dir():  # a run: its newest checkpoint holds D
        try:
            return g, weights_by_role(t.weights / "checkpoints", ("discriminator",))["discriminator"], None
        except GccGanError as e:
            why = str(e)
    return g, None, why


def default_discriminator(t: TeacherSpec, size: int) -> Network:
    """The discriminator a from-scratch student trains against: the teacher genotype's, else
    the SNGAN ResNet D at the teacher generator's relative width; input at `size`."""
    net = t.genotype.discriminator
    if net is None:
        d = load_genotype("zoo:sngan-d").discriminator
        assert d is not None and t.genotype.generator is not None
        net = d.scaled(t.genotype.generator.base_width / 256)
    inp = net.inputs[0]
    return net.model_copy(update={"inputs": [inp.model_copy(update={"size": size, "channels": 3})]})
