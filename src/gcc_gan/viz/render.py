"""Pictures of a network's DAG with matplotlib (no graphviz binary).

Nodes show their name and shape; each edge carries its op pipeline (`OpCall.label()`
joined with ` → `) in a label box right above the node it feeds; nodes of one `cell` share
a colour and a shaded box; inputs and outputs have their own colours. Layout: see
`layout.py`. Figures are built without pyplot (no global backend state), in typographic
points: one data unit = 1 pt, so text sizes and box sizes agree.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.colors import to_rgb
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
from matplotlib.path import Path as MplPath
from matplotlib.textpath import text_to_path

from ..atomic import atomic_write_bytes
from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo
from ..genotype_dsl.model import Genotype, ImageInput
from ..genotype_dsl.ops import fmt_shape
from .layout import Item, LaidEdge, Layout, layered_layout

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
NAME_PT, SHAPE_PT, LABEL_PT, TITLE_PT = 9.0, 8.0, 7.5, 11.0
PAD_X, PAD_Y, LINE = 7.0, 5.0, 1.25  # box padding (pt), line spacing factor
LABEL_MAX_CHARS = 30  # wrap longer pipelines at " → "
CELL_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
                "#CCB974", "#64B5CD"]
INPUT_COLOUR, OUTPUT_COLOUR, PLAIN_COLOUR = "#2E7D32", "#E65100", "#546E7A"
MAX_PIXELS = 30000  # Agg's limit is 2^16 per side; stay well below


def clean_text(s: str, limit: int | None = None, newlines: bool = True) -> str:
    """Text safe to draw: control characters escaped, optionally one line and shortened."""
    out = "".join(c if c.isprintable() or (newlines and c == "\n") else f"\\x{ord(c):02x}" for c in s)
    return out if limit is None or len(out) <= limit else out[:limit - 1] + "…"


def _text(ax: Axes, x: float, y: float, s: str, **kw: Any) -> None:
    # parse_math off: a '$' in a user's name must not start TeX math
    ax.text(x, y, clean_text(s), parse_math=False, **kw)


def _text_size(s: str, size: float, bold: bool = False) -> tuple[float, float]:
    s = clean_text(s)
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    lines = s.split("\n")
    w = max(text_to_path.get_text_width_height_descent(ln, prop, ismath=False)[0] for ln in lines)
    return w, size * LINE * len(lines)


def _mix(colour: str, amount: float) -> tuple[float, float, float]:
    """`colour` blended toward white by `amount` (0 = colour, 1 = white)."""
    r, g, b = to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _dark(colour: str, amount: float = 0.25) -> tuple[float, float, float]:
    r, g, b = to_rgb(colour)
    return (r * (1 - amount), g * (1 - amount), b * (1 - amount))


def wrap_pipeline(labels: list[str], max_chars: int = LABEL_MAX_CHARS) -> str:
    """Join op labels with ' → ', breaking lines between ops once a line gets long."""
    lines: list[str] = []
    cur = ""
    for lab in labels:
        piece = lab if not cur else f"{cur} → {lab}"
        if cur and len(piece) > max_chars:
            lines.append(cur + " →")
            cur = lab
        else:
            cur = piece
    lines.append(cur)
    return "\n".join(lines)


@dataclass
class _Box:
    """What a layout node stands for."""

    kind: str  # "input" | "node" | "output"
    title: str
    subtitle: str
    cell: str | None = None


def _boxes(info: NetInfo) -> dict[str, _Box]:
    net = info.net
    boxes: dict[str, _Box] = {}
    for inp in net.inputs:
        sub = f"image {fmt_shape(info.shapes[inp.name])}" if isinstance(inp, ImageInput) else \
            f"latent {fmt_shape(info.shapes[inp.name])}"
        boxes[inp.name] = _Box("input", inp.name, sub)
    for node in net.nodes:
        cell = clean_text(node.cell, 40, newlines=False) if node.cell else None
        boxes[node.name] = _Box("node", node.name, fmt_shape(info.shapes[node.name]), cell)
    for out in net.outputs:
        boxes[f"output:{out.name}"] = _Box("output", out.name, f"output {fmt_shape(info.shapes[out.node])}")
    return boxes


def _cell_colours(info: NetInfo) -> dict[str, str]:
    cells: list[str] = []
    for b in _boxes(info).values():
        if b.cell and b.cell not in cells:
            cells.append(b.cell)
    return {c: CELL_COLOURS[i % len(CELL_COLOURS)] for i, c in enumerate(cells)}


def layout_network(info: NetInfo) -> tuple[Layout, dict[str, _Box], list[str]]:
    """The layout of a network: one box per input, node and output, one labelled edge per
    network edge (plus an unlabelled one from each output's node to its output box)."""
    boxes = _boxes(info)
    sizes = []
    for key, b in boxes.items():
        w1, h1 = _text_size(b.title, NAME_PT, bold=True)
        w2, h2 = _text_size(b.subtitle, SHAPE_PT)
        sizes.append((key, max(w1, w2) + 2 * PAD_X, h1 + h2 + 2 * PAD_Y))
    texts: list[str] = []
    edges: list[tuple[str, str, tuple[float, float] | None]] = []
    for e in info.net.edges:
        text = wrap_pipeline([op.label() for op in e.ops])
        w, h = _text_size(text, LABEL_PT)
        texts.append(text)
        edges.append((e.src, e.dst, (w + 8.0, h + 4.0)))
    for out in info.net.outputs:
        edges.append((out.node, f"output:{out.name}", None))
    return layered_layout(sizes, edges), boxes, texts


def _ports(lay: Layout) -> dict[tuple[int, str], float]:
    """x of each edge where it leaves its source / enters its destination, spread over the
    box's width in the order of the neighbouring items (so arrows do not pile up)."""
    ports: dict[tuple[int, str], float] = {}
    out_by: dict[str, list[LaidEdge]] = {}
    in_by: dict[str, list[LaidEdge]] = {}
    for e in lay.edges:
        out_by.setdefault(e.src.key, []).append(e)
        in_by.setdefault(e.dst.key, []).append(e)
    for groups, end, nxt in ((out_by, "src", lambda e: (e.chain[0] if e.chain else e.dst).x),
                             (in_by, "dst", lambda e: (e.chain[-1] if e.chain else e.src).x)):
        for key, es in groups.items():
            box = lay.nodes[key]
            es = sorted(es, key=nxt)
            span = min(box.w * 0.7, 12.0 * (len(es) - 1))
            for i, e in enumerate(es):
                off = 0.0 if len(es) == 1 else -span / 2 + span * i / (len(es) - 1)
                ports[(e.index, end)] = box.x + off
    return ports


def _edge_path(e: LaidEdge, x0: float, x1: float) -> tuple[MplPath, tuple[float, float]]:
    """A smooth path from the source's bottom to the destination's top (returned: the path
    and the arrow tip). Vertical where it leaves or enters a box, a Catmull-Rom curve
    through the dummy points of a long edge, straight through its label box (always the
    last item of the chain: it sits right above the destination)."""
    pts: list[tuple[float, float]] = [(x0, e.src.bottom)]
    vertical = [True]
    for it in e.chain:
        if it.kind == "label":
            pts += [(it.x, it.top), (it.x, it.bottom)]
            vertical += [True, True]
        else:
            pts.append((it.x, it.y))
            vertical.append(False)
    pts.append((x1, e.dst.top - 5.5))  # the line stops where the arrow head starts
    vertical.append(True)
    label_top = len(pts) - 3 if e.label is not None else -1

    def control(k: int, toward: int) -> tuple[float, float]:
        (x, y), (_, ty) = pts[k], pts[toward]
        if vertical[k]:
            return x, y + (ty - y) / 2
        (px, py), (nx, ny) = pts[k - 1], pts[k + 1]
        sign = 1 if toward > k else -1
        return x + sign * (nx - px) / 6, y + sign * (ny - py) / 6

    verts = [pts[0]]
    codes = [MplPath.MOVETO]
    for k in range(len(pts) - 1):
        if k == label_top:  # through the label box (drawn over the line)
            verts.append(pts[k + 1])
            codes.append(MplPath.LINETO)
        else:
            verts += [control(k, k + 1), control(k + 1, k), pts[k + 1]]
            codes += [MplPath.CURVE4] * 3
    return MplPath(verts, codes), (x1, e.dst.top)


def _polylines(path: MplPath) -> list[list[tuple[float, float]]]:
    return [[(float(x), float(y)) for x, y in poly] for poly in path.to_polygons(closed_only=False)]


def _extent(line: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in line], [y for _, y in line]
    return min(xs), min(ys), max(xs), max(ys)


def _blocked(band: tuple[float, float], lines: list[list[tuple[float, float]]],
             rects: list[tuple[float, float, float, float]], pad: float = 3.0) -> list[tuple[float, float]]:
    """x intervals inside the horizontal band [ya, yb] where a line or a box
    (x0, y0, x1, y1) passes."""
    ya, yb = band
    out: list[tuple[float, float]] = []
    for poly in lines:
        for (px, py), (qx, qy) in zip(poly, poly[1:]):
            lo, hi = max(min(py, qy), ya), min(max(py, qy), yb)
            if lo > hi:
                continue
            if py == qy:
                xs: tuple[float, ...] = (px, qx)
            else:  # where the segment enters and leaves the band
                xs = tuple(px + (qx - px) * (y - py) / (qy - py) for y in (lo, hi))
            out.append((min(xs) - pad, max(xs) + pad))
    out += [(x0 - pad, x1 + pad) for x0, y0, x1, y1 in rects if y0 <= yb and y1 >= ya]
    return out


def _free_spot(blocked: list[tuple[float, float]], lo: float, hi: float, w: float) -> float | None:
    """The leftmost x in [lo, hi - w] where [x, x + w] meets no blocked interval, or None."""
    x = lo
    for a, b in sorted(blocked):
        if a >= x + w:
            break
        x = max(x, b)
    return x if x + w <= hi else None


def _tag_spot(box: tuple[float, float, float, float], w: float, h: float, lines: list[list[tuple[float, float]]],
              rects: list[tuple[float, float, float, float]]) -> tuple[float, float] | None:
    """Where a cell's name (w × h) fits inside its box (x0, y0, x1, y1) without touching an
    edge or a box: the highest such place, leftmost on its line (the top band first, where
    it reads as a heading); None when there is none."""
    x0, y0, x1, y1 = box

    def meets(r: tuple[float, float, float, float]) -> bool:
        return r[0] <= x1 and r[2] >= x0 and r[1] <= y1 and r[3] >= y0

    near = [ln for ln in lines if meets(_extent(ln))]
    near_rects = [r for r in rects if meets(r)]
    y = y0 + 3
    while y + h <= y1 - 2:
        x = _free_spot(_blocked((y, y + h), near, near_rects), x0 + 6, x1 - 6, w)
        if x is not None:
            return x, y
        y += 3
    return None


def render_network(info: NetInfo, title: str = "") -> Figure:
    """A matplotlib Figure of the network's DAG."""
    lay, boxes, texts = layout_network(info)
    colours = _cell_colours(info)

    def colour_of(key: str) -> str:
        b = boxes[key]
        if b.kind == "input":
            return INPUT_COLOUR
        if b.kind == "output":
            return OUTPUT_COLOUR
        return colours.get(b.cell or "", PLAIN_COLOUR)

    # legend entries first: the figure must be wide enough for them and the title
    entries = [("input", INPUT_COLOUR, True), ("output", OUTPUT_COLOUR, True)]
    entries += [(c, col, False) for c, col in colours.items()]
    if any(b.kind == "node" and not b.cell for b in boxes.values()):
        entries.append(("node", PLAIN_COLOUR, False))
    legend_w = sum(19 + _text_size(name, SHAPE_PT)[0] + 16 for name, _, _ in entries)
    title_w, title_h = _text_size(title, TITLE_PT, bold=True) if title else (0.0, 0.0)
    title_h = title_h + 16.0 if title else 0.0
    margin, legend_h = 24.0, 24.0
    W = max(lay.width, title_w + 12, legend_w, 240.0) + 2 * margin
    H = lay.height + 2 * margin + title_h + legend_h
    fig = Figure(figsize=(W / 72.0, H / 72.0))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    shift = (W - 2 * margin - lay.width) / 2  # centre the graph
    ax.set_xlim(-margin - shift, W - margin - shift)
    ax.set_ylim(H - margin - title_h, -margin - title_h)  # y grows downward
    ax.axis("off")
    left = -shift
    if title:
        _text(ax, left, -title_h - 6, title, fontsize=TITLE_PT, va="top", ha="left", fontweight="bold",
                color="#222222", linespacing=LINE)

    # edge geometry first: the cells' name tags go where no edge passes
    ports = _ports(lay)
    paths = {e.index: _edge_path(e, ports[(e.index, "src")], ports[(e.index, "dst")]) for e in lay.edges}

    # cells: a shaded box around each cell's nodes and the labels of edges inside it
    members: dict[str, list[Item]] = {}
    for key, b in boxes.items():
        if b.cell:
            members.setdefault(b.cell, []).append(lay.nodes[key])
    first_rank = {c: min(i.rank for i in its) for c, its in members.items()}
    for e in lay.edges:  # labels of edges into a cell's nodes, except those above the cell
        c = boxes[e.dst.key].cell
        if c and e.label is not None and e.label.rank > first_rank[c]:
            members[c].append(e.label)
    lines = [ln for path, (tx, ty) in paths.values()
             for ln in _polylines(path) + [[(tx - 3.5, ty - 6.5), (tx, ty), (tx + 3.5, ty - 6.5)]]]
    rects = [(it.left, it.top, it.right, it.bottom) for rank in lay.ranks for it in rank if it.kind != "dummy"]
    for cell, its in members.items():
        x0 = min(i.left for i in its) - 10
        x1 = max(i.right for i in its) + 10
        y0 = min(i.top for i in its) - 16
        y1 = max(i.bottom for i in its) + 8
        col = colours[cell]
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=8",
                                    facecolor=_mix(col, 0.92), edgecolor=_mix(col, 0.45), linewidth=1.0,
                                    linestyle=(0, (4, 2)), zorder=0))
        # the name goes where no edge or box passes (the top band, which the edges into the
        # cell's first nodes cross, when they leave room); failing that at the top left on a
        # patch of the cell's shade. Either way the legend names the colour too.
        tw, th = _text_size(cell, SHAPE_PT, bold=True)
        spot = _tag_spot((x0, y0, x1, y1), tw + 2, th, lines, rects)
        tx, ty = spot if spot is not None else (x0 + 6, y0 + 3)
        _text(ax, tx + 1, ty, cell, fontsize=SHAPE_PT, fontweight="bold", color=_dark(col), va="top",
                ha="left", zorder=4.5, **({} if spot is not None else dict(
                    bbox=dict(boxstyle="round,pad=0.15", facecolor=_mix(col, 0.92), edgecolor="none"))))
        rects.append((tx, ty, tx + tw + 2, ty + th))

    # edges under everything else; colour of the source, so long edges can be followed
    for e in lay.edges:
        col = _dark(colour_of(e.src.key), 0.15)
        path, (ax_, ay) = paths[e.index]
        ax.add_patch(PathPatch(path, facecolor="none", edgecolor=col, linewidth=1.1, zorder=2,
                               capstyle="round"))
        ax.add_patch(Polygon([(ax_ - 3.5, ay - 6.5), (ax_ + 3.5, ay - 6.5), (ax_, ay)], closed=True,
                             facecolor=col, edgecolor=col, linewidth=0.5, zorder=3))
        if e.label is not None:
            lab = e.label
            ax.add_patch(FancyBboxPatch((lab.left, lab.top), lab.w, lab.h, boxstyle="round,pad=0,rounding_size=3",
                                        facecolor="white", edgecolor=_mix(col, 0.35), linewidth=0.8, zorder=4))
            _text(ax, lab.x, lab.y, texts[e.index], fontsize=LABEL_PT, ha="center", va="center", color="#263238",
                    zorder=5, linespacing=LINE)

    # nodes
    for key, b in boxes.items():
        it = lay.nodes[key]
        col = colour_of(key)
        solid = b.kind in ("input", "output")
        face = _mix(col, 0.0 if solid else 0.78)
        ax.add_patch(FancyBboxPatch((it.left, it.top), it.w, it.h, boxstyle="round,pad=0,rounding_size=5",
                                    facecolor=face, edgecolor=_dark(col, 0.2), linewidth=1.6 if solid else 1.0,
                                    zorder=6))
        fg = "white" if solid else "#111111"
        mid = it.top + PAD_Y + NAME_PT * LINE / 2
        _text(ax, it.x, mid, b.title, fontsize=NAME_PT, fontweight="bold", ha="center", va="center", color=fg,
                zorder=7)
        _text(ax, it.x, mid + NAME_PT * LINE / 2 + SHAPE_PT * LINE / 2, b.subtitle, fontsize=SHAPE_PT,
                ha="center", va="center", color=fg if solid else "#37474F", zorder=7)

    # legend along the bottom
    ly = lay.height + margin - 2
    x = left
    for name, col, solid in entries:
        ax.add_patch(FancyBboxPatch((x, ly), 14, 10, boxstyle="round,pad=0,rounding_size=2",
                                    facecolor=_mix(col, 0.0 if solid else 0.78), edgecolor=_dark(col, 0.2),
                                    linewidth=1.0))
        _text(ax, x + 19, ly + 5, name, fontsize=SHAPE_PT, va="center", ha="left", color="#37474F")
        x += 19 + _text_size(name, SHAPE_PT)[0] + 16
    return fig


