"""Seeds derived from seeds: the one mixing function every part of gcc-gan draws its
sub-seeds with (trainer steps, distributed ranks, search candidates), kept in a leaf
module so none of them imports another to get it."""

from __future__ import annotations

import numpy as np


def mix_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (SeedSequence hashing, no collisions in practice)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32).view(np.uint64)[0]
               >> np.uint64(1))
