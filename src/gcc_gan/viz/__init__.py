"""Pictures of genotypes: a small layered DAG layout (`layout`) drawn with matplotlib
(`render`); no graphviz needed."""

from .layout import Layout, layered_layout
from .render import picture_format, render_genotype, render_network

__all__ = ["Layout", "layered_layout", "picture_format", "render_genotype", "render_network"]
