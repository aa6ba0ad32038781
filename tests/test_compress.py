"""gcc-gan compress (issue 24): the student space, the shared weights, the supernet's exact
resume, budgets, clean errors; end to end (CLI, kill -9 + --resume, an imported official
checkpoint) behind -m slow with fast twins here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_cli_error, cli
from safetensors.torch import save_file

from gcc_gan.checkpoints import KILL_AFTER_ENV, list_checkpoints, read_checkpoint
from gcc_gan.bench.budget import Budget
from gcc_gan.compiler.cost import compiled_cost
from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.compress.config import make_config
from gcc_gan.compress.distill import Supernet, Teacher
from gcc_gan.compress.search import RandomEvolution, run_search
from gcc_gan.compress.shared import SharedWeights, matched_nodes, probe, separable_init
from gcc_gan.compress.space import WIDTHS, StudentSpace
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.genotype_dsl.model import Genotype

pytestmark = pytest.mark.usefixtures("one_thread")

MICRO = 1 / 32  # autogan-a at base width 8: milliseconds per step
FAST = ["--preset", "tiny", "--iters", "4", "--finetune-iters", "2", "--evaluations", "2", "--batch-size", "4",
        "--num-samples", "16", "--checkpoint-every", "2", "--no-latency", "--threads", "1"]


def shown_macs(compile_dir: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """The compiled MACs `gcc-gan show DIR --json` reads from a compile directory."""
    r = cli(capsys, "show", compile_dir, "--json")
    assert r.code == 0, r.err
    return int(json.loads(r.out)["generator"]["macs_after"])


def micro(name: str = "autogan-a", width: float = MICRO):
    return load_genotype(f"zoo:{name}").generator.scaled(width)


def teacher_file(tmp: Path, name: str = "autogan-a", with_d: bool = False, seed: int = 0) -> Path:
    """Random teacher weights of the micro genotype (G, and D with `with_d`, prefixed)."""
    g = load_genotype(f"zoo:{name}")
    torch.manual_seed(seed)
    tensors = {f"generator.{k}" if with_d else k: v for k, v in Interpreter(g.generator.scaled(MICRO)).state_dict().items()}
    if with_d:
        d = g.discriminator.scaled(MICRO)
        tensors.update({f"discriminator.{k}": v for k, v in Interpreter(d).state_dict().items()})
    p = tmp / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(p))
    return p


# --------------------------------------------------------------------------- the space


@pytest.mark.parametrize("name", ["autogan-a", "adversarialnas", "sngan", "dcgan"])
def test_every_student_validates_compiles_and_keeps_its_channel_groups(name: str) -> None:
    teacher = micro(name, 1 / 16)
    space = StudentSpace(teacher)
    rng = np.random.default_rng(0)
    archs = [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(12))]
    t_macs = compiled_cost(teacher).macs
    assert compiled_cost(space.network(space.smallest())).macs < t_macs
    assert space.network(space.largest()) == teacher  # variant 0 of everything is the teacher
    for k, arch in enumerate(archs):
        net = space.network(arch)
        info = analyze(net, "generator", role="generator")  # validates
        chans = {n: s[0] for n, s in info.shapes.items()}
        t_chans = {n: s[0] for n, s in space.info.shapes.items()}
        for g, group in enumerate(space.groups):  # a group moves together, by its multiplier
            for n in group:
                assert chans[n] == max(1, round(t_chans[n] * WIDTHS[arch.widths[g]])), (n, arch)
        for n in space.fixed:
            assert chans[n] == t_chans[n]
        for e in net.edges:  # an edge that makes no channels joins equal nodes
            if not any(o.spec.produces_channels for o in e.ops) and e.src in chans:
                assert chans[e.src] == chans[e.dst]
        if k < 3:  # compiles, and the compiled module computes what the interpreter does
            torch.manual_seed(k)
            ref = Interpreter(info).eval()
            compiled = compile_network(info, ref.state_dict())
            z = torch.randn(2, info.input_shapes["z"][0])
            with torch.no_grad():
                assert torch.allclose(compiled.instantiate()(z), ref(z), atol=1e-4)
            assert compiled.report["macs_after"] == compiled_cost(net).macs


def test_channel_groups_follow_the_dsl_graph() -> None:
    space = StudentSpace(micro("adversarialnas"))
    assert ("cell1.n0", "cell1.n2", "cell1.n3") in space.groups  # identity edges n0→n2→n3
    assert ("cell2.n1", "cell2.n2") in space.groups
    assert "rgb" in space.fixed and all("rgb" not in g for g in space.groups)
    names = [space.teacher.edges[i].name for i in space.droppable]
    assert "cell3.skip_in0" in names and "cell1.c2" not in names  # side branches only, never a relu path
    ops = {s.variants[-1].op for s in space.sites} | {s.variants[1].label() for s in space.sites}
    assert "sep_conv" in ops and "upsample" in ops


def test_side_edge_drops_never_leave_a_node_without_inputs() -> None:
    space = StudentSpace(micro("adversarialnas"))
    arch = space.normalized(space.smallest())
    net = space.network(arch)
    analyze(net, "generator", role="generator")
    dsts = {e.dst for e in net.edges}
    assert all(n.name in dsts for n in net.nodes)


def test_separable_init_is_exact_for_a_separable_kernel() -> None:
    g = torch.Generator().manual_seed(0)
    dw, pw = torch.randn(5, 1, 3, 3, generator=g), torch.randn(7, 5, 1, 1, generator=g)
    full = pw * dw.permute(1, 0, 2, 3)  # (7, 5, 3, 3): rank 1 per input channel
    d2, p2 = separable_init(full)
    assert torch.allclose(p2 * d2.permute(1, 0, 2, 3), full, atol=1e-5)


# --------------------------------------------------------------------------- shared weights


def _supernet(teacher_net, seed: int = 0, **over):
    torch.manual_seed(seed)
    plain = Interpreter(teacher_net).eval()
    nodes = matched_nodes(teacher_net)
    tp = Interpreter(analyze(probe(teacher_net, nodes), "generator", role="generator"))
    tp.load_state_dict(plain.state_dict())
    cfg = make_config("tiny", {"batch_size": 4, "n_random": 1, **over})
    space = StudentSpace(teacher_net)
    return Supernet(SharedWeights(space, plain.state_dict(), nodes), Teacher(tp.eval(), 128), cfg), plain


def test_the_largest_student_is_the_teacher_and_students_slice_its_weights() -> None:
    sn, plain = _supernet(micro())
    shared, space = sn.shared, sn.shared.space
    z = torch.randn(3, 128)
    built = shared.student(space.largest())
    state, _ = shared.concrete(built)
    full = Interpreter(built[0])
    full.load_state_dict(state)
    with torch.no_grad():
        assert torch.equal(full.eval()(z)[0], plain(z))
    small = shared.student(space.smallest())
    s_state, projs = shared.concrete(small)
    w = next(k for k in s_state if s_state[k].dim() == 2)  # the linear stem: channels × 4×4 positions
    t = plain.state_dict()[small[2][w]]
    c = s_state[w].shape
    assert c[0] < t.shape[0] and torch.equal(s_state[w], t[: c[0], : c[1]])  # the front channels
    sep = next(k for k in s_state if small[2][k].startswith("sep:") and s_state[k].shape[1] == 1)  # a depthwise kernel
    assert s_state[sep].shape[0] < shared.tensors[small[2][sep]].shape[0]
    assert all(p.shape[0] > p.shape[1] for p in projs)  # student channels → teacher channels


def test_sandwich_training_moves_the_shared_weights_and_keeps_the_teacher_fixed() -> None:
    sn, plain = _supernet(micro())
    before = {k: v.detach().clone() for k, v in sn.shared.tensors.items()}
    t_before = {k: v.clone() for k, v in plain.state_dict().items()}
    losses = [sn.train_step() for _ in range(3)]
    assert all(np.isfinite(losses))
    moved = [k for k, v in sn.shared.tensors.items() if not torch.equal(v.detach(), before[k])]
    assert any(k.startswith("sep:") for k in moved) and any(k.startswith("proj:") for k in moved)
    assert all(torch.equal(v, t_before[k]) for k, v in plain.state_dict().items())


def test_supernet_resume_is_exact(tmp_path: Path) -> None:
    """Fast twin of the kill -9 test: a checkpoint restored into a fresh supernet continues
    exactly as the uninterrupted one."""
    a, _ = _supernet(micro())
    for _ in range(4):
        a.train_step()
    b, _ = _supernet(micro())
    for _ in range(2):
        b.train_step()
    b.save(tmp_path / "ck")
    c, _ = _supernet(micro())
    c.restore(read_checkpoint(list_checkpoints(tmp_path / "ck")[-1]))
    for _ in range(2):
        c.train_step()
    assert c.step == a.step == 4
    for k, v in a.shared.tensors.items():
        assert torch.equal(v.detach(), c.shared.tensors[k].detach()), k


def test_search_proposes_only_students_within_the_budget() -> None:
    teacher = micro()
    space = StudentSpace(teacher)
    budget = Budget(max_macs=int(0.3 * compiled_cost(teacher).macs))
    fits = lambda a: budget.fits(budget.cost(space.network(a)))  # noqa: E731
    strat = RandomEvolution(space, fits, np.random.default_rng(0), population=3)
    seen = []

    def evaluate(arch) -> float:
        seen.append(arch)
        return float(compiled_cost(space.network(arch)).macs)  # any score: the search's job is the budget

    best, score, history = run_search(strat, evaluate, 8)
    assert len(history) == 8 and len({a.key() for a in seen}) == 8
    assert all(compiled_cost(space.network(a)).macs <= budget.max_macs for a in seen)
    assert score == min(h["score"] for h in history)


# --------------------------------------------------------------------------- clean errors


@pytest.mark.parametrize("case", ["fraction", "floor", "no-budget", "no-weights", "missing-weights", "mismatch",
                                  "both-macs"])
def test_bad_inputs_fail_cleanly_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   case: str) -> None:
    w = teacher_file(tmp_path)
    out = tmp_path / "out"
    base = ["compress", "zoo:autogan-a", "--width", str(MICRO), "--weights", w, "-o", out, *FAST]
    args, frag = {
        "fraction": ([*base, "--budgets", "1.5"], "not a fraction in (0, 1]"),
        "floor": ([*base, "--budgets", "0.0001"], "below the student space's floor"),
        "no-budget": (base, "no budget"),
        "no-weights": (["compress", "zoo:autogan-a", "-o", out, "--budgets", "0.5", *FAST], "--weights"),
        "missing-weights": ([*base[:4], "--weights", tmp_path / "nope.safetensors", *base[6:], "--budgets", "0.5"],
                            "no such file"),
        "mismatch": (["compress", "zoo:autogan-a", "--width", "0.0625", "--weights", w, "-o", out, *FAST,
                      "--budgets", "0.5"], "shape"),
        "both-macs": ([*base, "--budgets", "0.5", "--max-macs", "1M"], "not both"),
    }[case]
    assert_cli_error(cli(capsys, *args), frag)
    assert not out.exists()


def test_an_existing_run_needs_resume_or_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("mine")
    w = teacher_file(tmp_path)
    r = cli(capsys, "compress", "zoo:autogan-a", "--width", MICRO, "--weights", w, "-o", out, "--budgets", "0.5", *FAST)
    assert_cli_error(r, "--resume", "--force")
    r = cli(capsys, "compress", "zoo:autogan-a", "--width", MICRO, "--weights", w, "-o", out, "--budgets", "0.5",
            "--force", *FAST)
    assert_cli_error(r, "not a compress run")
    assert (out / "x").read_text() == "mine"


def test_imported_official_checkpoint_is_a_teacher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fast twin of the imported-official run: the official AutoGAN generator (the test
    suite's rebuild, random weights) imported, then accepted as a teacher whose weights load."""
    from gcc_gan.compress.pipeline import Pipeline
    from gcc_gan.compress.plan import CompressRequest, plan

    w = _imported(tmp_path, capsys)
    req = CompressRequest(out=tmp_path / "c", teacher="zoo:autogan-a", weights=w, width=MICRO, fractions=[0.5],
                          preset="tiny", overrides={"iters": 2})
    pipe = Pipeline(plan(req), None)
    assert pipe.teacher_net.base_width == 8 and pipe.teacher.d is None
    assert not (tmp_path / "c").exists()


