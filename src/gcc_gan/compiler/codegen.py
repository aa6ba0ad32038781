"""IR → standalone PyTorch source + state dict.

The generated file imports only torch and defines one `nn.Module` class, constructible
with no arguments, with named layers and a `forward` that reads like hand-written code.
Module constructors and forward expressions are the op registry's own source strings.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable, TypeVar

from torch import Tensor, nn

from ..genotype_dsl.ops import SOURCE_IMPORTS
from .ir import IREdge, IRGraph, IROp

SHORT = {"conv": "conv", "batch_norm": "bn", "linear": "linear", "conv_transpose": "convT",
         "sep_conv": "sepconv", "subpixel_conv": "subpixel", "instance_norm": "inorm"}
RESERVED = {"self", "torch", "nn", "F", "super", "print", "input", "sum", "len", "range", "list", "dict"}
MAX_LINE = 100
# oneDNN convolutions on CPU run markedly faster on channels-last (NHWC) tensors, and a
# conv with a channels-last weight produces channels-last activations, so the layout then
# flows through the network. The layout is invisible to results, ONNX and state dicts.
CHANNELS_LAST = [
    "        for m in self.modules():  # channels-last weights: faster CPU convolutions",
    "            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):",
    "                m.to(memory_format=torch.channels_last)",
]


# attributes every nn.Module instance has (`forward`, `training`, `__init__`, ...): a layer
# must never be assigned over one
MODULE_ATTRS = frozenset(dir(nn.Module()))


PRIMARY = (ast.Name, ast.Call, ast.Attribute, ast.Subscript)
Src = TypeVar("Src", str, "str | None")


def _primary(x: str) -> bool:
    return x.isidentifier() or isinstance(ast.parse(x, mode="eval").body, PRIMARY)


def substitute(src: Callable[..., Src], *xs: str) -> Src:
    """`src(*xs)`: a source built around the expressions `xs`, each parenthesised where
    Python's precedence would otherwise bind part of it to the surrounding source. Op
    sources return expressions such as pixel norm's `a * torch.rsqrt(...)`: as the receiver
    of `.add_(b)` or `.flatten(1)` unparenthesised, the call would apply to the rsqrt
    factor alone (a wrong value, or an in-place add that cannot broadcast). Parentheses are
    added only where they change the parse, so the generated code stays as written."""
    raw = src(*xs)
    if raw is None or all(_primary(x) for x in xs):  # a primary binds tighter than anything around it
        return raw
    wrapped = src(*(x if _primary(x) else f"({x})" for x in xs))
    assert wrapped is not None
    return raw if ast.dump(ast.parse(raw, mode="eval")) == ast.dump(ast.parse(wrapped, mode="eval")) else wrapped


@dataclass(frozen=True)
class Term:
    """One edge's contribution to a node: its source expression, whether it may be
    overwritten, and its last op with that op's input expression (for add_into_src)."""

    expr: str
    writable: bool
    last: IROp | None = None
    pre: str | None = None

    def add_into(self, acc: str = "acc") -> tuple[str, tuple[str, ...]] | None:
        """`add_into_src` of the last op (None: it has no such form)."""
        if self.last is None or self.pre is None:
            return None
        spec, p, ctx = self.last.spec, self.last.call.params, self.last.ctx
        view = spec.add_into_src(p, ctx, acc, self.pre)
        if view is None:
            return None
        return substitute(lambda a, x: spec.add_into_src(p, ctx, a, x)[0], acc, self.pre), view[1]  # type: ignore[index]

    def named(self, name: str) -> "Term":
        """The term once its expression (or, for add_into, its last op's input) is `name`."""
        if self.last is not None and self.add_into():
            return Term(self.last.spec.codegen_src(self.last.call.params, self.last.ctx, name, ""), self.writable,
                        self.last, name)
        return Term(name, self.writable)


def combine(terms: list[Term], need: Callable[[tuple[str, ...]], None]) -> str:
    """Source of the sum of `terms`: accumulated in place into the first writable term when
    there is one (a nearest-upsampled term through its op's add_into_src), else `a + b`."""
    acc = next((i for i, t in enumerate(terms) if t.writable), None)
    if len(terms) == 1 or acc is None:
        return " + ".join(t.expr for t in terms)
    expr = terms[acc].expr
    for i, t in enumerate(terms):
        if i == acc:
            continue
        view = t.add_into(expr)
        if view:
            expr, srcs = view
            need(srcs)
        else:
            expr = substitute(lambda a, b: f"{a}.add_({b})", expr, t.expr)
    return expr


def ident(name: str) -> str:
    """A valid Python identifier for `name`, neither reserved nor an nn.Module attribute
    (so it can name a layer `self.X` as well as a local variable)."""
    s = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not s or s[0].isdigit():
        s = f"v_{s}"
    if keyword.iskeyword(s) or s in RESERVED or s in MODULE_ATTRS:
        s = f"{s}_"
    return s


def docstring(text: str) -> str:
    """A string literal of `text` for a docstring: triple-quoted when that is exact, else
    the repr (user strings such as a genotype's name may hold quotes, backslashes, NUL,
    lone surrogates; none of them may change or break the generated source)."""
    if all(c.isprintable() or c == "\n" for c in text) and '"""' not in text and "\\" not in text:
        return f'"""{text}\n"""'
    return repr(text + "\n")


