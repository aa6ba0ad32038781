"""The DAG layout (pure geometry) and the rendered pictures."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import PathPatch

from gcc_gan.cli.main import run
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.io import load_and_analyze
from gcc_gan.viz import layered_layout, picture_format, render_genotype
from gcc_gan.viz.layout import Layout, _isotonic
from gcc_gan.viz.render import layout_network, render_network, wrap_pipeline


def check_geometry(lay: Layout, edges: list[tuple[str, str, object]]) -> None:
    """Items on a rank never overlap, keep their order, and share the rank's band; every
    edge runs downward through one item per rank; a label sits right above its node."""
    for r, rank in enumerate(lay.ranks):
        for a, b in zip(rank, rank[1:]):
            assert a.right <= b.left + 1e-6, (a.key, b.key)
        for it in rank:
            assert it.rank == r
            assert lay.rank_top[r] - 1e-6 <= it.top and it.bottom <= lay.rank_bottom[r] + 1e-6
            assert -1e-6 <= it.left and it.right <= lay.width + 1e-6
    assert len(lay.edges) == len(edges)
    for e, (s, d, lab) in zip(lay.edges, edges):
        assert (e.src.key, e.dst.key) == (s, d)
        path = [e.src, *e.chain, e.dst]
        assert [it.rank for it in path] == list(range(e.src.rank, e.dst.rank + 1))
        assert (e.label is not None) == (lab is not None)
        if e.label is not None:
            assert e.chain[-1] is e.label and e.label.rank == e.dst.rank - 1


def test_diamond_has_no_crossings() -> None:
    nodes = [(k, 40.0, 20.0) for k in "abcd"]
    edges = [("a", "b", (30.0, 10.0)), ("a", "c", (30.0, 10.0)), ("b", "d", (30.0, 10.0)),
             ("c", "d", (30.0, 10.0)), ("a", "d", (50.0, 10.0))]
    lay = layered_layout(nodes, edges)
    check_geometry(lay, edges)
    assert lay.crossings == 0
    assert [lay.nodes[k].rank for k in "abcd"] == [0, 2, 2, 4]  # longest-path layers


def test_crossings_are_removed() -> None:
    # declared so that the naive order crosses: a→y, b→x with x declared first
    nodes = [("r", 20.0, 10.0), ("a", 20.0, 10.0), ("b", 20.0, 10.0), ("x", 20.0, 10.0), ("y", 20.0, 10.0)]
    edges = [("r", "a", None), ("r", "b", None), ("a", "y", None), ("b", "x", None),
             ("a", "x", None), ("b", "y", None), ("a", "y", None)]
    lay = layered_layout(nodes, edges[:4])
    assert lay.crossings == 0


def test_layout_rejects_cycles_and_unknown_nodes() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layered_layout([("a", 1, 1), ("b", 1, 1)], [("a", "b", None), ("b", "a", None)])
    with pytest.raises(ValueError, match="unknown node"):
        layered_layout([("a", 1, 1)], [("a", "zz", None)])


def test_isotonic_matches_sorted_means() -> None:
    assert _isotonic([1.0, 3.0, 2.0, 4.0], [1.0] * 4) == [1.0, 2.5, 2.5, 4.0]
    assert _isotonic([5.0, 1.0], [3.0, 1.0]) == [4.0, 4.0]


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[tuple[str, float, float]], list[tuple[str, str, object]]]:
    n = draw(st.integers(1, 12))
    nodes = [(f"n{i}", draw(st.floats(5, 120)), draw(st.floats(5, 40))) for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=24)) if pairs else []
    edges = [(f"n{i}", f"n{j}", draw(st.one_of(st.none(), st.tuples(st.floats(5, 150), st.floats(5, 30)))))
             for i, j in chosen]
    return nodes, edges


@settings(max_examples=40, deadline=None)
@given(dags())
def test_random_dags_lay_out_cleanly(dag: tuple[list[tuple[str, float, float]], list]) -> None:
    nodes, edges = dag
    check_geometry(layered_layout(nodes, edges), edges)


def test_wrap_pipeline() -> None:
    assert wrap_pipeline(["relu", "conv3x3"]) == "relu → conv3x3"
    long = wrap_pipeline(["z[40:80]", "linear", "reshape 8×8", "bn", "relu"], max_chars=20)
    lines = long.split("\n")
    assert len(lines) > 1 and all(ln.endswith(" →") for ln in lines[:-1])
    assert long.replace(" →\n", " → ") == "z[40:80] → linear → reshape 8×8 → bn → relu"


@pytest.mark.parametrize("spec,net", [("zoo:adversarialnas", "generator"), ("zoo:sngan-d", "discriminator"),
                                      ("zoo:autogan-b", "generator"), ("zoo:dcgan", "discriminator")])
def test_zoo_layouts(spec: str, net: str) -> None:
    _, infos = load_and_analyze(spec)
    lay, boxes, texts = layout_network(infos[net])
    info = infos[net]
    edges = [(e.src, e.dst, ()) for e in info.net.edges] + \
            [(o.node, f"output:{o.name}", None) for o in info.net.outputs]
    check_geometry(lay, edges)  # type: ignore[arg-type]
    assert len(boxes) == len(info.net.inputs) + len(info.net.nodes) + len(info.net.outputs)
    for e, text in zip(info.net.edges, texts):  # labels: the op pipeline, wrapped between ops
        assert text.replace(" →\n", " → ") == " → ".join(op.label() for op in e.ops)
    assert lay.crossings <= 3  # the zoo's cells are drawn (nearly) planar
    # inputs at the top, outputs at the bottom
    top = min(it.rank for it in lay.nodes.values())
    bottom = max(it.rank for it in lay.nodes.values())
    assert all(lay.nodes[i.name].rank == top for i in info.net.inputs)
    assert all(lay.nodes[f"output:{o.name}"].rank == bottom for o in info.net.outputs)


def test_render_png_and_svg(tmp_path: Path) -> None:
    g, infos = load_and_analyze("zoo:adversarialnas")
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    render_genotype(g, infos, png)
    render_genotype(g, infos, svg, net="discriminator")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    img = imread(io.BytesIO(data))
    h, w = img.shape[:2]
    assert h > 1200 and w > 500 and h > w  # top to bottom, ~25 ranks
    rgb = img[..., :3]
    assert (rgb < 0.5).mean() > 0.01  # there is ink: text and lines
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50  # colours, not blank
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "g.svg"]  # no temp files left


def test_render_is_deterministic(tmp_path: Path) -> None:
    g, infos = load_and_analyze("zoo:sngan-d")
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    render_genotype(g, infos, a, net="discriminator")
    render_genotype(g, infos, b, net="discriminator")
    assert a.read_bytes() == b.read_bytes()


def test_render_errors(tmp_path: Path) -> None:
    g, infos = load_and_analyze("zoo:sngan-d")
    with pytest.raises(GccGanError, match="unknown picture format '.jpg'"):
        render_genotype(g, infos, tmp_path / "g.jpg", net="discriminator")
    with pytest.raises(GccGanError, match="no generator"):
        render_genotype(g, infos, tmp_path / "g.png", net="generator")
    with pytest.raises(GccGanError, match="no extension"):
        picture_format("graph")
    assert list(tmp_path.iterdir()) == []


def test_render_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.svg"
    assert run(["render", "zoo:sngan-d", "-o", str(out)]) == 0  # no generator: draws the D
    svg = out.read_text()  # matplotlib's SVG keeps each text as a comment: the title, then the costs
    assert "<!-- sngan-d — discriminator -->" in svg and "<!-- block4 -->" in svg
    out2 = tmp_path / "g.svg"
    assert run(["render", "zoo:autogan-a", "-o", str(out2), "--net", "d"]) == 0
    assert "<!-- autogan-a — discriminator -->" in out2.read_text()
    assert run(["render", "zoo:autogan-a", "-o", str(tmp_path / "g2.svg")]) == 0  # the G by default
    assert "<!-- autogan-a — generator -->" in (tmp_path / "g2.svg").read_text()
    capsys.readouterr()
    assert run(["render", "zoo:autogan-a", "-o", str(tmp_path / "g.gif")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and ".gif" in err and "Traceback" not in err
    assert run(["render", "zoo:sngan-d", "-o", str(tmp_path / "x.png"), "--net", "g"]) == 1
    assert "no generator" in capsys.readouterr().err
    assert run(["render", "zoo:autogan-a", "-o", str(tmp_path)]) == 1  # a directory
    assert not (tmp_path / "g.gif").exists() and not (tmp_path / "x.png").exists()


def _segments_hit(pts: np.ndarray, bb: object) -> bool:
    """Does the polyline `pts` (k × 2) cross the box (Liang–Barsky clipping, vectorised)?"""
    a, d = pts[:-1], pts[1:] - pts[:-1]
    lo, hi = np.zeros(len(a)), np.ones(len(a))
    for k, (b0, b1) in enumerate(((bb.x0, bb.x1), (bb.y0, bb.y1))):  # type: ignore[attr-defined]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (b0 - a[:, k]) / d[:, k], (b1 - a[:, k]) / d[:, k]
        flat = d[:, k] == 0
        inside = (a[:, k] >= b0) & (a[:, k] <= b1)
        lo = np.where(flat, np.where(inside, lo, 2.0), np.maximum(lo, np.minimum(t1, t2)))
        hi = np.where(flat, hi, np.minimum(hi, np.maximum(t1, t2)))
    return bool(np.any(lo <= hi))


def _cell_name_clashes(fig: Figure, names: set[str]) -> list[str]:
    """Each cell name's drawn text box against every edge line, arrow head, label box,
    node box and other text in the figure."""
    FigureCanvasAgg(fig)
    r = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    bad = []
    boxes = [(u, u.get_window_extent(r)) for u in ax.texts if u.get_text()]
    for t, bb in ((t, bb) for t, bb in boxes if t.get_text() in names):
        for p in ax.patches:
            if p.get_zorder() <= 0:  # the cells' own shaded boxes
                continue
            path = p.get_path().transformed(p.get_transform())
            if isinstance(p, PathPatch):
                if any(_segments_hit(np.asarray(poly), bb) for poly in path.to_polygons(closed_only=False)):
                    bad.append(f"{t.get_text()} / an edge")
            elif path.get_extents().overlaps(bb):
                bad.append(f"{t.get_text()} / a {type(p).__name__}")
        bad += [f"{t.get_text()} / text {u.get_text()!r}" for u, ub in boxes if u is not t and bb.overlaps(ub)]
    return bad


def test_cell_names_clear_of_edges_and_labels() -> None:
    """Issue 10: in DEGAS renderings the level names sat where the edges into the level's
    first node pass (every one of 15 random DEGAS derivations had a clash); random ones here."""
    from gcc_gan.genotype_dsl.analysis import analyze
    from gcc_gan.search.spaces.adversarialnas import AdvDims, SuperG, derive
    from gcc_gan.search.spaces.degas import DegasG, derive_degas

    rng = np.random.default_rng(0)
    cases = [(DegasG(16, 32, 4, n), lambda s: derive_degas(s)[0], {"level1", "level2", "level3"}) for n in (1, 2)]
    cases.append((SuperG(AdvDims(8, 8, 24, 4)), lambda s: derive(s, None)[0], {"cell1", "cell2", "cell3"}))
    for sup, der, names in cases:
        for _ in range(2):
            with torch.no_grad():
                for a in sup.arch_parameters():
                    a.copy_(torch.from_numpy(3 * rng.standard_normal(a.shape[0])))
            fig = render_network(analyze(der(sup)), "t")
            drawn = {t.get_text() for t in fig.axes[0].texts}
            assert names <= drawn and _cell_name_clashes(fig, names) == []
    for spec in ("zoo:adversarialnas",):
        _, infos = load_and_analyze(spec)
        info = infos["generator"]
        names = {n.cell for n in info.net.nodes if n.cell}
        assert _cell_name_clashes(render_network(info, spec), names) == []