def _imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """autogan-a's official generator (gf 8, random weights) imported by `gcc-gan import`."""
    from official_nets import AutoGANModels, randomize, save_checkpoint, training_checkpoint

    from gcc_gan.genotype_dsl.zoo import AUTOGAN_ARCHS

    ref = randomize(AutoGANModels(AUTOGAN_ARCHS["autogan-a"], 8, 128), seed=1)
    ckpt = save_checkpoint(training_checkpoint(ref), tmp_path / "official.pth")
    w = tmp_path / "imported.safetensors"
    r = cli(capsys, "import", "autogan", ckpt, "--genotype", "zoo:autogan-a", "-o", w)
    assert r.code == 0, r.err
    return w


# --------------------------------------------------------------------------- end to end (slow)


def _run_compress(tmp_path: Path, capsys, out: Path, w: Path, *extra: str) -> dict:
    r = cli(capsys, "compress", "zoo:autogan-a", "--width", MICRO, "--weights", w, "-o", out, "--budgets",
            "0.5,0.25", *FAST, *extra)
    assert r.code == 0, r.err
    return json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_compress_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = teacher_file(tmp_path, with_d=True)
    out = tmp_path / "c"
    doc = _run_compress(tmp_path, capsys, out, w, "--iters", "30", "--finetune-iters", "10")
    assert doc["teacher"]["adversarial_term"] is True
    t_macs = doc["teacher"]["compiled"]["macs"]
    for label, frac in (("0.5", 0.5), ("0.25", 0.25)):
        d = out / f"budget-{label}"
        assert json.loads((d / "report.json").read_text())["verified"] is True
        assert shown_macs(d, capsys) <= int(frac * t_macs)  # the budget, as `gcc-gan show` reads the compile dir
        assert (out / f"samples_{label}.png").stat().st_size > 0
        Genotype.model_validate_json((out / f"student_{label}.json").read_text())
        rows = {r["method"]: r for r in doc["rows"] if r["budget"] == label}
        assert set(rows) == {"distilled", "alone", "narrowed", "scratch"}
        assert rows["narrowed"]["compiled_macs"] <= rows["distilled"]["compiled_macs"]
        assert len({r["image_iterations"] for r in rows.values()}) == 1  # all at equal image-iterations
        assert rows["alone"]["compiled_macs"] == rows["distilled"]["compiled_macs"]
        # distillation reproduces the teacher's mapping; a GAN from scratch learns its own
        assert rows["distilled"]["psnr_db"] > rows["scratch"]["psnr_db"] + 3
    csv = (out / "compress.csv").read_text().splitlines()
    assert csv[0].startswith("budget,method,compiled_macs") and len(csv) == 1 + 1 + 2 * 4
    assert (out / "quality_vs_macs.png").stat().st_size > 0


