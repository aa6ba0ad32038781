"""Pieces shared by the published architectures: the linear stem, the to-RGB head, and
the SNGAN/AutoGAN ResNet discriminator both searched generators are retrained against."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from ...errors import GccGanError
from ..builder import NetBuilder, op
from ..model import Network, Output
from ..prune import prune_dead


Refs = dict[str, tuple[str, int]]


@dataclass(frozen=True)
class Layout:
    """Another checkpoint layout of the same network (e.g. AutoGAN's search-code module
    names): reference module path -> (edge name, op index), and the key prefixes the
    official module holds but never computes for this architecture (ignored on import)."""

    refs: Refs
    spare: tuple[str, ...] = ()


@dataclass(frozen=True)
class Native:
    """A network converted from a native encoding, with reference module paths."""

    network: Network
    refs: Refs
    #: how to rebuild it: {"format": ..., **converter keyword arguments}
    encoding: dict[str, Any] = field(default_factory=dict)
    #: the network as the official code computes it, when that is more than `network`:
    #: layers whose results are never used (kept by the official code, pruned here), each
    #: such node an extra output so that it can be analysed and counted
    official: Network | None = None
    #: other checkpoint layouts by name (the default one is `refs`)
    layouts: dict[str, Layout] = field(default_factory=dict)


def pruned(net: Network) -> tuple[Network, Network | None]:
    """(`net` without dead computation, the official network with every computed layer)
    for a network built the way the official code builds it; the second is None when
    nothing is dead."""
    live = prune_dead(net)
    if live is net:
        return net, None
    names = {n.name for n in live.nodes}
    extra = [Output(name=f"unused.{n.name}", node=n.name) for n in net.nodes if n.name not in names]
    return live, net.model_copy(update={"outputs": [*net.outputs, *extra]})


def as_ints(values: Any, what: str) -> list[int]:
    """`values` as a list of integers (integral floats accepted); a GccGanError naming
    `what` for anything else."""
    try:
        out = [int(v) for v in values]
        ok = all(not isinstance(v, (str, bytes)) and int(v) == v for v in values)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise GccGanError(f"{what} must be a list of integers, got {values!r}")
    return out


def check_sizes(**sizes: Any) -> None:
    """Widths, latent and image sizes must be positive integers (readable error otherwise)."""
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise GccGanError(f"{name} must be a positive integer, got {v!r}")


def linear_stem(b: NetBuilder, z: str, dst: str, bottom: int, name: str,
                latent_slice: tuple[int, int] | None = None) -> None:
    """z [-> slice] -> linear -> view(C, bottom, bottom) into `dst` (width 1)."""
    ops = [op("latent_slice", start=latent_slice[0], stop=latent_slice[1])] if latent_slice else []
    j = len(ops)
    ops += [op("linear", out_width=float(bottom * bottom)), op("reshape", size=bottom)]
    b.edge(z, dst, *ops, name=name, refs={j: name})


def to_rgb(b: NetBuilder, src: str, dst: str = "rgb") -> None:
    """BN -> ReLU -> conv3x3 -> tanh, as `to_rgb` in AutoGAN and AdversarialNAS."""
    b.node(dst, channels=3)
    b.edge(src, dst, op("batch_norm"), "relu", op("conv", kernel=3), "tanh",
           name="to_rgb", refs={0: "to_rgb.0", 2: "to_rgb.2"})
    b.output("image", dst)


def sngan_discriminator(df: int = 128, size: int = 32, sn: bool = True) -> Native:
    """The SNGAN-style ResNet discriminator (AutoGAN's D): an optimized first block and a
    second block that downsample, two blocks at that resolution, ReLU, global sum pool,
    linear without bias; spectral norm on every conv/linear."""
    check_sizes(df=df, size=size)
    b = NetBuilder(df)
    x = b.image("x", size)

    def conv(k: int) -> object:
        return op("conv", kernel=k, sn=sn)

    pool = op("avg_pool", kernel=2)
    # block1 (optimized): c1 -> relu -> c2 -> pool, + c_sc(pool(x))
    b.node("block1.h", width=1, cell="block1")
    b.edge(x, "block1.h", conv(3), name="block1.c1", refs={0: "block1.c1"})
    b.node("block1.out", width=1, cell="block1")
    b.edge("block1.h", "block1.out", "relu", conv(3), pool, name="block1.c2", refs={1: "block1.c2"})
    b.edge(x, "block1.out", pool, conv(1), name="block1.c_sc", refs={1: "block1.c_sc"})
    prev = "block1.out"
    for k, down in ((2, True), (3, False), (4, False)):
        blk = f"block{k}"
        b.node(f"{blk}.h", width=1, cell=blk)
        b.edge(prev, f"{blk}.h", "relu", conv(3), name=f"{blk}.c1", refs={1: f"{blk}.c1"})
        b.node(f"{blk}.out", width=1, cell=blk)
        b.edge(f"{blk}.h", f"{blk}.out", "relu", conv(3), *([pool] if down else []),
               name=f"{blk}.c2", refs={1: f"{blk}.c2"})
        if down:  # learnable shortcut: c_sc then pool
            b.edge(prev, f"{blk}.out", conv(1), pool, name=f"{blk}.c_sc", refs={0: f"{blk}.c_sc"})
        else:
            b.edge(prev, f"{blk}.out", "identity", name=f"{blk}.sc")
        prev = f"{blk}.out"
    b.node("logit", channels=1)
    b.edge(prev, "logit", "relu", "global_sum_pool", op("linear", bias=False, sn=sn),
           name="l5", refs={2: "l5"})
    b.output("logit", "logit")
    return Native(b.build(), b.refs, {"format": "sngan-d", "df": df, "size": size, "sn": sn})
