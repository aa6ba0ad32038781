"""The benchmarker: size, MACs/FLOPs, latency, and IS / FID / KID of generators.

`inception` finds and builds the FID Inception network (never downloading), `metrics`
turns its features into IS / FID / KID, `stats` caches real-data statistics, `size` and
`latency` measure the network itself, `runner` puts a benchmark row together for the CLI.
"""
