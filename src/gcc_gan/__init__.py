"""gcc-gan: a GAN architecture-search compiler.

Searchers emit one typed genotype DSL (`gcc_gan.genotype_dsl`); the compiler lowers it to
standalone PyTorch, ONNX and .pt2 (`gcc_gan.compiler`, `gcc_gan.export`).

The Python API (`gcc_gan.api`, re-exported here; imported on first use, so `import
gcc_gan` stays light and does not import torch):

    import gcc_gan

    gcc_gan.compile("zoo:autogan-a", "out")
    images = gcc_gan.sample("out", 16, seed=0)   # uint8 (16, 32, 32, 3)
    rows = gcc_gan.benchmark("out").rows         # params, MACs, latency per target
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import GccGanError
from .version import __version__

__all__ = ["GccGanError", "__version__", "benchmark", "build", "compile", "load_compiled", "load_generator",
           "load_genotype", "sample", "save_samples"]

if TYPE_CHECKING:
    from .api import (benchmark, build, compile, load_compiled, load_generator, load_genotype,  # noqa: A004
                      sample, save_samples)

_API = {"benchmark", "build", "compile", "load_compiled", "load_generator", "load_genotype", "sample",
        "save_samples"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gcc_gan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
