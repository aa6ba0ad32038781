"""gcc-gan: a GAN architecture-search compiler.

Searchers emit one typed genotype DSL (`gcc_gan.genotype_dsl`); the compiler lowers it to
standalone PyTorch, ONNX and .pt2 (`gcc_gan.compiler`, `gcc_gan.export`).
"""

__version__ = "0.1.0"