def generate(g: IRGraph, class_name: str, header: str = "") -> tuple[str, dict[str, Tensor]]:
    """Source of a standalone module class for `g`, and the state dict it loads."""
    taken: set[str] = set()

    def unique(base: str) -> str:
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        return name

    var = {n: unique(ident(n)) for n in [*g.inputs, *g.nodes]}
    init_lines: list[str] = []
    state: dict[str, Tensor] = {}
    helpers: list[str] = []

    def need(srcs: tuple[str, ...]) -> None:
        helpers.extend(h for h in srcs if h not in helpers)

    mod_names: dict[tuple[int, int], str] = {}
    for ei, e in enumerate(g.edges):
        stateful = [j for j, op in enumerate(e.ops) if op.spec.init_src(op.call.params, op.ctx) is not None]
        for j in stateful:
            op = e.ops[j]
            base = ident(e.name) if len(stateful) == 1 else f"{ident(e.name)}_{SHORT.get(op.call.op, op.call.op)}"
            name = unique(base)
            mod_names[(ei, j)] = name
            init_lines.append(f"        self.{name} = {op.spec.init_src(op.call.params, op.ctx)}")
            for k, v in op.tensors.items():
                state[f"{name}.{k}"] = v
        for op in e.ops:
            need(op.spec.helpers)

    # In place where nothing can tell (eager CPU speed: each new large tensor costs an
    # allocation that page-faults, and ReLUs and sums are memory-bound): a value is
    # *writable* when it is a new tensor that nothing else reads and whose producer's
    # backward does not keep it (OpSpec.writable). Activations on writable values run in
    # place, a sum accumulates into a writable term, and a nearest-upsampled term is added
    # through a broadcasting view instead of being built.
    uses: dict[str, int] = dict.fromkeys([*g.inputs, *g.nodes], 0)
    for e in g.edges:
        for s_ in e.srcs:
            uses[s_] += 1
    for _, n in g.outputs:
        uses[n] += 1
    writable = dict.fromkeys(g.inputs, False)

    body: list[str] = []
    into: dict[str, list[tuple[int, IREdge]]] = {}  # one O(E) map: codegen stays linear
    for ei, e in enumerate(g.edges):
        into.setdefault(e.dst, []).append((ei, e))
    for node in g.nodes:
        terms: list[Term] = []
        tmps: dict[int, str] = {}
        for ei, e in into.get(node, []):
            srcs = [var[s_] for s_ in e.srcs]
            src = srcs[0] if len(srcs) == 1 else f"torch.cat([{', '.join(srcs)}], dim=1)"
            fresh = len(srcs) > 1 or (writable[e.srcs[0]] and uses[e.srcs[0]] == 1)

            def chain(x: str, emit: list[str] | None = None, tmp: str = "") -> Term:
                w, pre = fresh, None
                for j, op in enumerate(e.ops):
                    m = f"self.{mod_names[(ei, j)]}" if (ei, j) in mod_names else ""
                    ip = substitute(partial(op.spec.inplace_src, op.call.params, op.ctx, m=m), x) if w else None
                    pre, x = x, ip or substitute(partial(op.spec.codegen_src, op.call.params, op.ctx, m=m), x)
                    w = False if ip else (w if op.spec.writable is None else bool(op.spec.writable))
                    if emit is not None and j < len(e.ops) - 1:
                        emit.append(f"        {tmp} = {x}")
                        x = tmp
                return Term(x, w, e.ops[-1] if e.ops else None, pre)

            term = chain(src)
            if len(term.expr) > MAX_LINE - 30:  # long nesting: one statement per op
                tmp = unique(f"{var[node]}_{len(terms)}")  # never another node's variable
                tmps[len(terms)] = tmp
                term = chain(src, body, tmp)
            terms.append(term)
        line = f"        {var[node]} = {combine(terms, need)}"
        if len(line) > MAX_LINE and len(terms) > 1:  # one statement per term
            named = []
            for k, t in enumerate(terms):
                part = t.pre if t.add_into() else t.expr  # an upsampled term is named before its upsample
                if part is not None and not part.isidentifier():
                    name = tmps.get(k) or unique(f"{var[node]}_{k}")  # a term's own temporary is free again
                    body.append(f"        {name} = {part}")
                    t = t.named(name)
                named.append(t)
            line = f"        {var[node]} = {combine(named, need)}"
        body.append(line)
        writable[node] = len(terms) > 1 or terms[0].writable
    outs = [var[n] for _, n in g.outputs]
    body.append(f"        return {outs[0] if len(outs) == 1 else '(' + ', '.join(outs) + ')'}")

    args = ", ".join(f"{var[i]}: torch.Tensor" for i in g.inputs)
    sig_doc = ", ".join(f"{var[i]}: N×{'×'.join(map(str, s))}" for i, s in g.inputs.items())
    out_doc = ", ".join(f"{o}: N×{'×'.join(map(str, g.nodes[n]))}" for o, n in g.outputs)
    src = [docstring(header.strip()) if header else "", "", SOURCE_IMPORTS.rstrip(), ""]
    constants = []
    if class_name == "Generator" and len(g.inputs) == 1 and len(next(iter(g.inputs.values()))) == 1:
        constants = [f"LATENT_DIM = {next(iter(g.inputs.values()))[0]}  # size of the latent vector z"]
        src += [*constants, ""]
    for h in helpers:
        src += ["", h.strip(), ""]
    src += [
        "",
        f"class {class_name}(nn.Module):",
        f'    """Inputs: {sig_doc}. Output: {out_doc}. Call .eval() for inference."""',
        "",
        *(["    latent_dim = LATENT_DIM", ""] if constants else []),
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *init_lines,
        *(CHANNELS_LAST if any("nn.Conv" in line for line in init_lines) else []),
        "",
        f"    def forward(self, {args}) -> torch.Tensor:",
        *body,
        "",
    ]
    return "\n".join(src).lstrip("\n"), state
