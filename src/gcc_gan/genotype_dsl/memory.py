"""Memory a command needs, estimated from shape inference before anything is allocated.

What the limit means: the peak resident memory (RSS) of the gcc-gan process, everything
included: the Python interpreter and its libraries (torch alone is ~0.6 GB resident), the
networks, their activations, and every copy a command makes. Every long command first
checks the process itself (`check_resident`, before torch is imported); every command that
builds a network (the interpreter is the one place networks are built: compile, train,
search, bench, scale) and `sample` check the estimate against the limit and refuse, with
the figure and the limit, instead of dying in the allocator; the searchers' supernets and
the long loops (train, search) are checked by the process's resident memory once built
and as they run. The limit is `--max-memory SIZE`, else
`$GCC_GAN_MAX_MEMORY`, else 8 GB. An address-space limit (`ulimit -v`) is honoured too:
torch reserves ~3.4 GB of virtual address space when imported, far more than it
touches, so what is checked there is that the estimated allocations fit in the address
space left (`RLIMIT_AS` minus the process's virtual size, with torch's reservation added
when it is not imported yet).

A network's estimate is float32 parameters plus every intermediate tensor of one forward
pass (inputs, each op's output, each node) at the given batch, none freed early: an upper
bound of what a forward allocates, and about what training keeps for backward (the
gradients of activations are transient). Training counts parameters four times
(weights, gradients, two Adam moments). `compile` holds more (`compile_estimate`):
the libraries' ~0.8 GB plus 12 copies of the parameters (interpreter, compiled state
dict, safetensors buffer, the ONNX model proto and its serialised bytes, onnxruntime's
session and prepacked weights, the torch.export program and its saved archive; about 10
measured) plus 1.5× the activations at the verification batch 64 (torch's reference
forwards and onnxruntime's arena), plus 4 more copies of the parameters and the
activations again per fp16 / int8 variant. Measured peak RSS against this estimate
(README, Memory; tests/test_limits.py checks it on small genotypes) is 0.43–0.88 × it.
"""

from __future__ import annotations

import math
import os
import resource
import sys
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..errors import GccGanError
from ..units import Units
from .analysis import NetInfo

