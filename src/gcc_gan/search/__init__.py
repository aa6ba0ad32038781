"""Differentiable architecture search: supernets built from the one op registry (mixed
ops over candidate op pipelines), AdversarialNAS, DEGAS and random search, and the search
run on disk behind `gcc-gan search`."""
