"""Native encodings (AutoGAN arch vectors, AdversarialNAS genotype arrays, the SNGAN
discriminator): invalid vectors give clear errors; the converted structures follow the
reference implementations."""

from __future__ import annotations

from typing import Any

import pytest

from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.encodings import (adversarialnas_generator, autogan_generator, from_encoding,
                                            parse_autogan_arch)
from gcc_gan.genotype_dsl.encodings.common import sngan_discriminator
from gcc_gan.genotype_dsl.model import Edge, Network
from gcc_gan.genotype_dsl.zoo import ADVERSARIALNAS_ARCH, AUTOGAN_ARCHS, SNGAN_ARCH, zoo_genotype

A = AUTOGAN_ARCHS["autogan-a"]


def edges(net: Network, prefix: str = "") -> dict[str, Edge]:
    return {e.name: e for e in net.edges if e.name and e.name.startswith(prefix)}


def ops(e: Edge) -> list[Any]:
    return [op.model_dump() for op in e.ops]


# ---------------------------------------------------------------------------------------
# invalid vectors


@pytest.mark.parametrize("arch, message", [
    (A[:-1], r"an AutoGAN arch vector has 4 numbers for cell 1 and 5 for each further cell \(14 for 3 cells\); "
             r"got 13"),
    ([1, 0, 1], "got 3"),
    ([2, 0, 1, 1], r"AutoGAN cell 1: conv_type must be in 0..1, got 2"),
    ([1, 3, 1, 1], r"AutoGAN cell 1: norm must be in 0..2, got 3"),
    ([1, 0, 3, 1], r"AutoGAN cell 1: up must be in 0..2, got 3"),
    ([1, 0, 1, -1], r"AutoGAN cell 1: shortcut must be in 0..1, got -1"),
    ([1, 0, 1, 1, 1, 0, 0, 1, 2], r"AutoGAN cell 2: skip bitmask must be in 0..1 \(one bit per earlier cell\), "
                                  r"got 2"),
    (A[:-1] + [4], r"AutoGAN cell 3: skip bitmask must be in 0..3"),
    (["1"] * 14, "an AutoGAN arch vector must be a list of integers"),
    ([1.5] + A[1:], "an AutoGAN arch vector must be a list of integers"),
    (7, "an AutoGAN arch vector must be a list of integers, got 7"),
])
def test_invalid_autogan_vectors(arch: Any, message: str) -> None:
    with pytest.raises(GccGanError, match=message):
        autogan_generator(arch)


@pytest.mark.parametrize("kwargs, message", [
    ({"gf": 0}, "gf must be a positive integer, got 0"),
    ({"latent": -1}, "latent must be a positive integer, got -1"),
    ({"bottom": "4"}, "bottom must be a positive integer, got '4'"),
])
def test_invalid_autogan_sizes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GccGanError, match=message):
        autogan_generator(A, **kwargs)


P = ADVERSARIALNAS_ARCH


@pytest.mark.parametrize("arch, kwargs, message", [
    (P[:2], {}, r"an AdversarialNAS genotype has 3 rows \(one per Up-Cell\), got 2"),
    ([P[0], P[1], P[2][:6]], {}, r"AdversarialNAS cell 3: a row has 7 op indices, got 6"),
    ([[3, 1, 1, 0, 3, 3, 1], P[1], P[2]], {}, r"AdversarialNAS cell 1, edge 0: op index must be in 0..2 "
                                              r"\(nearest, bilinear, convT\), got 3"),
    ([P[0], [1, 1, 0, 1, 7, 3, 3], P[2]], {}, r"AdversarialNAS cell 2, edge 4: op index must be in 0..6 "
                                              r"\(none, identity, conv1x1"),
    ([P[0], P[1], [0, 1, 0, 3, 3, -1, 3]], {}, "cell 3, edge 5: op index must be in 0..6"),
    ([[1, 1, 0, 0, 3, 3, 1], P[1], P[2]], {}, r"AdversarialNAS cell 1: edges 2 and 3 are both 'none', so node n2 "
                                              r"\(the cell's skip output, which receives the skip-ins\) does not "
                                              r"exist"),
    ([P[0], [1, 1, 0, 1, 0, 0, 0], P[2]], {}, "AdversarialNAS cell 2: edges 4, 5 and 6 are all 'none', so the "
                                              "cell has no output"),
    ("abc", {}, "an AdversarialNAS genotype is a list of rows of 7 integers"),
    ([[1.5] * 7] * 3, {}, "an AdversarialNAS genotype is a list of rows of 7 integers"),
    (P, {"dataset": "imagenet"}, "dataset variant must be 'cifar10' or 'stl10', got 'imagenet'"),
    (P, {"latent": 2}, "AdversarialNAS splits the latent in 3 parts, so it needs at least 3 dimensions, got 2"),
    (P, {"gf": 0}, "gf must be a positive integer, got 0"),
])
def test_invalid_adversarialnas_arrays(arch: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GccGanError, match=message):
        adversarialnas_generator(arch, **kwargs)


