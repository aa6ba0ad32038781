"""The package's layers: which part of gcc_gan may import which.

The import graph of src/gcc_gan is read from the source (ast, every import: module level,
inside functions, under TYPE_CHECKING), so a lazy import cannot hide a back-arrow. A unit
is a top-level module (`gcc_gan/atomic.py` → "atomic") or subpackage ("bench"); the
package root is "<root>". `LAYERS` lists them from the bottom up: a unit imports only
units of lower layers, never one of its own layer or above. No import cycle between
modules either (a cycle inside a subpackage is as much a tangle as one between them).

Run as a script for the whole report: python tests/test_layers.py
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "<root>"

#: bottom to top; units in one layer are independent of each other
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "version", "seeding", "cache", "console", "signals", "presets", "timing"),
    ("units", "runlock", "pixels"),
    ("atomic",),
    ("checkpoints",),
    ("genotype_dsl", "executor", "distributed"),
    ("compiler", "viz"),
    ("export", "train"),
    ("bench",),
    ("search",),
    ("scale", "runtime"),
    ("api",),
    ("compress",),  # an application of the compiler and the API, as the CLI
    ("cli", ROOT),
)

#: cycles known and owned elsewhere, tolerated until their owner removes them (never add one
#: without an issue that removes it); none since issue 22's search redesign
KNOWN_CYCLES: list[list[str]] = []


def modules(src: Path = SRC) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package __init__)} under src/gcc_gan."""
    out = {}
    for p in sorted((src / "gcc_gan").rglob("*.py")):
        parts = list(p.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def _targets(mod: str, is_pkg: bool, node: ast.Import | ast.ImportFrom, known: dict) -> list[str]:
    """The gcc_gan modules one import statement names (`from .x import y` names x.y when y
    is a module, else x)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = mod.split(".") if is_pkg else mod.split(".")[:-1]
            base = base[:len(base) - node.level + 1]
            pkg = ".".join(base + ([node.module] if node.module else []))
        else:
            pkg = node.module or ""
        names = [f"{pkg}.{a.name}" if f"{pkg}.{a.name}" in known else pkg for a in node.names]
    out = []
    for name in names:
        if name != "gcc_gan" and not name.startswith("gcc_gan."):
            continue
        while name not in known:  # `import gcc_gan.x.y` of a name inside a module
            name = name.rsplit(".", 1)[0]
        out.append(name)
    return out


def import_graph(src: Path = SRC) -> dict[str, dict[str, int]]:
    """{module: {imported module: line}} over every import statement in the source."""
    known = modules(src)
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for mod, (path, is_pkg) in known.items():
        graph[mod]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for t in _targets(mod, is_pkg, node, known):
                    if t != mod:
                        graph[mod].setdefault(t, node.lineno)
    return dict(graph)


def unit(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def layer_of() -> dict[str, int]:
    return {u: i for i, layer in enumerate(LAYERS) for u in layer}


def upward_arrows(graph: dict[str, dict[str, int]]) -> list[str]:
    """'a.b:LINE imports c.d (layer X, not below Y)' for every import that is not downward."""
    level = layer_of()
    bad = []
    for mod, targets in sorted(graph.items()):
        for t, line in sorted(targets.items()):
            a, b = unit(mod), unit(t)
            if a != b and level[b] >= level[a]:
                bad.append(f"{mod}:{line} imports {t} ({b} is not below {a})")
    return bad


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


# --------------------------------------------------------------------------- tests


def test_every_unit_has_a_layer() -> None:
    units = {unit(m) for m in modules()}
    assert units - set(layer_of()) == set(), "add the new module or subpackage to LAYERS"
    assert set(layer_of()) - units == set(), "LAYERS names a unit that no longer exists"


def test_no_import_points_up_or_sideways() -> None:
    assert upward_arrows(import_graph()) == []


def test_no_import_cycles() -> None:
    assert [c for c in cycles(import_graph()) if c not in KNOWN_CYCLES] == []


def test_the_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: a back-arrow hidden in a function and a cycle are both found."""
    pkg = tmp_path / "gcc_gan"
    (pkg / "compiler").mkdir(parents=True)
    (pkg / "bench").mkdir()
    (pkg / "__init__.py").write_text("from .version import __version__\n")
    (pkg / "version.py").write_text("__version__ = '0'\n")
    for p in ("compiler", "bench"):
        (pkg / p / "__init__.py").write_text("")
    (pkg / "compiler" / "cost.py").write_text("def f():\n    from ..bench.latency import t\n    return t\n")
    (pkg / "bench" / "latency.py").write_text("from ..compiler import cost\nt = 1\n")
    graph = import_graph(tmp_path)
    assert graph["gcc_gan.compiler.cost"] == {"gcc_gan.bench.latency": 2}
    assert graph["gcc_gan.bench.latency"] == {"gcc_gan.compiler.cost": 1}
    assert graph["gcc_gan"] == {"gcc_gan.version": 1}
    assert upward_arrows(graph) == ["gcc_gan.compiler.cost:2 imports gcc_gan.bench.latency (bench is not below "
                                    "compiler)"]
    assert cycles(graph) == [["gcc_gan.bench.latency", "gcc_gan.compiler.cost"]]


if __name__ == "__main__":
    g = import_graph(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC)
    problems = upward_arrows(g) + [" ↔ ".join(c) + " (cycle)" + (" (known)" if c in KNOWN_CYCLES else "")
                                   for c in cycles(g)]
    print("\n".join(problems) or "no upward arrows, no cycles")
    sys.exit(1 if [p for p in problems if not p.endswith("(known)")] else 0)
