"""A small programmatic builder for networks (used by the native encodings, the zoo and
the searchers' derivation step).

It also records, for every parametrised op, the module path the published reference
implementation uses for it (`refs`), which is what weight import maps checkpoints with.
"""

from __future__ import annotations

import functools
from typing import Any

from .model import Edge, ImageInput, LatentInput, Network, Node, OpCall, Output

OpLike = str | dict[str, Any] | OpCall


def op(name: str, **params: Any) -> OpCall:
    try:
        return _op(name, tuple(sorted(params.items())))
    except TypeError:  # an unhashable parameter value: validated afresh
        return OpCall.of(name, **params)


@functools.lru_cache(maxsize=4096)
def _op(name: str, params: tuple[tuple[str, Any], ...]) -> OpCall:
    """One validated (frozen) OpCall per distinct op: the searchers build thousands of
    networks from the same few ops (budget tables, repair), and validation dominated that."""
    return OpCall.of(name, **dict(params))


class NetBuilder:
    def __init__(self, base_width: int) -> None:
        self.base_width = base_width
        self.inputs: list[LatentInput | ImageInput] = []
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.outputs: list[Output] = []
        #: reference module path -> (edge name, op index); several paths may alias one op
        self.refs: dict[str, tuple[str, int]] = {}

    def latent(self, name: str, dim: int) -> str:
        self.inputs.append(LatentInput(name=name, dim=dim))
        return name

    def image(self, name: str, size: int, channels: int = 3) -> str:
        self.inputs.append(ImageInput(name=name, size=size, channels=channels))
        return name

    def node(self, name: str, width: float | None = None, channels: int | None = None,
             cell: str | None = None) -> str:
        self.nodes.append(Node(name=name, width=width, channels=channels, cell=cell))
        return name

    def edge(self, src: str, dst: str, *ops: OpLike, name: str | None = None,
             refs: dict[int, str | list[str]] | None = None) -> None:
        calls = [o if isinstance(o, OpCall) else OpCall.model_validate(o) for o in ops]
        self.edges.append(Edge(src=src, dst=dst, ops=calls, name=name))
        for j, paths in (refs or {}).items():
            assert name is not None, "an edge with reference paths needs a name"
            for path in [paths] if isinstance(paths, str) else paths:
                self.refs[path] = (name, j)

    def output(self, name: str, node: str) -> None:
        self.outputs.append(Output(name=name, node=node))

    def has_node(self, name: str) -> bool:
        return any(n.name == name for n in self.nodes)

    def build(self) -> Network:
        return Network(base_width=self.base_width, inputs=self.inputs, nodes=self.nodes,
                       edges=self.edges, outputs=self.outputs)