def _proc(args: list[str], **env: str) -> subprocess.Popen:
    src = str(Path(__file__).resolve().parents[1] / "src")
    e = {**os.environ, "PYTHONPATH": src, **env}
    return subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", *args], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_same_students(tmp_path: Path) -> None:
    w = teacher_file(tmp_path)
    args = ["compress", "zoo:autogan-a", "--width", str(MICRO), "--weights", str(w), "--budgets", "0.5", *FAST,
            "--iters", "6"]
    ref = _proc([*args, "-o", str(tmp_path / "ref")])
    assert ref.wait(timeout=600) == 0, ref.stderr.read().decode() if ref.stderr else ""
    victim = _proc([*args, "-o", str(tmp_path / "run")], **{KILL_AFTER_ENV: "2"})
    _, err = victim.communicate(timeout=600)
    assert victim.returncode == -signal.SIGKILL, err.decode()
    assert not (tmp_path / "run" / "budget-0.5").exists()
    resumed = _proc(["compress", "--resume", "-o", str(tmp_path / "run")])
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()
    assert b"resumed the supernet at step" in err
    for f in ("budget-0.5/generator.safetensors", "budget-0.5/generator.onnx", "student_0.5.json"):
        assert (tmp_path / "ref" / f).read_bytes() == (tmp_path / "run" / f).read_bytes(), f