@pytest.mark.parametrize("enc, message", [
    ({"format": "darts"}, "unknown native encoding format 'darts'; known: autogan, adversarialnas, sngan-d"),
    ({"arch": A}, "unknown native encoding format None"),
    ({"format": "autogan"}, "bad autogan encoding record .* missing 1 required positional argument: 'arch'"),
    ({"format": "autogan", "arch": A, "colour": 1}, "unexpected keyword argument 'colour'"),
    ({"format": "autogan", "arch": A, "gf": "wide"}, "gf must be a positive integer, got 'wide'"),
    ({"format": "sngan-d", "df": 0}, "df must be a positive integer, got 0"),
    ({"format": "autogan", "arch": A, "bottom": 2000}, r"(reshape\.size|linear\.out_width): Input should be less than or equal to"),
    ({"format": "sngan-d", "size": 5000}, "Input should be less than or equal to 4096"),
])
def test_invalid_encoding_records(enc: dict[str, Any], message: str) -> None:
    with pytest.raises(GccGanError, match=message):
        from_encoding(enc)


# ---------------------------------------------------------------------------------------
# structure


def test_parse_autogan_cells() -> None:
    assert parse_autogan_arch(A) == [[1, 0, 1, 1], [1, 0, 0, 1, 1], [1, 0, 1, 0, 3]]
    assert parse_autogan_arch([1.0, 0, 1, 1]) == [[1, 0, 1, 1]]  # integral floats (e.g. from .npy) are fine


@pytest.mark.parametrize("name", ["autogan-a", "autogan-b", "autogan-c", "adversarialnas", "sngan"])
def test_encoding_record_rebuilds_the_zoo_network(name: str) -> None:
    g = zoo_genotype(name)
    if name == "sngan":  # built from an AutoGAN vector too
        assert g.provenance.encoding == {"format": "autogan", "arch": SNGAN_ARCH, "gf": 256, "latent": 128,
                                         "bottom": 4}
    assert g.provenance.encoding is not None
    assert from_encoding(g.provenance.encoding).network == g.generator


def test_autogan_a_structure() -> None:
    net = autogan_generator(A, gf=8).network
    e = edges(net)
    # cell 1: pre-activation, no norm, nearest, shortcut; cell 2 bilinear; cell 3 nearest without shortcut
    assert ops(e["cell1.c1"]) == ["relu", "upsample", "conv"]
    assert ops(e["cell2.c1"]) == ["relu", {"op": "upsample", "mode": "bilinear"}, "conv"]
    assert ops(e["cell1.c_sc"]) == ["upsample", {"op": "conv", "kernel": 1}]
    assert "cell3.c_sc" not in e
    # skips: cell 2 <- cell 1 (mask 1); cell 3 <- cells 1 and 2 (mask 3), upsampled in the cell's mode
    assert sorted(k for k in e if "skip_in" in k) == ["cell2.skip_in0", "cell3.skip_in0", "cell3.skip_in1"]
    assert (e["cell2.skip_in0"].src, e["cell2.skip_in0"].dst) == ("cell1.h", "cell2.h")
    assert ops(e["cell2.skip_in0"]) == [{"op": "upsample", "mode": "bilinear"}, {"op": "conv", "kernel": 1}]
    assert ops(e["cell3.skip_in0"]) == [{"op": "upsample", "scale": 4}, {"op": "conv", "kernel": 1}]
    assert e["cell3.skip_in1"].src == "cell2.h"
    # head: BN -> ReLU -> conv3x3 -> tanh into 3 channels
    assert ops(e["to_rgb"]) == ["batch_norm", "relu", "conv", "tanh"]
    assert ops(e["l1"]) == [{"op": "linear", "out_width": 16.0}, {"op": "reshape", "size": 4}]


