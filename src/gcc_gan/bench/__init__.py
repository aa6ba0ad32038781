"""The benchmarker: size, MACs/FLOPs, latency, and IS / FID / KID / PRDC / SWD of generators.

`inception` finds and builds the FID Inception network (never downloading), `features`
extracts its features from real and generated images, one module per metric turns them
into a number (`metric_is`, `metric_fid`, `metric_kid`, `metric_prdc`; `swd` needs no
Inception), `stats` caches real-data statistics, `size` and `latency` measure the network
itself, `budget` holds the user's limits on compiled cost, `runner` puts a benchmark row
together for the CLI.
"""