@pytest.mark.slow
def test_imported_official_checkpoint_compresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = _imported(tmp_path, capsys)
    out = tmp_path / "c"
    r = cli(capsys, "compress", "zoo:autogan-a", "--width", MICRO, "--weights", w, "-o", out, "--budgets", "0.5",
            *FAST)
    assert r.code == 0, r.err
    assert shown_macs(out / "budget-0.5", capsys) <= compiled_cost(micro()).macs // 2


def test_a_student_is_a_genotype_that_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = StudentSpace(micro())
    arch = space.sample(np.random.default_rng(3))
    p = tmp_path / "student.json"
    p.write_text(Genotype(name="s", generator=space.network(arch)).to_json())
    assert cli(capsys, "validate", p).code == 0
    r = cli(capsys, "render", p, "-o", tmp_path / "s.png")
    assert r.code == 0, r.err
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_choices_match_the_library() -> None:
    from typing import Literal, get_args, get_origin, get_type_hints

    from gcc_gan.cli.compress_cmd import compress_cmd
    from gcc_gan.compress.config import METRICS, PRESETS

    def choices(param: str) -> set[str]:
        t = get_type_hints(compress_cmd)[param]
        while get_origin(t) is not Literal:
            t = next(a for a in get_args(t) if a is not type(None))
        return set(get_args(t))

    assert choices("preset") == set(PRESETS) and choices("metric") == set(METRICS)


