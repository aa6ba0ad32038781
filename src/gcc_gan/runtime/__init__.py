"""Running compiled generators: what `gcc-gan sample` and `gcc_gan.sample` / `load_compiled`
/ `load_generator` do with a compile directory, a training run or a genotype. A job above
both the export (the artifacts it loads) and the bench (the targets and runners it reuses).
"""
