"""Checkpoints in every official layout and pickle flavour, built here from the official
module structures (`official_nets.py`, random weights), imported and checked against the
official outputs: through the interpreter for the sweep, through compile + ONNX for a
handful. Also the property test over every genotype / arch vector the official
encodings allow (a few dozen in CI, a few hundred with `-m slow`)."""

from __future__ import annotations

import json
import random
import resource
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from conftest import cli_flat as cli
import torch
from official_nets import (AdversarialNASGen, AutoGANModels, AutoGANSearch, Discriminator, randomize,
                           save_checkpoint, training_checkpoint)
from safetensors.torch import load_file, save_file

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.errors import GccGanError
from gcc_gan.export.weights import import_checkpoint, read_checkpoint
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.encodings import adversarialnas_generator, autogan_generator
from gcc_gan.genotype_dsl.encodings.common import Native, sngan_discriminator
from gcc_gan.genotype_dsl.model import Genotype, Provenance

pytestmark = pytest.mark.usefixtures("one_thread")

GF, LATENT_A, LATENT_N = 8, 16, 12


def genotype_file(tmp: Path, g: Native, d: Native | None = None, name: str = "g.json") -> Path:
    gen = Genotype(name="t", generator=g.network, discriminator=d.network if d else None,
                   provenance=Provenance(encoding=g.encoding))
    p = tmp / name
    p.write_text(gen.to_json())
    return p


def z_for(latent: int, n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))


def official(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def run_imported(net: Any, weights: dict[str, torch.Tensor], x: torch.Tensor, role: str = "generator") -> torch.Tensor:
    model = Interpreter(analyze(net, role=role))
    model.load_state_dict(weights)
    with torch.no_grad():
        return model.eval()(x)


def do_import(tmp: Path, method: str, ckpt: Path, genotype: Path, net: str = "g", **kw: Any) -> tuple[dict, list]:
    out = tmp / f"w_{net}.safetensors"
    res = import_checkpoint(method, ckpt, genotype, out, net=net, **kw)
    return load_file(str(out)), res


def compiled_outputs(out: Path, x: torch.Tensor, role: str = "generator") -> tuple[torch.Tensor, torch.Tensor]:
    """The compiled network's outputs for `x` from generator.py + .safetensors and from ONNX."""
    cls = {"generator": "Generator", "discriminator": "Discriminator"}[role]
    ns: dict[str, Any] = {}
    exec((out / f"{role}.py").read_text(), ns)  # noqa: S102 - the artifact under test
    m = ns[cls]()
    m.load_state_dict(load_file(str(out / f"{role}.safetensors")))
    with torch.no_grad():
        y = m.eval()(x)
    sess = ort.InferenceSession(str(out / f"{role}.onnx"), providers=["CPUExecutionProvider"])
    return y, torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])


# ---------------------------------------------------------------------------------------
# pickle flavours


@pytest.mark.parametrize("legacy", [False, True])
def test_numpy1_pickles_load_in_zip_and_legacy_format(tmp_path: Path, legacy: bool) -> None:
    """numpy 1.x names its scalars `numpy.core.multiarray.scalar`; the official checkpoints
    hold `best_fid` as one. The file really names numpy 1.x's module (not numpy 2's)."""
    p = save_checkpoint({"best_fid": np.float64(12.5), "fids": np.array([3.0, 2.0]), "w": torch.ones(2)},
                        tmp_path / "c.pth", legacy=legacy)
    raw = p.read_bytes()
    if not legacy:
        z = zipfile.ZipFile(p)
        raw = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    assert b"numpy.core.multiarray\nscalar\n" in raw and b"numpy._core" not in raw
    obj = read_checkpoint(p)
    assert obj["best_fid"] == 12.5 and obj["fids"].tolist() == [3.0, 2.0]


def test_numpy1_pickles_still_refuse_other_objects(tmp_path: Path) -> None:
    import datetime

    p = save_checkpoint({"best_fid": np.float64(1.0), "when": datetime.date(2019, 8, 2)}, tmp_path / "c.pth")
    with pytest.raises(GccGanError, match="holds pickled Python objects that are not tensors: datetime.date"):
        read_checkpoint(p)


# ---------------------------------------------------------------------------------------
# AutoGAN: models/ and models_search/ (train_derived.py) layouts

