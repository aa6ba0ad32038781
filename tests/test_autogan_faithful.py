"""AutoGAN `--mode faithful` against the official code's behaviour (issue 22, item 7): shared G
weights a child does not use get a zero-gradient Adam step (PyTorch 1.1 `zero_grad()`), and the
final top-K comes from exactly M controller samples with duplicates kept; `clean` mode skips
the one and keeps the K best distinct children in the other."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gcc_gan.search.config import make_config
from gcc_gan.search.strategies.reinforce import AutoGanSearcher
from gcc_gan.train.data import load_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = "synthetic?n=64"
SMALL: dict[str, object] = {
    "gf": 4, "df": 4, "latent": 6, "bottom": 2, "batch_size": 4, "g_batch": 4, "hid": 8, "search_iters": 3,
    "grow_at": (1, 2), "shared_steps": 3, "ctrl_steps": 2, "n_critic": 2, "num_candidate": 3, "topk": 2,
    "reward": "swd", "reward_images": 8, "reset_window": 2, "iters": 15, "min_diversity": 0.0}
# stage-0 children: A = post-activation block, BN, bilinear, shortcut; B = pre-activation, no shortcut
ARCH_A, ARCH_B = [0, 1, 0, 1], [1, 1, 0, 0]


def _searcher(mode: str, **over: object) -> AutoGanSearcher:
    cfg = make_config("autogan", "tiny", {**SMALL, "mode": mode, **over})
    s = AutoGanSearcher(cfg, torch.device("cpu"))
    s.bind_data(load_dataset(DATA, cfg.size))
    return s


def _g_step(s: AutoGanSearcher, arch: list[int], seed: int) -> None:
    child = s.g.child(arch)
    z = torch.randn(4, s.cfg.latent, generator=torch.Generator().manual_seed(seed))
    s._g_step(-s.d(child(z)).mean(), child)


def _only_in(a: list[int], b: list[int], s: AutoGanSearcher) -> list[nn.Parameter]:
    used_b = {id(p) for p in s.g.child(b).parameters()}
    return [p for p in s.g.child(a).parameters() if id(p) not in used_b]


@pytest.mark.parametrize("mode", ["clean", "faithful"])
def test_unused_shared_weights_get_a_zero_gradient_adam_step_only_in_faithful_mode(mode: str) -> None:
    s = _searcher(mode)
    stale = _only_in(ARCH_A, ARCH_B, s)
    assert stale  # A's post-activation block and shortcut are not B's
    never = [p for p in s.g.parameters() if id(p) not in {id(q) for q in s.g.child(ARCH_A).parameters()}
             and id(p) not in {id(q) for q in s.g.child(ARCH_B).parameters()}]
    _g_step(s, ARCH_A, 1)
    before = {id(p): (p.detach().clone(), s.opt_g.state[p]["exp_avg_sq"].clone()) for p in stale}
    _g_step(s, ARCH_B, 2)
    beta2 = s.cfg.beta2
    for p in stale:
        st = s.opt_g.state[p]
        w, v = before[id(p)]
        assert p.grad is None  # the zero gradients are not left behind
        assert torch.equal(p.detach(), w)  # β1 = 0: a zero gradient moves no weight
        if mode == "faithful":  # official: stepped with g = 0, so v ← β2·v and the step count grows
            assert int(st["step"]) == 2
            assert torch.allclose(st["exp_avg_sq"], beta2 * v, rtol=1e-6, atol=0)
            assert bool((st["exp_avg_sq"] < v).any())
        else:  # clean: no Adam step at all for a parameter the child does not use
            assert int(st["step"]) == 1
            assert torch.equal(st["exp_avg_sq"], v)
    # a parameter no child has used yet has no gradient in the official code either: no state
    assert never and all(not s.opt_g.state.get(p) for p in never)


def test_faithful_next_update_of_an_unused_slot_is_larger() -> None:
    """Same weights, same gradients, one run per mode: after 5 steps of B, A's own slot moves
    further in faithful mode (Adam's shrunken second moment), by at most 1/sqrt(β2^5) times
    the bias corrections' ratio (faithful counts 9 steps there, clean 4)."""
    moved = {}
    for mode in ("clean", "faithful"):
        s = _searcher(mode)
        stale = _only_in(ARCH_A, ARCH_B, s)
        for i in range(3):
            _g_step(s, ARCH_A, 10 + i)
        for i in range(5):
            _g_step(s, ARCH_B, 20 + i)
        w = [p.detach().clone() for p in stale]
        _g_step(s, ARCH_A, 30)
        moved[mode] = torch.stack([(p.detach() - w0).norm() for p, w0 in zip(stale, w)])
    ratio = moved["faithful"] / moved["clean"]
    b2 = 0.9
    bound = ((1 - b2 ** 9) / (1 - b2 ** 4) / b2 ** 5) ** 0.5
    assert bool((ratio > 1.0).all()) and bool((ratio <= bound + 1e-4).all()), (ratio, bound)


def _force(s: AutoGanSearcher, arch: list[int]) -> None:
    """A controller that samples `arch` with probability ~1 (every head's logits fixed)."""
    with torch.no_grad():
        for dec, a in zip(s.ctrl.decoders, arch):
            dec.weight.zero_()
            dec.bias.fill_(-50.0)
            dec.bias[a] = 50.0


@pytest.mark.parametrize("mode", ["clean", "faithful"])
def test_final_topk_is_m_samples_with_duplicates_only_in_faithful_mode(mode: str) -> None:
    s = _searcher(mode, num_candidate=10, topk=5)  # the official M / K
    _force(s, ARCH_A)
    final = s._final()
    archs = [p["arch"] for p in final]
    if mode == "faithful":  # official get_topk_arch_hidden: 10 samples scored, the 5 best, duplicates kept
        assert s.n_evals == 10
        assert archs == [ARCH_A] * 5
    else:  # distinct: the one vector the controller gives, after up to 20·M samples
        assert s.n_evals == 1
        assert archs == [ARCH_A]


def test_faithful_topk_scores_exactly_m_samples() -> None:
    s = _searcher("faithful", num_candidate=10, topk=5)
    final = s._final()
    assert s.n_evals == 10 and len(final) == 5
    rewards = [p["reward"] for p in final]
    assert rewards == sorted(rewards, reverse=True)