def test_autogan_b_structure() -> None:
    net = autogan_generator(AUTOGAN_ARCHS["autogan-b"], gf=8).network
    ups = [op for e in net.edges for op in e.ops if op.op == "upsample"]
    assert ups and all(op.params.mode == "nearest" for op in ups)
    e = edges(net)
    assert sorted(k for k in e if "skip_in" in k) == ["cell2.skip_in0", "cell3.skip_in0", "cell3.skip_in1"]
    assert all(f"cell{k}.c_sc" in e for k in (1, 2, 3))


def test_autogan_c_has_batch_norm_in_cell_1_only() -> None:
    net = autogan_generator(AUTOGAN_ARCHS["autogan-c"], gf=8).network
    with_bn = {e.name for e in net.edges if any(op.op == "batch_norm" for op in e.ops)}
    assert with_bn == {"cell1.c1", "cell1.c2", "to_rgb"}
    assert ops(edges(net)["cell1.c1"])[:2] == ["batch_norm", "relu"]
    # otherwise autogan-a: same edges, 2 × 2 × gf more parameters (two BNs of gf channels)
    a = analyze(autogan_generator(A, gf=8).network)
    c = analyze(net)
    assert c.params - a.params == 2 * 2 * 8
    assert [x.name for x in net.edges] == [x.name for x in autogan_generator(A, gf=8).network.edges]


def test_sngan_generator_structure() -> None:
    net = autogan_generator(SNGAN_ARCH, gf=8).network
    e = edges(net)
    assert not any("skip_in" in k for k in e)
    for k in (1, 2, 3):
        assert ops(e[f"cell{k}.c1"]) == ["batch_norm", "relu", "upsample", "conv"]
        assert ops(e[f"cell{k}.c2"]) == ["batch_norm", "relu", "conv"]
        assert f"cell{k}.c_sc" in e


def test_autogan_post_activation_and_deconv() -> None:
    # cell 1 post-activation, instance norm, deconv; cell 2 skip from cell 1 via chained deconvs
    net = autogan_generator([0, 2, 2, 1, 1, 1, 2, 0, 1], gf=4).network
    e = edges(net)
    assert ops(e["cell1.c1"]) == ["conv_transpose", "conv", "instance_norm", "relu"]
    assert ops(e["cell1.c2"]) == ["conv", "instance_norm", "relu"]
    assert ops(e["cell1.c_sc"]) == ["conv_transpose", {"op": "conv", "kernel": 1}]
    assert ops(e["cell2.c1"]) == ["batch_norm", "relu", "conv_transpose", "conv"] and "cell2.c_sc" not in e
    assert ops(e["cell2.skip_in0"]) == ["conv_transpose", {"op": "conv", "kernel": 1}]
    info = analyze(net, role="generator")
    assert info.output_shapes == {"image": (3, 16, 16)}


