"""The zoo: published generators and discriminators, addressable as `zoo:NAME` wherever a
genotype file is accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import GccGanError
from .builder import NetBuilder, op
from .encodings import adversarialnas_generator, autogan_generator
from .encodings.common import Native, sngan_discriminator
from .model import Genotype, Provenance

AUTOGAN_ARCHS = {
    # CIFAR-10 generators of AutoGAN (TAMU-VITA/AutoGAN, models/autogan_cifar10_{a,b,c}.py)
    "autogan-a": [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],
    "autogan-b": [1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 3],
    "autogan-c": [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],
}
ADVERSARIALNAS_ARCH = [[1, 1, 1, 0, 3, 3, 1], [1, 1, 0, 1, 3, 3, 3], [0, 1, 0, 3, 3, 0, 3]]
# SNGAN's ResNet generator is AutoGAN's space with BN, pre-activation, nearest, shortcuts, no skips
SNGAN_ARCH = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]


def dcgan_generator(gf: int = 64, latent: int = 128, bottom: int = 4) -> Native:
    """The DCGAN-style CIFAR generator of the SNGAN paper ("standard CNN"): linear to
    bottom×bottom×8gf, then three (BN -> ReLU -> deconv 4x4 stride 2) blocks halving the
    width, BN -> ReLU -> conv3x3 -> tanh."""
    b = NetBuilder(gf)
    z = b.latent("z", latent)
    prev = b.node("stem", width=8)
    b.edge(z, prev, op("linear", out_width=8.0 * bottom * bottom), op("reshape", size=bottom), name="l0")
    for k, w in enumerate((4, 2, 1), start=1):
        cur = b.node(f"up{k}", width=w)
        b.edge(prev, cur, op("batch_norm"), "relu", op("conv_transpose", kernel=4, stride=2, padding=1),
               name=f"up{k}")
        prev = cur
    b.node("rgb", channels=3)
    b.edge(prev, "rgb", op("batch_norm"), "relu", op("conv", kernel=3), "tanh", name="to_rgb")
    b.output("image", "rgb")
    return Native(b.build(), b.refs, {})


def dcgan_discriminator(df: int = 64, size: int = 32, sn: bool = True) -> Native:
    """The SNGAN paper's standard CNN discriminator (leaky ReLU 0.1, spectral norm)."""
    b = NetBuilder(df)
    prev = b.image("x", size)
    plan = [(3, 1, 1), (4, 2, 1), (3, 1, 2), (4, 2, 2), (3, 1, 4), (4, 2, 4), (3, 1, 8)]
    for k, (kern, stride, w) in enumerate(plan):
        cur = b.node(f"c{k}", width=w)
        b.edge(prev, cur, op("conv", kernel=kern, stride=stride, padding=1, sn=sn),
               op("leaky_relu", slope=0.1), name=f"c{k}")
        prev = cur
    b.node("logit", channels=1)
    b.edge(prev, "logit", "flatten", op("linear", sn=sn), name="l8")
    b.output("logit", "logit")
    return Native(b.build(), b.refs, {})


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    make: Callable[[], Genotype]


def _g(name: str, g: Native | None, d: Native | None, **prov: object) -> Genotype:
    return Genotype(name=name, generator=g.network if g else None, discriminator=d.network if d else None,
                    provenance=Provenance(**prov, encoding=(g or d).encoding or None))


def _autogan(name: str) -> Callable[[], Genotype]:
    def make() -> Genotype:
        return _g(name, autogan_generator(AUTOGAN_ARCHS[name]), sngan_discriminator(),
                  searcher="autogan", dataset="cifar10",
                  reference="Gong et al., AutoGAN: Neural Architecture Search for GANs, ICCV 2019",
                  notes=f"arch {AUTOGAN_ARCHS[name]}; retrained against the SNGAN ResNet discriminator")
    return make


ENTRIES: dict[str, ZooEntry] = {
    "autogan-a": ZooEntry("autogan-a", "AutoGAN CIFAR-10 top-1 generator (4.41 M params)", _autogan("autogan-a")),
    "autogan-b": ZooEntry("autogan-b", "AutoGAN CIFAR-10 generator b (all nearest, dense skips)",
                          _autogan("autogan-b")),
    "autogan-c": ZooEntry("autogan-c", "AutoGAN CIFAR-10 generator c (autogan-a with BN in cell 1)",
                          _autogan("autogan-c")),
    "adversarialnas": ZooEntry(
        "adversarialnas", "AdversarialNAS-GAN published CIFAR-10 generator (8.85 M params)",
        lambda: _g("adversarialnas", adversarialnas_generator(ADVERSARIALNAS_ARCH), sngan_discriminator(),
                   searcher="adversarial", dataset="cifar10",
                   reference="Gao et al., AdversarialNAS: Adversarial Neural Architecture Search for GANs, CVPR 2020",
                   notes=f"genotype {ADVERSARIALNAS_ARCH}; retrained against the SNGAN ResNet discriminator")),
    "sngan": ZooEntry("sngan", "SNGAN ResNet generator, CIFAR-10 settings (gf 256)",
                      lambda: _g("sngan", autogan_generator(SNGAN_ARCH), sngan_discriminator(), searcher="hand",
                                 dataset="cifar10",
                                 reference="Miyato et al., Spectral Normalization for GANs, ICLR 2018")),
    "dcgan": ZooEntry("dcgan", "DCGAN-style CIFAR generator (SNGAN paper's standard CNN)",
                      lambda: _g("dcgan", dcgan_generator(), dcgan_discriminator(), searcher="hand",
                                 dataset="cifar10", reference="Radford et al. 2016; Miyato et al. 2018")),
    "sngan-d": ZooEntry("sngan-d", "SNGAN/AutoGAN ResNet discriminator, df 128, spectral norm",
                        lambda: _g("sngan-d", None, sngan_discriminator(), searcher="hand",
                                   reference="Miyato et al. 2018; the D of AutoGAN and AdversarialNAS")),
    "dcgan-d": ZooEntry("dcgan-d", "Standard CNN discriminator (SNGAN paper), spectral norm",
                        lambda: _g("dcgan-d", None, dcgan_discriminator(), searcher="hand",
                                   reference="Miyato et al. 2018")),
}


def zoo_genotype(name: str) -> Genotype:
    try:
        return ENTRIES[name].make()
    except KeyError:
        raise GccGanError(f"no zoo entry {name!r}; available: {', '.join(ENTRIES)}") from None