SEARCH_ARCHS = [  # every field value, in both block orders, with every skip mask
    [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],  # autogan-a
    [0, 1, 2, 1, 1, 2, 2, 0, 1, 0, 0, 2, 1, 3],  # transposed conv everywhere, post-activation, x4 skips
    [1, 2, 2, 0, 0, 1, 0, 1, 0, 1, 1, 2, 0, 2],  # deconv skip x4 only, instance norm
    [0, 0, 0, 0, 1, 1, 2, 1, 1, 0, 2, 0, 1, 1],  # mixed modes, skip x2 from cell 2
    [1, 1, 1, 1, 0, 2, 1, 0, 0, 1, 1, 2, 1, 0],  # no skips
]


@pytest.mark.parametrize("arch", SEARCH_ARCHS, ids=lambda a: "".join(map(str, a)))
def test_autogan_search_layout(tmp_path: Path, arch: list[int]) -> None:
    ref = randomize(AutoGANSearch(arch, GF, LATENT_A), seed=sum(arch))
    z = z_for(LATENT_A)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "c.pth", legacy=arch[2] == 2)
    native = autogan_generator(arch, gf=32, latent=LATENT_A)
    w, (res,) = do_import(tmp_path, "autogan", ckpt, genotype_file(tmp_path, native))
    assert res.layout == "search" and res.base_width == GF and res.width_arg == "0.25"
    assert any("does not select" in n for n in res.notes)
    got = run_imported(autogan_generator(arch, gf=GF, latent=LATENT_A).network, w, z)
    assert (got - official(ref, z)).abs().max() <= 1e-4


MODELS_ARCHS = [  # what the hand-written cells express: pre-activation, nearest/bilinear, dense skips
    [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],  # autogan-a
    [1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 3],  # autogan-b
    [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3],  # autogan-c
    [1, 2, 0, 0, 1, 1, 1, 0, 0, 1, 2, 0, 1, 0],
]


@pytest.mark.parametrize("arch", MODELS_ARCHS, ids=lambda a: "".join(map(str, a)))
def test_autogan_models_layout(tmp_path: Path, arch: list[int]) -> None:
    ref = randomize(AutoGANModels(arch, GF, LATENT_A), seed=sum(arch))
    z = z_for(LATENT_A)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "c.pth")
    native = autogan_generator(arch, gf=GF, latent=LATENT_A)
    w, (res,) = do_import(tmp_path, "autogan", ckpt, genotype_file(tmp_path, native))
    assert res.layout == "default" and res.notes == ()
    assert (run_imported(native.network, w, z) - official(ref, z)).abs().max() <= 1e-4


def test_autogan_stl10_settings(tmp_path: Path) -> None:
    """The published STL-10 setting: bottom 6 (48×48), search-code layout."""
    arch = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]
    ref = randomize(AutoGANSearch(arch, GF, LATENT_A, bottom=6), seed=1)
    z = z_for(LATENT_A, n=2)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "c.pth")
    native = autogan_generator(arch, gf=256, latent=LATENT_A, bottom=6)
    w, (res,) = do_import(tmp_path, "autogan", ckpt, genotype_file(tmp_path, native))
    assert res.width_arg == "0.03125"
    want = official(ref, z)
    assert want.shape[-1] == 48
    assert (run_imported(autogan_generator(arch, gf=GF, latent=LATENT_A, bottom=6).network, w, z) - want
            ).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------
# AdversarialNAS: dead n2, computed-but-unused up-edges, STL-10

DEAD_N2 = [[1, 1, 1, 0, 3, 3, 1], [1, 1, 0, 1, 3, 3, 3], [1, 1, 2, 5, 3, 6, 0]]  # cell 3's n2 -> n3 is none
UNUSED_UP = [[1, 1, 1, 0, 3, 0, 1], [2, 0, 0, 1, 3, 3, 3], [0, 1, 0, 3, 3, 0, 3]]  # cell 1's n1 read by nothing


