"""Atomic training checkpoints.

`RUN/checkpoints/step-NNNNNNNN/` holds, in the genotype's canonical weight layout (the
interpreter's state_dict):
  generator.safetensors, generator_ema.safetensors, discriminator.safetensors,
  optimizers.safetensors   (Adam moments and step counts of G and D),
  rng.safetensors          (torch CPU / CUDA generator states),
  state.json               (step, optimizer hyper-parameters, numpy / python RNG states,
                            grad-scaler state, config).
Each checkpoint directory is built in a hidden temp sibling and renamed into place
(`atomic_dir`), under a NEW name, so a kill -9 at any moment leaves the previous one
intact; older ones are pruned only after the new one exists.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..atomic import atomic_dir
from ..errors import GccGanError
from .trainer import GanTrainer

FORMAT = 1
_NAME = re.compile(r"^step-(\d{8,})$")


def tensors_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state_dict as plain, contiguous CPU tensors (safetensors wants no aliasing)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def _optim_split(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}.{idx}.{name}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{name}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optim_join(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    for key, v in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(root: Path, trainer: GanTrainer, extra: dict[str, Any] | None = None, keep: int = 2) -> Path:
    """Write checkpoint `root/step-NNNNNNNN` atomically; keep the newest `keep`."""
    target = root / f"step-{trainer.step:08d}"
    og_t, og_m = _optim_split(trainer.opt_g, "g")
    od_t, od_m = _optim_split(trainer.opt_d, "d")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    np_state = np.random.get_state()
    state = {
        "format": FORMAT, "step": trainer.step, "optim_g": og_m, "optim_d": od_m,
        "python_random": _jsonable(random.getstate()),
        "numpy_random": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "scaler": trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
        **(extra or {}),
    }
    if target.exists():  # this step is already saved (a resumed run re-reaching it): same state
        return target
    with atomic_dir(target) as tmp:
        save_file(tensors_of(trainer.g), str(tmp / "generator.safetensors"))
        save_file(tensors_of(trainer.g_ema), str(tmp / "generator_ema.safetensors"))
        save_file(tensors_of(trainer.d), str(tmp / "discriminator.safetensors"))
        save_file({**og_t, **od_t}, str(tmp / "optimizers.safetensors"))
        save_file({k: v.contiguous() for k, v in rng.items()}, str(tmp / "rng.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n")
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a temp dir left by a kill is hidden, skipped)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if _NAME.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


def clean_partial(root: Path) -> None:
    """Remove temp dirs a killed process left behind."""
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".step-"):
                shutil.rmtree(p, ignore_errors=True)


def load_checkpoint(path: Path, trainer: GanTrainer) -> dict[str, Any]:
    """Restore everything `save_checkpoint` wrote; returns state.json."""
    try:
        state = json.loads((path / "state.json").read_text())
        if state.get("format") != FORMAT:
            raise GccGanError(f"{path}: checkpoint format {state.get('format')!r} is not {FORMAT}")
        dev = str(trainer.device)
        trainer.g.load_state_dict(load_file(str(path / "generator.safetensors"), device=dev))
        trainer.g_ema.load_state_dict(load_file(str(path / "generator_ema.safetensors"), device=dev))
        trainer.d.load_state_dict(load_file(str(path / "discriminator.safetensors"), device=dev))
        opt_t = load_file(str(path / "optimizers.safetensors"), device=dev)
        rng = load_file(str(path / "rng.safetensors"))
    except GccGanError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:
        raise GccGanError(f"{path}: cannot load checkpoint ({e})") from None
    _optim_join(trainer.opt_g, "g", opt_t, state["optim_g"])
    _optim_join(trainer.opt_d, "d", opt_t, state["optim_d"])
    trainer.step = int(state["step"])
    torch.set_rng_state(rng["torch"])
    cuda = sorted(k for k in rng if k.startswith("cuda."))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([rng[k] for k in cuda])
    random.setstate(_tupled(state["python_random"]))
    s = state["numpy_random"]
    np.random.set_state((s[0], np.array(s[1], dtype=np.uint32), *s[2:]))
    if state.get("scaler") and trainer.scaler.is_enabled():
        trainer.scaler.load_state_dict(state["scaler"])
    return state


def _jsonable(x: Any) -> Any:
    return [_jsonable(v) for v in x] if isinstance(x, (tuple, list)) else x


def _tupled(x: Any) -> Any:
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x