def test_adversarialnas_structure() -> None:
    net = adversarialnas_generator(P, gf=8).network
    e = edges(net)
    nodes = {n.name for n in net.nodes}
    # latent split 3 × 40: the stem and two maps added to the inputs of cells 2 and 3
    assert ops(e["l1"])[0] == {"op": "latent_slice", "start": 0, "stop": 40}
    assert ops(e["l2"])[0] == {"op": "latent_slice", "start": 40, "stop": 80}
    assert ops(e["l3"])[0] == {"op": "latent_slice", "start": 80, "stop": 120}
    assert (e["l2"].dst, e["l3"].dst) == ("cell1.n3", "cell2.n3")
    assert ops(e["l3"])[2] == {"op": "reshape", "size": 16}
    # up-edges: index 1 bilinear, 0 nearest, then ReLU, 1x1 conv
    assert ops(e["cell1.up0"]) == [{"op": "upsample", "mode": "bilinear"}, "relu", {"op": "conv", "kernel": 1}]
    assert ops(e["cell3.up0"]) == ["upsample", "relu", {"op": "conv", "kernel": 1}]
    # 'none' edges are absent; identity is a bare edge; convs are ReLU -> conv
    assert "cell1.c1" not in e and ops(e["cell1.c4"]) == ["identity"]
    assert ops(e["cell1.c2"]) == ["relu", "conv"]
    assert "cell2.c0" not in e and ops(e["cell2.c1"]) == ["identity"] and ops(e["cell2.c4"]) == ["relu", "conv"]
    # cell 3: n0 feeds only n3 (edge 4: conv3x3); n2 only from n1
    assert ops(e["cell3.c2"]) == ["relu", "conv"] and "cell3.c0" not in e and "cell3.c3" not in e
    # cross-cell skip-ins into n2: cell 2 <- cell 1 bilinear; cell 3 <- cells 1, 2 nearest
    assert (e["cell2.skip_in0"].src, e["cell2.skip_in0"].dst) == ("cell1.n2", "cell2.n2")
    assert ops(e["cell2.skip_in0"])[0] == {"op": "upsample", "mode": "bilinear"}
    assert ops(e["cell3.skip_in0"])[0] == {"op": "upsample", "scale": 4}
    assert ops(e["cell3.skip_in1"])[0] == "upsample" and e["cell3.skip_in1"].src == "cell2.n2"
    assert {"cell1.n0", "cell1.n1", "cell1.n2", "cell1.n3"} <= nodes


def test_adversarialnas_unused_up_node_and_convT() -> None:
    # n0 unused (edges 2 and 4 none) -> no node; up-edge 2 is the depthwise transposed conv
    arch = [[0, 2, 0, 3, 0, 3, 3], P[1], P[2]]
    net = adversarialnas_generator(arch, gf=4).network
    e = edges(net)
    assert "cell1.n0" not in {n.name for n in net.nodes} and "cell1.up0" not in e
    assert ops(e["cell1.up1"]) == ["relu", {"op": "conv_transpose", "kernel": 3, "padding": 1, "output_padding": 1,
                                            "depthwise": True, "bias": False}, {"op": "conv", "kernel": 1,
                                                                               "bias": False}]
    assert analyze(net, role="generator").output_shapes == {"image": (3, 32, 32)}


def test_adversarialnas_stl10_splits_latent_in_two() -> None:
    net = adversarialnas_generator(P, gf=4, latent=128, bottom=6, dataset="stl10").network
    e = edges(net)
    assert ops(e["l1"])[0] == {"op": "latent_slice", "start": 0, "stop": 64}
    assert ops(e["l2"])[0] == {"op": "latent_slice", "start": 64, "stop": 128}
    assert "l3" not in e
    assert analyze(net).output_shapes == {"image": (3, 48, 48)}


def test_sngan_discriminator_structure() -> None:
    net = sngan_discriminator(df=8, size=32).network
    e = edges(net)
    convs = [op for x in net.edges for op in x.ops if op.op in ("conv", "linear")]
    assert convs and all(op.params.sn for op in convs)
    assert ops(e["block1.c_sc"])[0] == "avg_pool"  # optimized block: pool then conv
    assert ops(e["block2.c_sc"])[-1] == "avg_pool"  # later block: conv then pool
    assert ops(e["block3.sc"]) == ["identity"]
    assert ops(e["l5"]) == ["relu", "global_sum_pool", {"op": "linear", "bias": False, "sn": True}]
    info = analyze(net, role="discriminator")
    assert info.shapes["block2.out"] == (8, 8, 8) and info.shapes["block4.out"] == (8, 8, 8)
    assert not any(op.params.sn for x in sngan_discriminator(df=8, sn=False).network.edges for op in x.ops
                   if op.op in ("conv", "linear"))