def test_adversarialnas_computed_but_unused_counts() -> None:
    """The official counts include layers computed and dropped (−4,160 params, −266,240
    MACs at gf 64 for cell 1's unused up-edge); the executed network omits them."""
    n = adversarialnas_generator(UNUSED_UP, gf=64)
    assert n.official is not None
    ex, off = analyze(n.network), analyze(n.official)
    assert (off.params - ex.params, off.macs - ex.macs) == (4160, 266240)
    d = adversarialnas_generator(DEAD_N2, gf=64)
    assert "cell3.n2" not in {x.name for x in d.network.nodes}
    assert "cell3.n2" in {x.name for x in d.official.nodes}


@pytest.mark.parametrize("rows", [DEAD_N2, UNUSED_UP], ids=["dead-n2", "unused-up"])
def test_adversarialnas_official_checkpoint(tmp_path: Path, rows: list[list[int]]) -> None:
    ref = randomize(AdversarialNASGen(rows, GF, LATENT_N), seed=3)
    z = z_for(LATENT_N)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "c.pth", legacy=rows is DEAD_N2)
    native = adversarialnas_generator(rows, gf=GF, latent=LATENT_N)
    w, (res,) = do_import(tmp_path, "adversarialnas", ckpt, genotype_file(tmp_path, native))
    assert any("computes but never uses" in n for n in res.notes), res.notes
    assert (run_imported(native.network, w, z) - official(ref, z)).abs().max() <= 1e-4


def test_adversarialnas_stl10_settings(tmp_path: Path) -> None:
    """The published STL-10 setting: gf 270, latent split in two, bottom 6 (48×48)."""
    rows = [[1, 1, 1, 0, 3, 3, 1], [1, 1, 0, 1, 3, 3, 3], [0, 1, 0, 3, 3, 0, 3]]
    ref = randomize(AdversarialNASGen(rows, 9, LATENT_N, bottom=6, dataset="stl10"), seed=4)
    z = z_for(LATENT_N, n=2)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "c.pth")
    native = adversarialnas_generator(rows, gf=270, latent=LATENT_N, bottom=6, dataset="stl10")
    w, (res,) = do_import(tmp_path, "adversarialnas", ckpt, genotype_file(tmp_path, native))
    assert res.base_width == 9 and round(float(res.width_arg) * 270) == 9
    small = adversarialnas_generator(rows, gf=9, latent=LATENT_N, bottom=6, dataset="stl10")
    want = official(ref, z)
    assert want.shape[-1] == 48
    assert (run_imported(small.network, w, z) - want).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------
# discriminators (dis_state_dict, spectral norm weight_orig / weight_u / weight_v)


def official_d(seed: int = 5, df: int = GF, sn: bool = True) -> Discriminator:
    d = randomize(Discriminator(df, sn=sn), seed)
    if sn:  # a few training-mode forwards: u / v as training leaves them (not converged)
        d.train()
        with torch.no_grad():
            for _ in range(2):
                d(torch.randn(2, 3, 32, 32))
    return d.eval()


def test_discriminator_import(tmp_path: Path) -> None:
    d = official_d()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ckpt = save_checkpoint(training_checkpoint(dis=d), tmp_path / "c.pth")
    gen = genotype_file(tmp_path, autogan_generator([1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]), sngan_discriminator())
    w, (res,) = do_import(tmp_path, "autogan", ckpt, gen, net="d")
    assert res.role == "discriminator" and res.base_width == GF and res.width_arg == "0.0625" and res.notes == ()
    got = run_imported(sngan_discriminator(df=GF).network, w, x, "discriminator")
    assert (got - official(d, x)).abs().max() <= 1e-4