ENV = "GCC_GAN_MAX_MEMORY"
DEFAULT_LIMIT = 8 * 10**9
BYTES_PER_VALUE = 4  # float32
# measured on Linux x86-64, torch 2.x CPU (see the module docstring): resident memory and
# virtual size that importing torch adds, and the resident peak of the libraries a compile
# loads (torch, onnx, onnxruntime, torch.export) with a negligible network
TORCH_RESIDENT = 600 * 10**6
TORCH_VIRTUAL = 3_400 * 10**6
COMPILE_RUNTIME = 800 * 10**6
COMPILE_PARAM_COPIES = 12
COMPILE_ACT_FACTOR = 1.5
VARIANT_PARAM_COPIES = 4
SIZE = Units("size", "8GB, 512MB or 1.5GiB",
             {"": 1, "B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12})


def parse_size(text: str, flag: str | None = None) -> int:
    """Bytes of a size such as `8GB`, `512MB`, `1.5GiB` or `1000000` (decimal units as
    `show` prints them; KiB/MiB/GiB/TiB binary). A `QuantityError` (a `ValueError` and a
    `GccGanError`) naming `flag`, where given, otherwise."""
    return SIZE.parse_int(text, flag)


def fmt_bytes(n: float) -> str:
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def memory_limit() -> int:
    """The limit in bytes: `$GCC_GAN_MAX_MEMORY` (set by `--max-memory`) or 8 GB."""
    raw = os.environ.get(ENV)
    if not raw:
        return DEFAULT_LIMIT
    return parse_size(raw, f"${ENV}")


def _statm() -> tuple[int, int] | None:
    """(virtual size, resident) of this process in bytes, where /proc tells."""
    try:
        with open("/proc/self/statm") as f:
            size, rss = f.read().split()[:2]
        page = os.sysconf("SC_PAGE_SIZE")
        return int(size) * page, int(rss) * page
    except (OSError, ValueError):
        return None


def resident_bytes() -> int:
    """This process's resident memory now (its peak so far where /proc is missing)."""
    st = _statm()
    if st is not None:
        return st[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def runtime_bytes(runtime: int = TORCH_RESIDENT) -> int:
    """What the process and its libraries hold: resident now, plus `runtime` (the
    libraries' measured resident peak) less torch's share where torch is loaded already."""
    have = TORCH_RESIDENT if "torch" in sys.modules else 0
    return resident_bytes() + max(0, runtime - have)


def address_space_left() -> int | None:
    """Bytes an allocation can still take under `ulimit -v` (RLIMIT_AS), torch's
    reservation counted when it is not imported yet; None when there is no such limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    st = _statm()
    if soft == resource.RLIM_INFINITY or st is None:
        return None
    reserve = 0 if "torch" in sys.modules else TORCH_VIRTUAL
    return soft - st[0] - reserve


@dataclass(frozen=True)
class MemoryEstimate:
    params_bytes: int
    activation_bytes: int
    batch: int
    training: bool
    runtime_bytes: int = 0  # the process and its libraries (resident now + what is still to load)
    params_label: str = ""  # what params_bytes counts, where not the usual

    @property
    def total(self) -> int:
        return self.params_bytes + self.activation_bytes + self.runtime_bytes

    @property
    def allocations(self) -> int:
        """What is still to be allocated (checked against the address space left)."""
        return self.params_bytes + self.activation_bytes

    def describe(self) -> str:
        what = self.params_label or ("parameters, gradients and optimiser state" if self.training
                                     else "parameters")
        return (f"{fmt_bytes(self.total)} ({fmt_bytes(self.params_bytes)} of {what} + "
                f"{fmt_bytes(self.activation_bytes)} of activations at batch {self.batch} + "
                f"{fmt_bytes(self.runtime_bytes)} for the process and its libraries)")


def activation_values(info: NetInfo) -> int:
    """Values of every tensor one sample's forward pass creates (none freed)."""
    nodes = sum(math.prod(s) for s in info.shapes.values())
    ops = sum(math.prod(o.out_shape) for e in info.edges for o in e.ops)
    return nodes + ops


def estimate_memory(info: NetInfo, batch: int = 1, training: bool = False) -> MemoryEstimate:
    """The network alone (parameters and activations; no process baseline)."""
    params = BYTES_PER_VALUE * info.params * (4 if training else 1)
    acts = BYTES_PER_VALUE * batch * activation_values(info)
    return MemoryEstimate(params, acts, batch, training)


def compile_estimate(infos: Iterable[NetInfo], variants: int = 0, batch: int = 64) -> MemoryEstimate:
    """The resident peak of `gcc-gan compile` of `infos` with `variants` fp16/int8 files
    (see the module docstring for the terms and where they were measured)."""
    infos = list(infos)
    params = sum(BYTES_PER_VALUE * i.params for i in infos)
    acts = sum(BYTES_PER_VALUE * batch * activation_values(i) for i in infos)
    copies = COMPILE_PARAM_COPIES + VARIANT_PARAM_COPIES * variants
    return MemoryEstimate(copies * params, int((COMPILE_ACT_FACTOR + variants) * acts), batch, False,
                          runtime_bytes(COMPILE_RUNTIME), f"parameters in {copies} copies for the exports and checks")


def with_runtime(est: MemoryEstimate) -> MemoryEstimate:
    """`est` plus what the process and torch hold."""
    return MemoryEstimate(est.params_bytes, est.activation_bytes, est.batch, est.training, runtime_bytes(),
                          est.params_label)


def check_estimate(est: MemoryEstimate, what: str, fix: str = "make it smaller (base_width, widths, sizes)"
                   ) -> MemoryEstimate:
    """`est`, or a GccGanError naming the estimate and the limit it exceeds (the memory
    limit, or the address space `ulimit -v` leaves)."""
    limit = memory_limit()
    if est.total > limit:
        raise GccGanError(f"the {what} needs an estimated {est.describe()}, more than the memory limit of "
                          f"{fmt_bytes(limit)}; {fix} or raise the limit with --max-memory SIZE or {ENV}=SIZE")
    left = address_space_left()
    if left is not None and est.allocations > left:
        raise GccGanError(f"the {what} needs an estimated {est.describe()}; the address-space limit (ulimit -v) "
                          f"leaves {fmt_bytes(max(left, 0))} for its {fmt_bytes(est.allocations)} of allocations; "
                          f"{fix} or raise the limit (ulimit -v)")
    return est


def check_memory(info: NetInfo, batch: int = 1, training: bool = False, what: str | None = None) -> MemoryEstimate:
    """The estimate (with the process's own), or a GccGanError when it exceeds the limit
    (nothing allocated yet)."""
    return check_estimate(with_runtime(estimate_memory(info, batch, training)), what or info.where)


def check_compile(infos: Mapping[str, NetInfo], variants: int = 0) -> MemoryEstimate:
    """`compile`'s check, before torch is imported or anything allocated."""
    return check_estimate(compile_estimate(infos.values(), variants), " and ".join(infos) + " compile")


def check_resident(what: str, extra: int = 0) -> int:
    """A GccGanError when this process's resident memory (plus `extra` bytes about to be
    allocated) passes the limit: a long loop's guard, and a command's first check (the
    interpreter and torch alone take ~0.6 GB). Returns the resident bytes."""
    limit = memory_limit()
    now = runtime_bytes() if "torch" not in sys.modules else resident_bytes()
    if now + extra > limit:
        plus = f" + {fmt_bytes(extra)} about to be allocated" if extra else ""
        raise GccGanError(f"the {what} needs {fmt_bytes(now)} of resident memory (the process, torch and what it "
                          f"built so far){plus}, more than the memory limit of {fmt_bytes(limit)}; raise it with "
                          f"--max-memory SIZE or {ENV}=SIZE, or make the run smaller")
    return now
