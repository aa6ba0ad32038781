"""Size-scaling studies: fit each genotype's width to target generator sizes, train every
candidate against one fixed discriminator with one budget (in parallel through an
executor), evaluate IS / FID, plot the curves, resume after a kill."""

from .sweep import SCALE_TINY, ScaleRequest, ScaleResult, parse_sizes, run_scale
from .width import WidthFit, fit_width

__all__ = ["SCALE_TINY", "ScaleRequest", "ScaleResult", "parse_sizes", "run_scale", "WidthFit", "fit_width"]