def test_spectral_norm_without_u_v_runs_the_power_iteration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """weight_orig without weight_u / weight_v: import (and compile given such weights)
    runs the power iteration to convergence instead of keeping random vectors."""
    d = official_d()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    sd = {k: v for k, v in d.state_dict().items() if not k.endswith(("weight_u", "weight_v"))}
    ckpt = save_checkpoint({"dis_state_dict": sd}, tmp_path / "c.pth")
    gen = genotype_file(tmp_path, autogan_generator([1, 0, 1, 1]), sngan_discriminator())
    w, (res,) = do_import(tmp_path, "autogan", ckpt, gen, net="d")
    assert any("ran the power iteration to convergence" in n for n in res.notes), res.notes
    # the exact spectral norm: every layer's weight divided by its largest singular value
    exact = official_d()
    with torch.no_grad():
        for m in exact.modules():
            if hasattr(m, "weight_orig"):
                mat = m.weight_orig.flatten(1).double()
                u, _, vh = torch.linalg.svd(mat, full_matrices=False)
                m.weight_u.copy_(u[:, 0].float())
                m.weight_v.copy_(vh[0].float())
    want = official(exact, x)
    got = run_imported(sngan_discriminator(df=GF).network, w, x, "discriminator")
    assert (got - want).abs().max() <= 1e-4 * max(1.0, want.abs().max().item())
    # compile given canonical weights without the vectors: the same logits, not 1e14
    canon = {k: v for k, v in w.items() if not k.endswith(("._u", "._v"))}
    save_file(canon, str(tmp_path / "no_uv.safetensors"))
    code, _, err = cli(capsys, "compile", gen, "--net", "d", "--width", "0.0625", "--weights",
                       tmp_path / "no_uv.safetensors", "-o", tmp_path / "out", "--no-verify")
    assert code == 0, err
    y, y_onnx = compiled_outputs(tmp_path / "out", x, "discriminator")
    assert (y - want).abs().max() <= 1e-4 * max(1.0, want.abs().max().item())
    assert (y_onnx - want).abs().max() <= 1e-4 * max(1.0, want.abs().max().item())


def test_plain_weights_into_a_spectral_norm_layer_are_refused(tmp_path: Path) -> None:
    d = official_d(sn=False)
    ckpt = save_checkpoint({"dis_state_dict": d.state_dict()}, tmp_path / "c.pth")
    gen = genotype_file(tmp_path, autogan_generator([1, 0, 1, 1]), sngan_discriminator())
    with pytest.raises(GccGanError, match=r"block1.c1.weight is a plain weight, but the genotype's layer has spectral"):
        do_import(tmp_path, "autogan", ckpt, gen, net="d")
    # into a discriminator without spectral norm it imports
    gen2 = genotype_file(tmp_path, autogan_generator([1, 0, 1, 1]), sngan_discriminator(sn=False), "g2.json")
    x = torch.randn(2, 3, 32, 32)
    w, _ = do_import(tmp_path, "autogan", ckpt, gen2, net="d")
    got = run_imported(sngan_discriminator(df=GF, sn=False).network, w, x, "discriminator")
    assert (got - official(d, x)).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------
# through compile and ONNX: a handful of whole checkpoints


@pytest.mark.parametrize("case", ["autogan-search-deconv", "autogan-models", "adversarialnas-both"])
def test_import_compile_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    d = None
    if case == "autogan-search-deconv":
        arch, method = SEARCH_ARCHS[1], "autogan"
        ref: torch.nn.Module = randomize(AutoGANSearch(arch, GF, LATENT_A), seed=7)
        native, latent = autogan_generator(arch, gf=256, latent=LATENT_A), LATENT_A
    elif case == "autogan-models":
        arch, method = MODELS_ARCHS[3], "autogan"
        ref = randomize(AutoGANModels(arch, GF, LATENT_A), seed=8)
        native, latent = autogan_generator(arch, gf=256, latent=LATENT_A), LATENT_A
    else:  # dead n2 in cell 3 and an unused up-edge in cell 1, with the discriminator
        rows, method = [UNUSED_UP[0], DEAD_N2[1], DEAD_N2[2]], "adversarialnas"
        ref = randomize(AdversarialNASGen(rows, GF, LATENT_N), seed=9)
        native, latent = adversarialnas_generator(rows, gf=256, latent=LATENT_N), LATENT_N
        d = official_d(df=4)
    ckpt = save_checkpoint(training_checkpoint(ref, d), tmp_path / "c.pth", legacy=case == "autogan-models")
    gen = genotype_file(tmp_path, native, sngan_discriminator() if d is not None else None)
    net = "both" if d is not None else "g"
    weights = tmp_path / "w.safetensors"
    code, stdout, err = cli(capsys, "import", method, ckpt, "--genotype", gen, "-o", weights, "--net", net)
    assert code == 0, err
    assert "--width 0.03125" in stdout and (d is None or "--net both" in stdout), stdout
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", gen, "-o", out, "--weights", weights, "--width", "0.03125", "--net", net,
                       "--no-verify")
    assert code == 0, err
    z = z_for(latent)
    want = official(ref, z)
    for y in compiled_outputs(out, z):
        assert (y - want).abs().max() <= 1e-4
    if d is not None:
        x = torch.randn(3, 3, 32, 32)
        want_d = official(d, x)
        for y in compiled_outputs(out, x, "discriminator"):
            assert (y - want_d).abs().max() <= 1e-4 * max(1.0, want_d.abs().max().item())


