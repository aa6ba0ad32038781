"""Training checkpoints, in the shared checkpoint-directory format (`gcc_gan.checkpoints`:
atomic, checksummed, no pickle).

`RUN/checkpoints/step-NNNNNNNN/` holds, in the genotype's canonical weight layout (the
interpreter's state_dict):
  generator.safetensors, generator_ema.safetensors, discriminator.safetensors,
  optimizers.safetensors   (Adam moments and step counts of G and D),
  rng.safetensors          (torch CPU / CUDA generator states),
  state.json               (step, optimizer hyper-parameters, numpy / python RNG states,
                            grad-scaler state, the losses of the unfinished log window),
  log.csv                  the run's log up to this step, restored verbatim on resume,
  manifest.json            sha256 of every file.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..checkpoints import (Checkpoint, clean_partial, cpu_tensors, list_checkpoints, load_newest, optim_join,
                           optim_split, write_checkpoint)
from .trainer import GanTrainer

FORMAT = 2
tensors_of = cpu_tensors  # the canonical-layout weights of a module (also used for the final generator)
_optim_split, _optim_join = optim_split, optim_join  # their former names here

__all__ = ["save_checkpoint", "load_newest_checkpoint", "restore", "list_checkpoints", "clean_partial", "tensors_of"]


def save_checkpoint(root: Path, trainer: GanTrainer, extra: dict[str, Any] | None = None,
                    files: dict[str, bytes] | None = None, keep: int = 2) -> Path:
    """Write checkpoint `root/step-NNNNNNNN` atomically; keep the newest `keep`."""
    og_t, og_m = optim_split(trainer.opt_g, "g")
    od_t, od_m = optim_split(trainer.opt_d, "d")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    np_state = np.random.get_state()
    state = {
        "format": FORMAT, "optim_g": og_m, "optim_d": od_m,
        "python_random": _jsonable(random.getstate()),
        "numpy_random": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "scaler": trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
        **(extra or {}),
    }
    tensors = {"generator": cpu_tensors(trainer.g), "generator_ema": cpu_tensors(trainer.g_ema),
               "discriminator": cpu_tensors(trainer.d), "optimizers": {**og_t, **od_t}, "rng": rng}
    return write_checkpoint(root, trainer.step, tensors, state, files, keep=keep)


def restore(ck: Checkpoint, trainer: GanTrainer) -> dict[str, Any]:
    """Restore everything `save_checkpoint` wrote into `trainer`; returns state.json.
    Every field is parsed before the trainer is touched where that is possible."""
    state, t = ck.state, ck.tensors
    if state.get("format") != FORMAT:
        raise ValueError(f"checkpoint format {state.get('format')!r} is not {FORMAT}")
    py_state = _tupled(state["python_random"])
    s = state["numpy_random"]
    np_state = (s[0], np.array(s[1], dtype=np.uint32), *s[2:])
    rng = t["rng"]
    if rng["torch"].dtype != torch.uint8:
        raise TypeError(f"torch RNG state is {rng['torch'].dtype}, not uint8")
    dev = trainer.device
    for name, module in (("generator", trainer.g), ("generator_ema", trainer.g_ema), ("discriminator", trainer.d)):
        module.load_state_dict({k: v.to(dev) for k, v in t[name].items()})
    opt_t = {k: v.to(dev) for k, v in t["optimizers"].items()}
    optim_join(trainer.opt_g, "g", opt_t, state["optim_g"])
    optim_join(trainer.opt_d, "d", opt_t, state["optim_d"])
    trainer.step = int(state["step"])
    torch.set_rng_state(rng["torch"])
    cuda = sorted(k for k in rng if k.startswith("cuda."))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([rng[k] for k in cuda])
    random.setstate(py_state)
    np.random.set_state(np_state)
    if state.get("scaler") and trainer.scaler.is_enabled():
        trainer.scaler.load_state_dict(state["scaler"])
    return state


def load_newest_checkpoint(root: Path, trainer: GanTrainer, warn: Callable[[str], None]
                           ) -> tuple[Checkpoint, dict[str, Any]] | None:
    """The newest intact checkpoint restored into `trainer` (damaged ones reported and
    skipped), or None when `root` holds none."""
    return load_newest(root, lambda ck: restore(ck, trainer), warn)


def _jsonable(x: Any) -> Any:
    return [_jsonable(v) for v in x] if isinstance(x, (tuple, list)) else x


def _tupled(x: Any) -> Any:
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x
