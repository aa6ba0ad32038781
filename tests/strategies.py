"""Hypothesis strategies for the genotype DSL.

* `network_dicts` / `networks` / `genotypes`: random VALID networks, built by construction
  (every edge's pipeline is chosen so the registry's shape rules carry its source's shape to
  its destination's, and checked with those rules as it is built), so no draw is thrown
  away. They are small (base width 2–8, ≤ ~12 nodes, maps ≤ 16×16, latent ≤ 16) but
  deliberately contain the patterns a compiler rewrites: upsample/activation/conv orders,
  foldable `[conv, batch_norm]`, parallel linear convs from one source or from several,
  nodes fed only by an upsample whose consumers are convs, identity and `none` edges next to
  real ones, skip connections across resolutions, vector nodes, several inputs/outputs.
* `corruptions(valid)`: a broken version of a valid genotype, as the bytes of a file, each
  kind guaranteed to be invalid (so a loader must reject every draw).

Reused by the compiler's pass-equivalence tests: import from `strategies` (tests/ is on
sys.path under pytest).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hypothesis import strategies as st

from gcc_gan.genotype_dsl.model import SCHEMA_VERSION, Genotype, Network, Node
from gcc_gan.genotype_dsl.ops import REGISTRY, OpCtx, Shape, get_spec, parse_params

OpD = str | dict[str, Any]
Draw = Callable[[st.SearchStrategy[Any]], Any]

MAX_SIZE = 16


# ---------------------------------------------------------------------------------------
# shape tracking with the registry's own rules


def pipeline_shape(ops: list[OpD], in_shape: Shape, dst_c: int, base_width: int) -> Shape:
    """The output shape of an op pipeline, computed with the registry's shape rules and the
    same channel convention as `analysis` (channel-producing ops default to the
    destination node's channels)."""
    cur = in_shape
    for o in ops:
        name, raw = (o, {}) if isinstance(o, str) else (o["op"], {k: v for k, v in o.items() if k != "op"})
        spec = get_spec(name)
        p = parse_params(spec, raw)
        out_c = cur[0]
        if spec.produces_channels:
            if getattr(p, "out_channels", None) is not None:
                out_c = p.out_channels
            elif getattr(p, "out_width", None) is not None:
                out_c = max(1, round(p.out_width * base_width))
            else:
                out_c = dst_c
        cur = spec.shape(p, OpCtx(cur, out_c))
    return cur


# ---------------------------------------------------------------------------------------
# single ops


def _op(draw: Draw, name: str, **params: Any) -> OpD:
    """`name` with `params`, written as the bare-string shorthand or the object form."""
    if not params and draw(st.integers(0, 3)) > 0:
        return name
    return {"op": name, **params}


def _act(draw: Draw) -> OpD:
    kind = draw(st.sampled_from(["relu", "relu", "leaky_relu", "tanh"]))
    if kind == "leaky_relu":
        return _op(draw, "leaky_relu", **draw(st.sampled_from([{}, {"slope": 0.1}, {"slope": 0.2}])))
    return _op(draw, kind)


def _conv(draw: Draw, *, kernels: tuple[int, ...] = (1, 3, 5), stride: int = 1, linear_only: bool = False,
          **fixed: Any) -> dict[str, Any]:
    """A random conv: kernel, dilation, bias, spectral norm; defaults sometimes spelled out
    (the canonical JSON must omit them again)."""
    k = draw(st.sampled_from(kernels))
    d: dict[str, Any] = {"op": "conv"}
    if k != 3 or draw(st.booleans()):
        d["kernel"] = k
    if stride != 1 or draw(st.integers(0, 5)) == 0:
        d["stride"] = stride
    if k > 1 and draw(st.integers(0, 3)) == 0:
        d["dilation"] = 2
    if draw(st.integers(0, 3)) == 0:
        d["bias"] = False
    if not linear_only and draw(st.integers(0, 5)) == 0:
        d["sn"] = True
    d.update(fixed)
    return d


def _divisors(n: int) -> list[int]:
    return [g for g in range(2, n + 1) if n % g == 0]


# ---------------------------------------------------------------------------------------
# pipelines between shapes. Each returns ops carrying (c, h, h) / (n,) to the destination
# shape; channel-producing ops default to the destination's channels.


def _same_res(draw: Draw, c: int, C: int, h: int) -> list[OpD]:
    opts = ["act_conv", "conv_bn", "conv_bn_relu", "bn_relu_conv", "pixnorm_conv", "sep", "pool_conv",
            "mbstd_conv", "bottleneck", "tanh_conv", "linear_conv", "two_convs"]
    if h > 1:
        opts.append("in_relu_conv")
    if set(_divisors(c)) & set(_divisors(C)):
        opts.append("grouped")
    if C % c == 0:
        opts.append("depthwise")
    if c == C:
        opts += ["identity", "identity", "act", "norm_only"]
    kind = draw(st.sampled_from(opts))
    if kind == "act_conv":
        return [_act(draw), _conv(draw)]
    if kind == "conv_bn":  # foldable batch norm
        return [_conv(draw, linear_only=True), _op(draw, "batch_norm")]
    if kind == "conv_bn_relu":
        return [_conv(draw, linear_only=True), _op(draw, "batch_norm"), _op(draw, "relu")]
    if kind == "bn_relu_conv":
        return [_op(draw, "batch_norm"), _op(draw, "relu"), _conv(draw)]
    if kind == "in_relu_conv":
        norm = _op(draw, "instance_norm", **draw(st.sampled_from([{}, {"affine": True}])))
        return [norm, _op(draw, "relu"), _conv(draw)]
    if kind == "pixnorm_conv":
        return [_op(draw, "pixel_norm"), _conv(draw)]
    if kind == "sep":
        sep: dict[str, Any] = {"op": "sep_conv", "kernel": draw(st.sampled_from([3, 5]))}
        if draw(st.booleans()):
            sep["dilation"] = 2
        if draw(st.booleans()):
            sep["bias"] = False
        return [_op(draw, "relu"), sep]
    if kind == "pool_conv":
        pool = draw(st.sampled_from(["avg_pool", "max_pool"]))
        return [{"op": pool, "kernel": 3, "stride": 1, "padding": 1}, _conv(draw, kernels=(1,))]
    if kind == "mbstd_conv":  # adds a channel, the conv takes it away again
        return [_op(draw, "minibatch_stddev"), _conv(draw, kernels=(1, 3))]
    if kind == "bottleneck":
        mid = draw(st.sampled_from([{"out_width": 0.5}, {"out_width": 2.0}, {"out_channels": 3}]))
        return [_conv(draw, kernels=(1,), **mid), _act(draw), _conv(draw)]
    if kind == "tanh_conv":
        return [_op(draw, "tanh"), _conv(draw, kernels=(1,))]
    if kind == "linear_conv":
        return [_conv(draw, linear_only=True)]
    if kind == "two_convs":
        return [_conv(draw, linear_only=True), _conv(draw, linear_only=True)]
    if kind == "grouped":
        g = draw(st.sampled_from(sorted(set(_divisors(c)) & set(_divisors(C)))))
        return [_act(draw), _conv(draw, groups=g)]
    if kind == "depthwise":
        return [_conv(draw, depthwise=True)]
    if kind == "identity":
        return [_op(draw, "identity")]
    if kind == "act":
        return [_act(draw)]
    assert kind == "norm_only"
    return [draw(st.sampled_from([_op(draw, "batch_norm"), _op(draw, "pixel_norm")]))]


def _up_mode(draw: Draw) -> str:
    return draw(st.sampled_from(["nearest", "nearest", "bilinear"]))


def _upsample(draw: Draw, mode: str, scale: int = 2) -> OpD:
    d: dict[str, Any] = {"op": "upsample"}
    if mode != "nearest" or draw(st.booleans()):
        d["mode"] = mode
    if scale != 2 or draw(st.integers(0, 3)) == 0:
        d["scale"] = scale
    return d if len(d) > 1 else _op(draw, "upsample")


def _up2(draw: Draw, c: int, C: int) -> list[OpD]:
    opts = ["up_relu_conv3", "relu_up_conv3", "bilinear_conv1", "bn_relu_up_convk", "convT2", "convT4",
            "dw_convT", "conv_then_up", "up_sep", "up_any_conv"]
    if c == C:
        opts.append("up_only")
    kind = draw(st.sampled_from(opts))
    if kind == "up_relu_conv3":
        return [_upsample(draw, "nearest"), _op(draw, "relu"), _conv(draw, kernels=(3,))]
    if kind == "relu_up_conv3":
        return [_op(draw, "relu"), _upsample(draw, "nearest"), _conv(draw, kernels=(3,))]
    if kind == "bilinear_conv1":
        return [_upsample(draw, "bilinear"), _conv(draw, kernels=(1,), linear_only=True)]
    if kind == "bn_relu_up_convk":
        return [_op(draw, "batch_norm"), _op(draw, "relu"), _upsample(draw, "nearest"), _conv(draw)]
    if kind == "convT2":  # AutoGAN's deconv upsampling
        return [{"op": "conv_transpose", "kernel": 2, "stride": 2}]
    if kind == "convT4":  # DCGAN's
        t: dict[str, Any] = {"op": "conv_transpose", "kernel": 4, "stride": 2, "padding": 1}
        if draw(st.booleans()):
            t["bias"] = False
        return [_op(draw, "relu"), t]
    if kind == "dw_convT":  # AdversarialNAS's
        return [_op(draw, "relu"),
                {"op": "conv_transpose", "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1,
                 "depthwise": True, "bias": False, "out_channels": c},
                {"op": "conv", "kernel": 1, "bias": False}]
    if kind == "conv_then_up":
        return [_conv(draw), _upsample(draw, _up_mode(draw))]
    if kind == "up_sep":
        return [_upsample(draw, _up_mode(draw)), {"op": "sep_conv", "kernel": 3}]
    if kind == "up_any_conv":
        return [_upsample(draw, _up_mode(draw)), _conv(draw)]
    assert kind == "up_only"
    return [_upsample(draw, _up_mode(draw))]


def _up_n(draw: Draw, c: int, C: int, r: int) -> list[OpD]:
    """Upsampling by r = 4, 8 or 16 (skip connections across several resolutions)."""
    steps = int(math.log2(r))
    kind = draw(st.sampled_from(["up_conv1", "chain_up", "convT_chain", "conv_up"]))
    if kind == "up_conv1" and r <= 8:
        return [_upsample(draw, _up_mode(draw), r), _conv(draw, kernels=(1,), linear_only=True)]
    if kind == "convT_chain":  # AutoGAN's deconv skip-ins
        return [{"op": "conv_transpose", "kernel": 2, "stride": 2} for _ in range(steps)]
    if kind == "conv_up" and r <= 8:
        return [_conv(draw, kernels=(1,)), _upsample(draw, "nearest", r)]
    mode = _up_mode(draw)
    return [_upsample(draw, mode) for _ in range(steps)] + [_conv(draw)]


def _down(draw: Draw, c: int, C: int, r: int) -> list[OpD]:
    """Downsampling by r = 2, 4, ... (discriminators, skips from high resolution)."""
    if r == 2:
        kind = draw(st.sampled_from(["strided", "relu_conv_pool", "pool_conv", "conv_pool", "max_conv",
                                     "k4s2", "sep_s2"]))
        if kind == "strided":
            return [_conv(draw, stride=2)]
        if kind == "relu_conv_pool":
            return [_op(draw, "relu"), _conv(draw, kernels=(3,)), _op(draw, "avg_pool")]
        if kind == "pool_conv":
            return [_op(draw, "avg_pool"), _conv(draw, kernels=(1,))]
        if kind == "conv_pool":
            return [_conv(draw, kernels=(1,)), {"op": "avg_pool", "kernel": 2}]
        if kind == "max_conv":
            return [_op(draw, "max_pool"), _conv(draw)]
        if kind == "k4s2":
            return [_act(draw), {"op": "conv", "kernel": 4, "stride": 2, "padding": 1}]
        return [{"op": "sep_conv", "kernel": 3, "stride": 2}]
    kind = draw(st.sampled_from(["pool_conv", "chain"]))
    if kind == "pool_conv" and r <= 8:
        return [{"op": draw(st.sampled_from(["avg_pool", "max_pool"])), "kernel": r}, _conv(draw, kernels=(1,))]
    return [_conv(draw, stride=2, kernels=(1, 3)) for _ in range(int(math.log2(r)))]


def _slice(draw: Draw, n: int) -> dict[str, Any]:
    start = draw(st.integers(0, n - 1))
    return {"op": "latent_slice", "start": start, "stop": draw(st.integers(start + 1, n))}


def _vec_to_map(draw: Draw, n: int, C: int, h: int) -> list[OpD]:
    pre: list[OpD] = []
    if n > 1 and draw(st.integers(0, 2)) == 0:
        pre = [_slice(draw, n)]
    kind = draw(st.sampled_from(["linear_reshape", "linear_reshape_conv", "pixnorm_linear"]
                                + (["reshape"] if n == C * h * h and not pre else [])))
    if kind == "reshape":
        return [{"op": "reshape", "size": h}]
    if kind == "linear_reshape_conv":
        c2 = draw(st.integers(1, 8))
        return pre + [{"op": "linear", "out_channels": c2 * h * h}, {"op": "reshape", "size": h},
                      _op(draw, "batch_norm"), _op(draw, "relu"), _conv(draw)]
    lin: dict[str, Any] = {"op": "linear", "out_channels": C * h * h}
    if draw(st.integers(0, 3)) == 0:
        lin["bias"] = False
    ops = pre + ([_op(draw, "pixel_norm")] if kind == "pixnorm_linear" else []) + [lin, {"op": "reshape", "size": h}]
    if draw(st.integers(0, 3)) == 0:
        ops.append(_op(draw, "pixel_norm"))
    return ops


def _map_to_vec(draw: Draw, c: int, h: int, C: int) -> list[OpD]:
    opts = ["relu_sum_linear", "sum_linear"]
    if c * h * h <= 512:
        opts += ["flatten_linear", "mbstd_flatten"]
    if c == C:
        opts.append("sum_only")
    kind = draw(st.sampled_from(opts))
    lin: dict[str, Any] = {"op": "linear"}
    if draw(st.booleans()):
        lin["bias"] = False
    if draw(st.integers(0, 2)) == 0:
        lin["sn"] = True
    if kind == "relu_sum_linear":  # the SNGAN head
        return [_op(draw, "relu"), _op(draw, "global_sum_pool"), lin]
    if kind == "sum_linear":
        return [_op(draw, "global_sum_pool"), lin]
    if kind == "flatten_linear":
        return [_op(draw, "flatten"), lin]
    if kind == "mbstd_flatten":  # the ProGAN head
        return [_op(draw, "minibatch_stddev"), {"op": "conv", "kernel": 3, "out_channels": c},
                _op(draw, "leaky_relu"), _op(draw, "flatten"), lin]
    return [_op(draw, "global_sum_pool")]


def _vec_to_vec(draw: Draw, n: int, C: int) -> list[OpD]:
    opts = ["linear", "bn_relu_linear", "slice_linear", "act_linear"]
    if n == C:
        opts += ["identity", "pixel_norm"]
    kind = draw(st.sampled_from(opts))
    lin: dict[str, Any] = {"op": "linear"}
    if draw(st.integers(0, 3)) == 0:
        lin["sn"] = True
    if kind == "linear":
        return [lin]
    if kind == "bn_relu_linear":
        return [_op(draw, "batch_norm"), _op(draw, "relu"), lin]
    if kind == "slice_linear":
        return [_slice(draw, n), lin]
    if kind == "act_linear":
        return [_act(draw), lin]
    return [_op(draw, kind)]


def convert(draw: Draw, src: Shape, dst: Shape, start_conv: bool = False) -> list[OpD]:
    """A random pipeline taking shape `src` to shape `dst` (both maps, both vectors, or one
    of each); `start_conv` makes it begin with a stride-1 conv (for the consumers of a node
    that ends in an upsample)."""
    if start_conv:
        assert len(src) == 3
        if len(dst) == 1:  # keep the channels, then pool to a vector
            return [_conv(draw, linear_only=True, out_channels=src[0]), *convert(draw, src, dst)]
        return [_conv(draw, linear_only=True), *_resize_only(draw, src, dst)]
    if len(src) == 1 and len(dst) == 1:
        return _vec_to_vec(draw, src[0], dst[0])
    if len(src) == 1:
        return _vec_to_map(draw, src[0], dst[0], dst[1])
    if len(dst) == 1:
        return _map_to_vec(draw, src[0], src[1], dst[0])
    (c, h, _), (C, H, _) = src, dst
    if H == h:
        return _same_res(draw, c, C, h)
    if H == 2 * h:
        return _up2(draw, c, C)
    if H > h:
        return _up_n(draw, c, C, H // h)
    return _down(draw, c, C, h // H)


def _resize_only(draw: Draw, src: Shape, dst: Shape) -> list[OpD]:
    """After a conv that produced the destination's channels: only change resolution."""
    h, H = src[1], dst[1]
    tail: list[OpD] = [draw(st.sampled_from([_op(draw, "relu"), _op(draw, "batch_norm")]))] \
        if draw(st.booleans()) else []
    if H > h:
        return [_upsample(draw, _up_mode(draw), H // h)] + tail if H // h <= 8 else \
            [_upsample(draw, "nearest", 4), _upsample(draw, "nearest", H // h // 4)] + tail
    if H < h:  # pool kernels stop at 15
        r = h // H
        pools = [r] if r <= 8 else [4, r // 4]
        return [{"op": "avg_pool", "kernel": k} for k in pools] + tail
    return tail


# ---------------------------------------------------------------------------------------
# networks


@dataclass
class _Net:
    role: str
    bw: int
    inputs: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # inputs and nodes in creation order
    consumers: dict[str, int] = field(default_factory=dict)
    conv_consumers: set[str] = field(default_factory=set)  # out-edges must start with a conv
    name_style: str = "none"
    name_counts: dict[str, int] = field(default_factory=dict)

    def add_input(self, d: dict[str, Any], shape: Shape) -> str:
        self.inputs.append(d)
        self.shapes[d["name"]] = shape
        self.order.append(d["name"])
        self.consumers[d["name"]] = 0
        return d["name"]

    def add_node(self, draw: Draw, spatial: int | None, cell: str | None = None,
                 channels: int | None = None) -> str:
        name = f"{cell}.n{len(self.nodes)}" if cell else f"n{len(self.nodes)}"
        d: dict[str, Any] = {"name": name}
        if channels is not None:
            d["channels"] = channels
        elif draw(st.integers(0, 7)) == 0:
            d["channels"] = draw(st.integers(1, 12))
        else:
            d["width"] = draw(st.sampled_from([0.5, 1, 1, 1, 1.5, 2, 3]))
        if cell:
            d["cell"] = cell
        self.nodes.append(d)
        c = Node.model_validate(d).n_channels(self.bw)
        self.shapes[name] = (c,) if spatial is None else (c, spatial, spatial)
        self.order.append(name)
        self.consumers[name] = 0
        return name

    def add_edge(self, draw: Draw, src: str, dst: str, ops: list[OpD]) -> None:
        got = pipeline_shape(ops, self.shapes[src], self.shapes[dst][0], self.bw)
        assert got == self.shapes[dst], f"strategy bug: {ops} takes {self.shapes[src]} to {got}, " \
                                        f"not {self.shapes[dst]}"
        e: dict[str, Any] = {"src": src, "dst": dst, "ops": ops}
        if self.name_style != "none" and draw(st.integers(0, 3)) > 0:
            # '.' and '_' spellings collide once mangled into module keys: edge_keys must cope
            sep = "." if self.name_style == "dotted" else draw(st.sampled_from([".", "_", "-"]))
            key = f"{dst}{sep}"
            k = self.name_counts.get(key, 0)
            self.name_counts[key] = k + 1
            e["name"] = f"{key}in{k}"
        self.edges.append(e)
        self.consumers[src] += 1

    def connect(self, draw: Draw, src: str, dst: str) -> None:
        ops = convert(draw, self.shapes[src], self.shapes[dst], start_conv=src in self.conv_consumers)
        self.add_edge(draw, src, dst, ops)

    def maps(self, before: int | None = None) -> list[str]:
        names = self.order if before is None else self.order[:before]
        return [n for n in names if len(self.shapes[n]) == 3]

    def to_dict(self) -> dict[str, Any]:
        return {"base_width": self.bw, "inputs": self.inputs, "nodes": self.nodes, "edges": self.edges,
                "outputs": self.outputs}


def _add_node_with_inputs(draw: Draw, b: _Net, cell: str | None) -> None:
    """One more map node and its incoming edges, following one of several patterns."""
    maps = b.maps()
    latest = [n for n in maps if n not in {i["name"] for i in b.inputs}] or maps
    prim = latest[-1] if draw(st.integers(0, 2)) > 0 else draw(st.sampled_from(maps))
    c, h, _ = b.shapes[prim]
    plan = draw(st.sampled_from(["single", "skip", "skip", "parallel_same_src", "parallel_diff_src",
                                 "none_next", "identity_next", "up_node"]))
    if plan == "parallel_diff_src":
        H = h
    elif b.role == "generator":
        H = h * 2 if h * 2 <= MAX_SIZE and draw(st.booleans()) else h
    else:
        H = h // 2 if h >= 2 and draw(st.booleans()) else h
    if plan == "up_node" and b.role == "generator" and h * 2 <= MAX_SIZE and prim not in b.conv_consumers:
        # a node fed only by an edge ending in an upsample; its consumers all start with a conv
        u = b.add_node(draw, h * 2, cell)
        C = b.shapes[u][0]
        tail = _upsample(draw, _up_mode(draw))
        kind = draw(st.sampled_from(["conv_up", "relu_conv_up", "bn_relu_conv_up"] + (["up"] if c == C else [])))
        pre = {"conv_up": [_conv(draw)], "relu_conv_up": [_op(draw, "relu"), _conv(draw, kernels=(3,))],
               "bn_relu_conv_up": [_op(draw, "batch_norm"), _op(draw, "relu"), _conv(draw)], "up": []}[kind]
        b.add_edge(draw, prim, u, pre + [tail])
        b.conv_consumers.add(u)
        return
    dst = b.add_node(draw, H, cell)
    C = b.shapes[dst][0]
    if plan == "parallel_same_src" and prim not in b.conv_consumers:
        # parallel linear convs from one source (mergeable into one conv), behind a shared prefix
        if H == h:
            prefix: list[OpD] = draw(st.sampled_from([[], ["relu"]]))
        elif H == 2 * h:
            prefix = draw(st.sampled_from([[_upsample(draw, "nearest")], ["relu", _upsample(draw, "nearest")],
                                           [_upsample(draw, "bilinear")]]))
        else:
            prefix = [{"op": "avg_pool", "kernel": 2}]
        ks = draw(st.lists(st.sampled_from([1, 3, 5]), min_size=2, max_size=3, unique=True))
        for k in ks:
            b.add_edge(draw, prim, dst, [*copy.deepcopy(prefix), _conv(draw, kernels=(k,), linear_only=True)])
        return
    if plan == "parallel_diff_src":
        # parallel convs from different sources at the destination's resolution
        b.add_edge(draw, prim, dst, [_conv(draw, linear_only=True)])
        same = [n for n in maps if b.shapes[n][1] == H and n != prim]
        if same:
            for s in draw(st.lists(st.sampled_from(same), min_size=1, max_size=2, unique=True)):
                b.add_edge(draw, s, dst, [_conv(draw, linear_only=True)])
        return
    b.connect(draw, prim, dst)
    if plan == "skip":
        # skip connections from any earlier node or input (across resolutions)
        for s in draw(st.lists(st.sampled_from(b.order[:-1]), min_size=1, max_size=2, unique=True)):
            b.connect(draw, s, dst)
    elif plan in ("none_next", "identity_next"):
        same = [n for n in b.order[:-1] if b.shapes[n] == b.shapes[dst] and n not in b.conv_consumers]
        op = "none" if plan == "none_next" else "identity"
        if same:  # `none` is only ever a whole edge (validation rejects it inside a pipeline)
            b.add_edge(draw, draw(st.sampled_from(same)), dst, [_op(draw, op)])


@st.composite
def network_dicts(draw: Draw, role: str = "generator", max_nodes: int = 8, multi_io: bool = True) -> dict[str, Any]:
    """A random valid network as a JSON-able dict (`role`: "generator" or "discriminator").

    `max_nodes` bounds the hidden map nodes (a stem, a head and a vector node or two come on
    top); `multi_io=False` keeps one input and one output."""
    assert role in ("generator", "discriminator")
    b = _Net(role=role, bw=draw(st.integers(2, 8)),
             name_style=draw(st.sampled_from(["none", "dotted", "mixed"])))
    cells = draw(st.booleans())
    if role == "generator":
        dim = draw(st.integers(4, 16))
        z = b.add_input({"name": "z", "kind": "latent", "dim": dim}, (dim,))
        bottom = draw(st.sampled_from([1, 2, 4]))
        if draw(st.integers(0, 2)) == 0:  # z -> linear -> vector node -> ... -> reshape
            fc = b.add_node(draw, None)
            b.connect(draw, z, fc)
            stem = b.add_node(draw, bottom, "stem" if cells else None)
            b.connect(draw, fc, stem)
        else:
            stem = b.add_node(draw, bottom, "stem" if cells else None)
            n = b.shapes[z][0]
            pre: list[OpD] = [_slice(draw, n)] if n > 1 and draw(st.integers(0, 3)) == 0 else []
            C = b.shapes[stem][0]
            b.add_edge(draw, z, stem, pre + [{"op": "linear", "out_channels": C * bottom * bottom},
                                             {"op": "reshape", "size": bottom}])
        if multi_io and draw(st.integers(0, 5)) == 0:
            ydim = draw(st.integers(1, 8))
            b.add_input({"name": "y", "kind": "latent", "dim": ydim}, (ydim,))
    else:
        size, ch = draw(st.sampled_from([4, 8, 16])), draw(st.sampled_from([1, 3]))
        b.add_input({"name": "x", "kind": "image", "channels": ch, "size": size}, (ch, size, size))
        stem = b.add_node(draw, size, "stem" if cells else None)
        b.connect(draw, "x", stem)
    for i in range(draw(st.integers(1, max_nodes))):
        _add_node_with_inputs(draw, b, f"cell{i // 3}" if cells else None)
    # a second latent input is fed into a random map node
    if "y" in b.shapes:
        b.connect(draw, "y", draw(st.sampled_from([n["name"] for n in b.nodes if len(b.shapes[n["name"]]) == 3])))
    last = b.maps()[-1]
    if role == "generator":
        head = b.add_node(draw, b.shapes[last][1], channels=draw(st.sampled_from([3, 3, 1])))
        kind = draw(st.sampled_from(["bn_relu_conv_tanh", "relu_conv_tanh", "conv_tanh"]))
        pre = {"bn_relu_conv_tanh": [_op(draw, "batch_norm"), _op(draw, "relu")],
               "relu_conv_tanh": [_op(draw, "relu")], "conv_tanh": []}[kind]
        if last in b.conv_consumers:
            pre = []
        b.add_edge(draw, last, head, [*pre, {"op": "conv", "kernel": 3}, _op(draw, "tanh")])
        out_name = "image"
    else:
        if draw(st.integers(0, 2)) == 0:  # map -> vector node -> logit
            feat = b.add_node(draw, None)
            b.connect(draw, last, feat)
            head = b.add_node(draw, None, channels=1)
            b.connect(draw, feat, head)
        else:
            head = b.add_node(draw, None, channels=1)
            b.connect(draw, last, head)
        out_name = "logit"
    # every node must reach the output: walking backwards, give each unused node an edge
    # into a later (hence already live) node
    names = [n["name"] for n in b.nodes]
    for i in range(len(names) - 2, -1, -1):
        if b.consumers[names[i]] == 0:
            b.connect(draw, names[i], draw(st.sampled_from(names[i + 1:])))
    b.outputs.append({"name": out_name, "node": head})
    if multi_io and draw(st.integers(0, 7)) == 0:
        b.outputs.append({"name": "aux", "node": draw(st.sampled_from(names[:-1]))})
    return b.to_dict()


def networks(role: str = "generator", max_nodes: int = 8, multi_io: bool = True) -> st.SearchStrategy[Network]:
    """Random valid `Network`s (see `network_dicts`)."""
    return network_dicts(role, max_nodes, multi_io).map(Network.model_validate)


_FLOATS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def genotype_dicts(draw: Draw, max_nodes: int = 8, multi_io: bool = True) -> dict[str, Any]:
    """A random valid genotype as a JSON-able dict: G, D or both, with provenance."""
    which = draw(st.sampled_from(["generator", "discriminator", "both", "both"]))
    d: dict[str, Any] = {}
    if draw(st.booleans()):
        d["schema_version"] = draw(st.sampled_from([SCHEMA_VERSION, "1.0", "1.3"]))
    if draw(st.booleans()):
        d["name"] = draw(st.text(max_size=12))
    if which in ("generator", "both"):
        d["generator"] = draw(network_dicts("generator", max_nodes, multi_io))
    if which in ("discriminator", "both"):
        d["discriminator"] = draw(network_dicts("discriminator", max_nodes, multi_io))
    if draw(st.booleans()):
        d["provenance"] = draw(st.fixed_dictionaries({}, optional={
            "searcher": st.sampled_from(["random", "hand", "autogan", "adversarial", "degas"]),
            "dataset": st.sampled_from(["cifar10", "stl10"]),
            "seed": st.integers(0, 2**31),
            "search_cost": st.dictionaries(st.sampled_from(["gpu_hours", "steps"]), _FLOATS, max_size=2),
            "metrics": st.dictionaries(st.sampled_from(["is", "fid", "kid"]), _FLOATS, max_size=3),
            "notes": st.text(max_size=20),
            "encoding": st.just({"format": "random", "arch": [1, 2, 3]}),
        }))
    return d


def genotypes(max_nodes: int = 8, multi_io: bool = True) -> st.SearchStrategy[Genotype]:
    """Random valid `Genotype`s (see `genotype_dicts`)."""
    return genotype_dicts(max_nodes, multi_io).map(Genotype.model_validate)


# ---------------------------------------------------------------------------------------
# corruptions


@dataclass(frozen=True)
class Corruption:
    """A broken genotype file: what was done (`kind`, `detail`) and the file's bytes."""

    kind: str
    detail: str
    data: bytes


def _dump(d: Any) -> bytes:
    return json.dumps(d, indent=1).encode()


BAD_OPS: list[Any] = [  # each invalid wherever it stands in a pipeline
    {"op": "conv", "kernel": 0}, {"op": "conv", "kernel": 99}, {"op": "conv", "stride": 0},
    {"op": "conv", "out_width": 0}, {"op": "conv", "out_width": 1, "out_channels": 2},
    {"op": "conv", "out_width": float("inf")}, {"op": "linear", "out_width": float("nan")},
    {"op": "batch_norm", "eps": float("nan")}, {"op": "conv", "kernel": 1e400},
    {"op": "conv", "kernel": "three"}, {"op": "conv", "bias": "maybe"},
    {"op": "upsample", "mode": "cubic"}, {"op": "upsample", "scale": 1}, {"op": "leaky_relu", "slope": -1},
    {"op": "latent_slice", "start": 5, "stop": 2}, {"op": "latent_slice"}, {"op": "reshape"},
    {"op": "conv_transpose", "stride": 2, "output_padding": 2}, {"op": "avg_pool", "kernel": 2, "padding": 2},
    {"op": "batch_norm", "eps": 0}, {"op": "conv", "groups": 0}, {"op": 3}, {"kernel": 3}, 7, None, [],
]


CORRUPTION_KINDS = ("missing_key", "wrong_type", "unknown_op", "bad_param", "unknown_param", "dangling",
                    "duplicate_name", "channel_mismatch", "size_mismatch", "unreachable", "dead", "no_outputs",
                    "unknown_output", "schema_version", "truncated", "random_bytes", "empty", "deep_nesting",
                    "not_object", "invalid_utf8", "edge_into_input", "wrong_input_kind", "op_not_applicable",
                    "cycle", "bad_width", "huge_number")


@st.composite
def corruptions(draw: Draw, valid: dict[str, Any] | Genotype,
                kinds: Sequence[str] = CORRUPTION_KINDS) -> Corruption:
    """A random corruption of a valid genotype (dict or `Genotype`), of one of `kinds`
    (see CORRUPTION_KINDS): always invalid."""
    base = valid.to_dict() if isinstance(valid, Genotype) else valid
    g = copy.deepcopy(base)
    text = _dump(base)
    nets = [k for k in ("generator", "discriminator") if k in g]
    net_key = draw(st.sampled_from(nets))
    net = g[net_key]
    node_names = [n["name"] for n in net["nodes"]]
    input_names = [i["name"] for i in net["inputs"]]
    kind = draw(st.sampled_from(list(kinds)))
    ei = draw(st.integers(0, len(net["edges"]) - 1))
    edge = net["edges"][ei]
    oi = draw(st.integers(0, len(edge["ops"]) - 1))

    def done(detail: str, data: bytes | None = None) -> Corruption:
        return Corruption(kind, detail, _dump(g) if data is None else data)

    if kind == "missing_key":
        targets: list[tuple[dict[str, Any], str]] = [(net, "base_width"), (net, "inputs"), (net, "outputs"),
                                                     (net["inputs"][0], "name"), (net["inputs"][0], "kind"),
                                                     (edge, "src"), (edge, "dst"), (edge, "ops"),
                                                     (net["outputs"][0], "node"), (net["outputs"][0], "name")]
        inp = net["inputs"][0]
        targets.append((inp, "dim" if inp.get("kind", "latent") == "latent" else "size"))
        if net["nodes"]:
            n = draw(st.sampled_from(net["nodes"]))
            targets += [(n, "name"), (n, "width" if "width" in n else "channels")]
        obj, key = draw(st.sampled_from(targets))
        del obj[key]
        if len(nets) == 1 and draw(st.booleans()):
            del g[net_key]  # no network at all
            return done(f"removed {net_key}")
        return done(f"removed {key!r}")
    if kind == "wrong_type":
        inp = net["inputs"][0]
        choices: list[tuple[dict[str, Any], str, Any]] = [
            (net, "base_width", "wide"), (net, "base_width", 2.5), (net, "inputs", {}), (net, "nodes", "n"),
            (net, "edges", 3), (edge, "src", 7), (edge, "ops", "relu"), (edge, "ops", []), (edge, "name", ""),
            (net["outputs"][0], "node", []), (g, "provenance", []), (g, "name", 3), (g, net_key, []),
            (inp, "name", "9lives"), (inp, "kind", "audio"),
        ]
        if net["nodes"]:
            n = draw(st.sampled_from(net["nodes"]))
            choices += [(n, "name", 5), (n, "width" if "width" in n else "channels", "x"),
                        (n, "width" if "width" in n else "channels", -1), (n, "cell", 1)]
        obj, key, value = draw(st.sampled_from(choices))
        obj[key] = value
        return done(f"{key} = {value!r}")
    if kind == "unknown_op":
        name = draw(st.sampled_from(["conv4x4", "Conv", "relu6", "", "upsample_bicubic"])
                    | st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda s: s not in REGISTRY))
        op = edge["ops"][oi]
        edge["ops"][oi] = name if isinstance(op, str) or draw(st.booleans()) else {**op, "op": name}
        return done(f"op {name!r}")
    if kind == "bad_param":
        edge["ops"][oi] = draw(st.sampled_from(BAD_OPS))
        return done(f"op {edge['ops'][oi]!r}")
    if kind == "unknown_param":
        op = edge["ops"][oi]
        d = {"op": op} if isinstance(op, str) else dict(op)
        fields = set(get_spec(d["op"]).Params.model_fields)
        key = draw(st.sampled_from(["kernal", "strides", "Kernel", "size_", "p"])
                   | st.from_regex(r"[a-z]{1,8}", fullmatch=True)
                   .filter(lambda s: s not in fields and s != "op"))
        d[key] = 1
        edge["ops"][oi] = d
        return done(f"param {key!r}")
    if kind == "dangling":
        where = draw(st.sampled_from(["src", "dst", "output"]))
        bad = draw(st.sampled_from(["nowhere", "n999", "Z"]))
        if where == "output":
            net["outputs"][0]["node"] = bad
        else:
            edge[where] = bad
        return done(f"{where} -> {bad}")
    if kind == "duplicate_name":
        opts = ["output"] + (["node"] if node_names else []) + (["edge"] if len(net["edges"]) > 1 else [])
        what = draw(st.sampled_from(opts))
        if what == "node":
            i = draw(st.integers(0, len(node_names) - 1))
            others = [n for n in node_names + input_names if n != node_names[i]]
            net["nodes"][i]["name"] = draw(st.sampled_from(others)) if others else input_names[0]
        elif what == "edge":
            i, j = draw(st.lists(st.integers(0, len(net["edges"]) - 1), min_size=2, max_size=2, unique=True))
            net["edges"][i]["name"] = net["edges"][j]["name"] = "twin"
        else:
            net["outputs"].append(dict(net["outputs"][0]))
        return done(what)
    if kind in ("channel_mismatch", "size_mismatch"):
        # a duplicate of an edge into a map/vector node, with one op appended that breaks
        # the channels (or the size) it delivers
        dst_names = {e["dst"] for e in net["edges"]}
        from gcc_gan.genotype_dsl.analysis import analyze

        info = analyze(Network.model_validate(net), where=net_key)
        cand = [e for e in net["edges"] if e["dst"] in dst_names
                and (kind == "channel_mismatch" or len(info.shapes[e["dst"]]) == 3)]
        e = copy.deepcopy(draw(st.sampled_from(cand)))
        shape = info.shapes[e["dst"]]
        if kind == "size_mismatch":
            extra: dict[str, Any] = {"op": "upsample"}
        elif len(shape) == 3:
            extra = {"op": "conv", "kernel": 1, "out_channels": shape[0] + 1}
        else:
            extra = {"op": "linear", "out_channels": shape[0] + 1}
        e["ops"].append(extra)
        e.pop("name", None)
        net["edges"].append(e)
        return done(f"into {e['dst']}")
    if kind == "unreachable":
        net["nodes"].append({"name": "orphan", "width": 1})
        if draw(st.booleans()):
            net["edges"].append({"src": "orphan", "dst": net["outputs"][0]["node"], "ops": ["identity"]})
        return done("orphan")
    if kind == "dead":
        net["nodes"].append({"name": "deadend", "width": 1})
        net["edges"].append({"src": draw(st.sampled_from(input_names + node_names)), "dst": "deadend",
                             "ops": ["identity"]})
        return done("deadend")
    if kind == "no_outputs":
        net["outputs"] = []
        return done("outputs = []")
    if kind == "unknown_output":
        net["outputs"][0]["node"] = "missing_node"
        return done("missing_node")
    if kind == "schema_version":
        g["schema_version"] = draw(st.sampled_from(["2.0", "0.9", "", "one", 1, None, "10.0"]))
        return done(repr(g["schema_version"]))
    if kind == "truncated":
        body = text.rstrip()
        k = draw(st.integers(0, len(body) - 1))
        return done(f"first {k} bytes", body[:k])
    if kind == "random_bytes":
        return done("random", draw(st.binary(max_size=300)))
    if kind == "empty":
        return done("empty", draw(st.sampled_from([b"", b" ", b"\n\n", b"\t \r\n"])))
    if kind == "deep_nesting":
        depth = draw(st.sampled_from([30, 900, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = opener * depth + "1" + closer * depth
        where = draw(st.sampled_from(["top", "network", "ops"]))
        if where == "top":
            data = inner
        elif where == "network":
            data = '{"schema_version": "1.0", "generator": ' + inner + "}"
        else:
            data = text.decode().replace('"ops": [', '"ops": [' + inner + ", ", 1)
        return done(f"{where} depth {depth}", data.encode())
    if kind == "not_object":
        return done("", draw(st.sampled_from([b"[]", b"3", b"null", b'"genotype"', b"true", b"[{}]"])))
    if kind == "invalid_utf8":
        k = draw(st.integers(0, len(text)))
        return done(f"at {k}", text[:k] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + text[k:])
    if kind == "edge_into_input":
        net["edges"].append({"src": draw(st.sampled_from(input_names + node_names)),
                             "dst": draw(st.sampled_from(input_names)), "ops": ["identity"]})
        return done("into input")
    if kind == "wrong_input_kind":
        i = draw(st.integers(0, len(net["inputs"]) - 1))
        name = net["inputs"][i]["name"]
        net["inputs"][i] = ({"name": name, "kind": "image", "size": 8} if net_key == "generator"
                            else {"name": name, "kind": "latent", "dim": 8})
        return done(net_key)
    if kind == "op_not_applicable":
        from gcc_gan.genotype_dsl.analysis import analyze

        info = analyze(Network.model_validate(net), where=net_key)
        src_shape = info.shapes[edge["src"]]
        bad_op = "upsample" if len(src_shape) == 1 else {"op": "latent_slice", "start": 0, "stop": 1}
        edge["ops"].insert(0, bad_op)
        return done(f"{bad_op!r} on {src_shape}")
    if kind == "cycle":
        back = [e for e in net["edges"] if e["src"] in node_names]
        if back and draw(st.booleans()):
            e = draw(st.sampled_from(back))
            net["edges"].append({"src": e["dst"], "dst": e["src"], "ops": ["identity"]})
        else:  # a self-loop (on an input when there are no nodes: an edge into an input)
            n = draw(st.sampled_from(node_names or input_names))
            net["edges"].append({"src": n, "dst": n, "ops": ["identity"]})
        return done("cycle")
    if kind == "huge_number":  # digits glued in front of base_width: too big, or too long for int()
        digits = "9" * draw(st.sampled_from([20, 400, 5000]))
        return done(f"{len(digits)} digits", text.replace(b'"base_width": ', b'"base_width": ' + digits.encode(), 1))
    assert kind == "bad_width"
    if not net["nodes"]:
        net["base_width"] = 0
        return done("base_width 0")
    n = draw(st.sampled_from(net["nodes"]))
    n.pop("width", None)
    n.pop("channels", None)
    choice = draw(st.sampled_from(["both", "neither", "zero"]))
    if choice == "both":
        n.update(width=1, channels=4)
    elif choice == "zero":
        n["width"] = 0
    return done(choice)