# ---------------------------------------------------------------------------------------
# issue 10 item 3: shapes are checked before anything is allocated


def test_crafted_checkpoint_is_refused_before_allocating(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.pth"
    torch.save({"l1.weight": torch.empty(1048576, 0)}, ckpt)
    assert ckpt.stat().st_size < 4096
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GccGanError, match=r"checkpoint tensor l1.weight has shape 1048576×0 but the genotype needs "
                                          r"1048576×40"):
        import_checkpoint("adversarialnas", ckpt, "zoo:adversarialnas", tmp_path / "w.safetensors")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 512 * 1024  # KiB: nothing big allocated
    assert not (tmp_path / "w.safetensors").exists()


# ---------------------------------------------------------------------------------------
# property: every genotype / arch vector the official encodings allow converts, compiles
# and reproduces the official network


def random_autogan_arch(rng: random.Random) -> list[int]:
    arch = [rng.randrange(2), rng.randrange(3), rng.randrange(3), rng.randrange(2)]
    for k in (2, 3):
        arch += [rng.randrange(2), rng.randrange(3), rng.randrange(3), rng.randrange(2), rng.randrange(2 ** (k - 1))]
    return arch


def random_adversarialnas_rows(rng: random.Random) -> list[list[int]]:
    """What alpha2genotype can return: up ops 0-2, normal ops 0-6, n2 with an input edge,
    n3 with an input edge (its hard rules)."""
    rows = []
    while len(rows) < 3:
        row = [rng.randrange(3), rng.randrange(3)] + [rng.choice([0, 0, 1, 2, 3, 4, 5, 6]) for _ in range(5)]
        if row[2] + row[3] and row[4] + row[5] + row[6]:
            rows.append(row)
    return rows


def check_compiles_and_reproduces(native: Native, ref: torch.nn.Module, x: torch.Tensor, tmp: Path,
                                  method: str) -> None:
    ckpt = tmp / "c.pth"
    torch.save({"avg_gen_state_dict": ref.state_dict()}, ckpt)
    w, _ = do_import(tmp, method, ckpt, genotype_file(tmp, native))
    interp = Interpreter(analyze(native.network, role="generator"))
    interp.load_state_dict(w)
    compiled = compile_network(analyze(native.network, role="generator"), interp.eval().state_dict())
    want = official(ref, x)
    with torch.no_grad():
        assert (interp(x) - want).abs().max() <= 1e-4
        assert (compiled.instantiate()(x) - want).abs().max() <= 1e-4


def _property(tmp: Path, seed: int) -> None:
    rng = random.Random(seed)
    if seed % 2:
        arch = random_autogan_arch(rng)
        native = autogan_generator(arch, gf=4, latent=LATENT_A)
        ref: torch.nn.Module = randomize(AutoGANSearch(arch, 4, LATENT_A), seed)
        check_compiles_and_reproduces(native, ref, z_for(LATENT_A, 2, seed), tmp, "autogan")
    else:
        rows = random_adversarialnas_rows(rng)
        native = adversarialnas_generator(rows, gf=4, latent=LATENT_N)
        ref = randomize(AdversarialNASGen(rows, 4, LATENT_N), seed)
        check_compiles_and_reproduces(native, ref, z_for(LATENT_N, 2, seed), tmp, "adversarialnas")


@pytest.mark.parametrize("seed", range(24))
def test_every_official_encoding_converts_compiles_and_reproduces(tmp_path: Path, seed: int) -> None:
    _property(tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(24, 424))
def test_every_official_encoding_sweep(tmp_path: Path, seed: int) -> None:
    _property(tmp_path, seed)


