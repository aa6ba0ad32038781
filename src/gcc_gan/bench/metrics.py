"""Re-exports for search/rewards.py, which issue 22's search redesign rewrites: import from
the metric's own module instead (one file per metric, as torch-fidelity's metric_*.py):
features.py (Inception features of generated / real images), metric_is.py, metric_fid.py,
metric_kid.py, metric_prdc.py, swd.py; `warn` is gcc_gan.console's, `to_uint8`
gcc_gan.pixels'. Delete this file once nothing imports it."""

from ..console import warn, warnings_once
from ..pixels import to_uint8
from .features import SEED, Features, extract, generated_batches, generator_features
from .metric_fid import Gaussian, fid, frechet_distance, frechet_distance_low_rank, statistics
from .metric_is import IS_SPLITS, inception_score
from .metric_kid import kid, kid_subset_size
from .metric_prdc import PRDC_MAX, prdc

__all__ = ["IS_SPLITS", "PRDC_MAX", "SEED", "Features", "Gaussian", "extract", "fid", "frechet_distance",
           "frechet_distance_low_rank", "generated_batches", "generator_features", "inception_score", "kid",
           "kid_subset_size", "prdc", "statistics", "to_uint8", "warn", "warnings_once"]
