"""The `paper` preset of every searcher and of `train` builds and takes a step on a CPU.

The paper configurations are what the README promises for a GPU; nothing else in the suite
runs them at their real widths. Each test keeps the preset's networks, batch sizes and
losses and cuts only the schedule (one iteration, a few reward images), so it proves that
the configuration builds, steps and emits a genotype that compiles — not that it trains
well. They take minutes on a 2-core CPU: `pytest -m slow tests/test_paper_smoke.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze_genotype
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.config import PRESETS
from gcc_gan.search.run import SearchRequest, search

pytestmark = pytest.mark.slow

DATA = "synthetic?n=256"  # DEGAS's paper half-batches of 64 need 128 images
# one step makes a collapsed generator: the health check (search/health.py) is off here
ONE_STEP = dict(log_every=1, checkpoint_every=1, min_diversity=0.0)

# Only the schedule is cut; every width, batch size and loss is the paper preset's.
SCHEDULES: dict[str, dict[str, Any]] = {
    "adversarial": dict(iters=1),
    "degas": dict(iters=1, n_images=128),
    "random": dict(iters=1, population=2, candidate_iters=1, reward="swd", workers=1),
    "autogan": dict(search_iters=3, grow_at=(1, 2), shared_steps=1, ctrl_steps=1, iters=6, reward_images=10,
                    num_candidate=2, topk=1),
    "dggan": dict(max_steps=2, init_iters=1, child_iters=1, reward_images=16, dg_k=1, dg_p=0.05),
}


def _check(run: Path) -> None:
    g = load_genotype(run / "genotype.json")  # validates
    for role, info in analyze_genotype(g).items():
        compile_network(info, role=role)


@pytest.mark.parametrize("method", sorted(SCHEDULES))
def test_paper_preset_builds_and_steps(method: str, tmp_path: Path, inception_file: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert (method, "paper") in PRESETS
    over: dict[str, Any] = {**ONE_STEP, **SCHEDULES[method]}
    monkeypatch.setenv("GCC_GAN_INCEPTION", str(inception_file))  # AutoGAN's IS reward: random weights
    if method == "dggan":
        over["reward"] = "swd"  # FID needs 2048+ samples for a full-rank covariance; SWD scores any count
    run = tmp_path / method
    search(SearchRequest(method=method, preset="paper", data=DATA, out=run, overrides=over, device="cpu"))
    _check(run)
    # it ran the paper configuration: every preset setting the schedule does not override
    cfg = json.loads((run / "search.json").read_text())["config"]
    assert cfg["preset"] == "paper"
    preset = PRESETS[("candidates" if method == "random" else method, "paper")]  # random: the candidate search's
    kept = {k: json.loads(json.dumps(v)) for k, v in preset.items() if k not in over}
    assert kept and {k: cfg[k] for k in kept} == kept


def test_train_paper_preset_one_step(tmp_path: Path) -> None:
    from gcc_gan.cli.main import run as cli

    out = tmp_path / "train"
    code = cli(["train", "zoo:autogan-a", "--data", DATA, "--preset", "paper", "--iters", "1", "-o", str(out), "--device", "cpu"])
    assert code == 0
    assert (out / "generator.safetensors").is_file()
    conf = json.loads((out / "config.json").read_text())["train"]
    assert conf["iters"] == 1
    assert (conf["n_critic"], conf["beta1"]) == (5, 0.0)  # the paper's, not the tiny preset's 1 / 0.5