def test_property_draws_cover_the_hard_cases() -> None:
    """The CI draws include a dead n2, an unused up-edge, transposed convs and x4 skips."""
    seen = set()
    for seed in range(24):
        rng = random.Random(seed)
        if seed % 2:
            a = random_autogan_arch(rng)
            seen |= {"deconv"} if 2 in (a[2], a[7], a[12]) else set()
            seen |= {"x4"} if a[12] == 2 and a[13] >= 2 else set()
        else:
            n = adversarialnas_generator(random_adversarialnas_rows(rng), gf=4, latent=LATENT_N)
            if n.official is not None:
                seen.add("unused")
    assert {"deconv", "unused"} <= seen, seen


# ---------------------------------------------------------------------------------------
# show / bench --count official


def test_show_and_bench_count_official(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    native = adversarialnas_generator(UNUSED_UP, gf=64)
    gen = genotype_file(tmp_path, native, sngan_discriminator())
    code, out, err = cli(capsys, "show", gen, "--count", "official", "--json")
    assert code == 0, err
    s = json.loads(out)
    g = s["generator"]
    assert (g["official"]["params"] - g["params"], g["official"]["macs"] - g["macs"]) == (4160, 266240)
    assert s["discriminator"]["official"] == {"params": s["discriminator"]["params"],
                                              "macs": s["discriminator"]["macs"]}
    code, out, err = cli(capsys, "show", gen, "--count", "official")
    assert code == 0 and "params (official)" in out and "MACs (official)" in out, err
    code, out, _ = cli(capsys, "show", "zoo:adversarialnas", "--count", "official", "--json")
    z = json.loads(out)["generator"]
    assert z["official"] == {"params": z["params"], "macs": z["macs"]} and z["params"] == 8846851
    # hand-edited: no longer the encoded network, so no official count
    doc = json.loads(gen.read_text())
    doc["generator"]["edges"][-1]["ops"][2] = {"op": "conv", "kernel": 5}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    code, out, err = cli(capsys, "show", edited, "--count", "official", "--json")
    assert code == 0 and json.loads(out)["generator"]["official"] is None, err
    code, _, err = cli(capsys, "show", gen, "--count", "paper")
    assert code == 2 and "'paper' is not one of 'executed', 'official'" in err
    res = tmp_path / "bench.json"
    code, out, err = cli(capsys, "bench", gen, "--metrics", "size", "--count", "official", "--json", res)
    assert code == 0, err
    r = json.loads(res.read_text())["results"][0]
    assert r["official"]["params"] - r["executed"]["params"] == 4160
    # the official-count table, with the official figure (as "official" alone was true of any output here)
    assert "counts as executed and as the official code counts them" in out, out
    assert f"{r['official']['params'] / 1e6:.4f}" in out and f"{r['executed']['params'] / 1e6:.4f}" in out


def test_convert_accepts_every_alpha2genotype_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11 item 3: a genotype whose cell-3 n2 -> n3 edge is none converts (n2 and what
    only feeds it are removed) instead of failing with "node 'cell3.n2' is dead"."""
    out = tmp_path / "g.json"
    code, _, err = cli(capsys, "convert", "adversarialnas", json.dumps(DEAD_N2), "-o", out)
    assert code == 0, err
    g = json.loads(out.read_text())
    assert "cell3.n2" not in {n["name"] for n in g["generator"]["nodes"]}
    assert not any(e.get("name", "").startswith("cell3.skip_in") for e in g["generator"]["edges"])
    code, out_text, err = cli(capsys, "validate", out)
    assert code == 0 and out_text == "ok", err


def test_both_nets_need_a_training_checkpoint(tmp_path: Path) -> None:
    ref = randomize(AutoGANSearch(SEARCH_ARCHS[0], GF, LATENT_A), seed=1)
    ckpt = save_checkpoint(ref.state_dict(), tmp_path / "c.pth")
    gen = genotype_file(tmp_path, autogan_generator(SEARCH_ARCHS[0], latent=LATENT_A), sngan_discriminator())
    with pytest.raises(GccGanError, match="a plain state dict holds one network; the generator needs a training "
                                          "checkpoint"):
        do_import(tmp_path, "autogan", ckpt, gen, net="both")
    with pytest.raises(GccGanError, match="no discriminator state dict found; looked for keys dis_state_dict"):
        do_import(tmp_path, "autogan", save_checkpoint(training_checkpoint(ref), tmp_path / "t.pth"), gen, net="d")
