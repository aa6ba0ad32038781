"""Architecture search behind `gcc-gan search`. A method is a search space, a strategy and
a reward, run by one loop on disk:

- `spaces/`: what a candidate is and the supernet holding its weights, built from the one
  op registry (`adversarialnas`: Up-/Down-Cells; `degas`: global generator; `autogan`:
  cells with a shared-weights generator and a growing D);
- `strategies/`: how candidates are proposed and updated (`differentiable`: AdversarialNAS's
  Algorithm 1 with Gumbel-softmax; `glo`: DEGAS's GLO training; `controller` + `reinforce`:
  AutoGAN's LSTM controller with REINFORCE; `random`: random search);
- `rewards.py`: IS, 1/FID and SWD scores of a candidate;
- `mixed.py`, `pipeline.py`, `supernet.py`: mixed ops and supernet building blocks;
- `run.py` (+ `base.py`, `config.py`, `plots*.py`): the run on disk shared by all methods:
  settings, checkpoints, resume, history, pictures, the emitted genotype.
"""
