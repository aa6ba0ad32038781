"""Architecture search behind `gcc-gan search`. A search is a space × a strategy × an
evaluator, registered by name (`registry.py`, which also derives the pairs that work from the
spaces' declared capabilities and holds the four published methods as presets), run by one
loop on disk:

- `spaces/`: what a candidate is and the supernet holding its weights, built from the one
  op registry (`adversarialnas`: Up-/Down-Cells; `degas`: global generator; `autogan`:
  cells with a shared-weights generator and a growing D; `dggan`: grown G/D pairs);
- `strategies/`: how candidates are proposed and updated (`differentiable` with its
  objectives in `objectives.py`: AdversarialNAS's Algorithm 1 and DEGAS's GLO; `controller`
  + `reinforce`: AutoGAN's LSTM controller with REINFORCE; `growth`: DGGAN; `random`);
- `rewards.py`: IS, 1/FID and SWD scores of a candidate;
- `mixed.py`, `pipeline.py`, `supernet.py`: mixed ops and supernet building blocks;
- `run.py` (+ `base.py`: the one Searcher interface, `config.py`, `plots*.py`): the run on
  disk shared by every pair: settings, checkpoints, resume, history, pictures, the emitted
  genotype.
"""