def _fmt_count(n: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            v = n / scale
            return f"{v:.1f} {prefix} {unit}" if v >= 100 else f"{v:.2f} {prefix} {unit}"
    return f"{n:,.0f} {unit}"


def picture_format(path: str | os.PathLike[str]) -> str:
    """The matplotlib format for an output path; GccGanError for an unknown extension."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise GccGanError(f"{path}: unknown picture format {ext or '(no extension)'!r}; "
                          f"use one of {', '.join(FORMATS)}")
    return FORMATS[ext]


def render_genotype(g: Genotype, infos: dict[str, NetInfo], path: str | os.PathLike[str],
                    net: str = "generator", dpi: float = 130.0) -> None:
    """Draw network `net` of `g` into `path` (.png, .svg or .pdf), written atomically."""
    fmt = picture_format(path)
    if net not in infos:
        have = " and ".join(infos) or "no network"
        raise GccGanError(f"this genotype has no {net} (it has {have})")
    info = infos[net]
    name = clean_text(g.name or Path(str(path)).stem, 80, newlines=False)
    title = (f"{name} — {net}\n{_fmt_count(info.params, 'params')} · {_fmt_count(info.macs, 'MACs')} · "
             f"{len(info.net.nodes)} nodes · {len(info.net.edges)} edges")
    buf = io.BytesIO()
    with rc_context({"svg.hashsalt": "gcc-gan"}), warnings.catch_warnings():  # stable SVG ids
        warnings.filterwarnings("ignore", message="Glyph .* missing")  # e.g. emoji in a name
        fig = render_network(info, title=title)
        w, h = fig.get_size_inches()
        dpi = min(dpi, MAX_PIXELS / max(w, h, 1e-9))
        fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=_metadata(fmt))
    atomic_write_bytes(path, buf.getvalue())


def _metadata(fmt: str) -> dict[str, str | None]:
    # drop timestamps / software versions so the same genotype gives the same file
    if fmt == "svg":
        return {"Date": None, "Creator": None}
    if fmt == "pdf":
        return {"CreationDate": None, "Producer": None, "Creator": None}
    return {"Software": None}
