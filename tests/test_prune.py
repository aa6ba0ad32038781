"""genotype_dsl.prune: `none` edges and nodes that cannot contribute to an output are
removed, everything else kept as it was, and the outputs do not change."""

from __future__ import annotations

import pytest
import torch

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GenotypeError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.builder import NetBuilder, op
from gcc_gan.genotype_dsl.model import Network, Output
from gcc_gan.genotype_dsl.prune import dead_nodes, is_none_edge, prune_dead


def _net() -> Network:
    """z → stem → a → out, with dead parts hanging off it:
    * a 'none' edge stem → out (contributes zeros);
    * `dead` (fed by a, reaches nothing) and `dead2` (fed only by dead);
    * `orphan` (fed only through a 'none' edge, so no input reaches it) feeding out;
    * `cut` whose only way out is a 'none' edge."""
    b = NetBuilder(4)
    b.latent("z", 6)
    for n in ("stem", "a", "dead", "dead2", "orphan", "cut", "out"):
        b.node(n, width=1)
    b.edge("z", "stem", op("linear", out_width=16), op("reshape", size=4), name="stem")
    b.edge("stem", "a", "relu", op("conv", kernel=3), name="a")
    b.edge("a", "out", op("conv", kernel=1), name="a_out")
    b.edge("stem", "out", "none", name="skip_none")
    b.edge("a", "dead", op("conv", kernel=3), name="dead")
    b.edge("dead", "dead2", op("conv", kernel=1), name="dead2")
    b.edge("stem", "orphan", "none", name="orphan_in")
    b.edge("orphan", "out", op("conv", kernel=1), name="orphan_out")
    b.edge("a", "cut", op("conv", kernel=1), name="cut_in")
    b.edge("cut", "out", "none", name="cut_out")
    b.output("image", "out")
    return b.build()


def test_prune_removes_none_edges_dead_and_unreachable_nodes() -> None:
    net = _net()
    with pytest.raises(GenotypeError, match="dead"):
        analyze(net)
    assert dead_nodes(net) == ["dead", "dead2", "orphan", "cut"]
    p = prune_dead(net)
    assert [n.name for n in p.nodes] == ["stem", "a", "out"]
    assert [e.name for e in p.edges] == ["stem", "a", "a_out"]
    assert not any(is_none_edge(e) for e in p.edges)
    # what is kept is kept unchanged (same objects, same order), the input untouched
    assert p.edges == [e for e in net.edges if e.name in ("stem", "a", "a_out")]
    assert len(net.edges) == 10 and p.outputs == net.outputs and p.inputs == net.inputs
    analyze(p)
    assert prune_dead(p) is p and dead_nodes(p) == []


def test_prune_returns_a_live_network_itself() -> None:
    b = NetBuilder(4)
    b.latent("z", 6)
    b.node("out", width=1)
    b.edge("z", "out", op("linear", out_width=16), op("reshape", size=4), name="e")
    b.output("image", "out")
    net = b.build()
    assert prune_dead(net) is net


def test_prune_leaves_outputs_unchanged() -> None:
    """The pruned network computes the same outputs with the same weights (the edges'
    modules are keyed by edge name). The unpruned one is made runnable by reading its
    dead nodes as extra outputs, which changes nothing the real output computes."""
    net = _net()
    no_none = net.model_copy(update={
        "nodes": [n for n in net.nodes if n.name not in ("orphan",)],
        "edges": [e for e in net.edges if not is_none_edge(e) and "orphan" not in (e.src, e.dst)]})
    probed = no_none.model_copy(update={"outputs": [*net.outputs, Output(name="p1", node="dead2"),
                                                    Output(name="p2", node="cut")]})
    full, pruned = Interpreter(probed), Interpreter(prune_dead(net))
    torch.manual_seed(0)
    for p in full.parameters():
        torch.nn.init.normal_(p)
    missing, unexpected = pruned.load_state_dict(full.state_dict(), strict=False)
    assert not missing and unexpected  # the dead edges' weights have no place in the pruned net
    z = torch.randn(3, 6)
    a, b = full(z)[0], pruned(z)
    assert torch.equal(a, b) and a.abs().max() > 0