@pytest.mark.parametrize("metric", ["swd", pytest.param("fid", marks=pytest.mark.slow),
                                    pytest.param("kid", marks=pytest.mark.slow)])
def test_the_metrics_score_students(metric: str, request: pytest.FixtureRequest) -> None:
    """swd here; FID / KID (random-weight Inception, seconds per image batch) behind -m slow."""
    from gcc_gan.compress.quality import Scorer

    g = torch.Generator().manual_seed(0)
    ref = torch.rand(8, 3, 16, 16, generator=g) * 2 - 1
    cfg = make_config("tiny", {"metric": metric})
    weights = str(request.getfixturevalue("inception_file")) if metric != "swd" else None
    scorer = Scorer(cfg, ref, weights)
    same, other = scorer.score(ref.clone()), scorer.score(-ref)
    assert np.isfinite(same) and np.isfinite(other) and same < other


def test_absolute_limits_make_one_budget(tmp_path: Path) -> None:
    from gcc_gan.compress.plan import CompressRequest, plan

    w = teacher_file(tmp_path)
    req = CompressRequest(out=tmp_path / "c", teacher="zoo:autogan-a", weights=w, width=MICRO, max_macs=900_000,
                          max_params=40_000, max_latency_ms=5.0, preset="tiny")
    (label, b), = plan(req).budgets
    assert label == "max" and (b.max_macs, b.max_params, b.max_latency_ms) == (900_000, 40_000, 5.0)
    assert b.latency_backend == "onnxruntime"
    fractions = plan(CompressRequest(out=tmp_path / "c", teacher="zoo:autogan-a", weights=w, width=MICRO,
                                     fractions=[0.5, 0.25], preset="tiny")).budgets
    t_macs = compiled_cost(micro()).macs
    assert [(lb, bb.max_macs) for lb, bb in fractions] == [("0.5", t_macs // 2), ("0.25", int(0.25 * t_macs))]
    assert not (tmp_path / "c").exists()
