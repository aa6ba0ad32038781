"""One checkpoint-directory mechanism for every long run (train, search, the searchers).

ROOT/step-NNNNNNNN/
  GROUP.safetensors   tensors, one file per group (weights, optimizer moments, RNG states)
  state.json          everything else, as JSON (no pickle anywhere: loading runs no code)
  FILE                verbatim copies the run wants back on resume (its log up to this step)
  manifest.json       sha256 and size of every file above; written last

A checkpoint is built in a hidden temp sibling and renamed into place (`atomic_dir`) under a
new name, so a kill at any moment leaves the previous ones intact; older ones are pruned
only after the new one exists. `load_newest` verifies every byte against the manifest
before anything is restored, and falls back to the newest intact checkpoint, saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import torch

from .atomic import atomic_dir
from .errors import GccGanError

MANIFEST = "manifest.json"
STATE = "state.json"
MANIFEST_FORMAT = 1
_NAME = re.compile(r"^step-(\d{8,})$")
T = TypeVar("T")
# Test hook: SIGKILL this process (and its process group when it leads one) right after the
# checkpoint of this step or a later one is in place, so kill/resume tests kill at a known
# step instead of racing a timer.
KILL_AFTER_ENV = "GCC_GAN_TEST_KILL_AFTER_CHECKPOINT"


class DamagedCheckpoint(GccGanError):
    """A checkpoint whose files do not match its manifest, or cannot be parsed."""


@dataclass
class Checkpoint:
    path: Path
    step: int
    tensors: dict[str, dict[str, torch.Tensor]]  # group -> name -> tensor (CPU)
    state: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def step_of(path: Path) -> int:
    m = _NAME.match(path.name)
    if m is None:
        raise ValueError(f"{path}: not a checkpoint directory name")
    return int(m.group(1))


def cpu_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state_dict as plain, contiguous CPU tensors (safetensors wants no aliasing)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def optim_split(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as tensors `prefix.IDX.NAME` plus a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}.{idx}.{name}"] = v.detach().cpu().contiguous().clone()
            else:
                scalars[f"{idx}.{name}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optim_join(opt: torch.optim.Optimizer, prefix: str, tensors: Mapping[str, torch.Tensor],
               meta: Mapping[str, Any]) -> None:
    """Inverse of `optim_split`."""
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


# --------------------------------------------------------------------------- writing


def _write(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_checkpoint(root: Path, step: int, tensors: Mapping[str, Mapping[str, torch.Tensor]],
                     state: Mapping[str, Any], files: Mapping[str, bytes] | None = None, keep: int = 2) -> Path:
    """Write `root/step-NNNNNNNN` atomically with its manifest; keep the newest `keep`.
    An existing one is replaced in one rename: a run only re-reaches a step it saved
    before when it fell back past that checkpoint because it was damaged."""
    from safetensors.torch import save

    target = root / f"step-{step:08d}"
    with atomic_dir(target) as tmp:
        manifest: dict[str, Any] = {}
        for group, ts in tensors.items():
            name = f"{group}.safetensors"
            manifest[name] = _write(tmp / name, save({k: v.detach().cpu().contiguous() for k, v in ts.items()}))
        for name, data in (files or {}).items():
            manifest[name] = _write(tmp / name, data)
        manifest[STATE] = _write(tmp / STATE, (json.dumps({"step": step, **state}, indent=1) + "\n").encode())
        doc = {"format": MANIFEST_FORMAT, "step": step, "files": manifest}
        _write(tmp / MANIFEST, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    _kill_hook(step)
    return target


def _kill_hook(step: int) -> None:
    at = os.environ.get(KILL_AFTER_ENV)
    if at is None or step < int(at):
        return
    if os.getpgrp() == os.getpid():  # started in a session of its own: take its workers too
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- reading


def list_checkpoints(root: Path) -> list[Path]:
    """Checkpoint directories, oldest first, intact or not (a temp dir a kill left behind is
    hidden and skipped)."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if _NAME.match(p.name) and p.is_dir()), key=step_of)


def clean_partial(root: Path) -> None:
    """Remove temp dirs a killed process left behind."""
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".step-"):
                shutil.rmtree(p, ignore_errors=True)


def _manifest(path: Path) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads((path / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        legacy = " (written by a gcc-gan without checksums)" if any(
            (path / n).is_file() for n in (STATE, "state.pt")) else ""
        raise DamagedCheckpoint(f"no {MANIFEST}{legacy}") from None
    except (OSError, ValueError) as e:  # ValueError covers JSON and UTF-8 errors
        raise DamagedCheckpoint(f"{MANIFEST} is unreadable ({e})") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or doc.get("format") != MANIFEST_FORMAT or STATE not in files or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("bytes"), int)
            for v in files.values()):
        raise DamagedCheckpoint(f"{MANIFEST} is not a gcc-gan checkpoint manifest (format {MANIFEST_FORMAT})")
    return files


def _read_verified(path: Path) -> dict[str, bytes]:
    out = {}
    for name, want in _manifest(path).items():
        if "/" in name or name.startswith("."):
            raise DamagedCheckpoint(f"{MANIFEST} names {name!r}, not a file of this checkpoint")
        try:
            data = (path / name).read_bytes()
        except OSError as e:
            raise DamagedCheckpoint(f"{name}: {e.strerror or e}") from None
        if len(data) != want["bytes"]:
            raise DamagedCheckpoint(f"{name} is {len(data)} bytes, the manifest says {want['bytes']} "
                                    "(truncated or overwritten)")
        got = hashlib.sha256(data).hexdigest()
        if got != want["sha256"]:
            raise DamagedCheckpoint(f"{name}: checksum mismatch (sha256 {got[:12]}…, the manifest says "
                                    f"{want['sha256'][:12]}…)")
        out[name] = data
    return out


def verify(path: Path) -> None:
    """Raise `DamagedCheckpoint` unless every file matches the manifest."""
    _read_verified(path)


def read_checkpoint(path: Path) -> Checkpoint:
    """Verify and parse one checkpoint (nothing is restored yet)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    data = _read_verified(path)
    tensors, files = {}, {}
    for name, blob in data.items():
        if name.endswith(".safetensors"):
            try:
                tensors[name[: -len(".safetensors")]] = load(blob)
            except (SafetensorError, ValueError, RuntimeError) as e:
                raise DamagedCheckpoint(f"{name}: not a readable safetensors file ({e})") from None
        elif name != STATE:
            files[name] = blob
    try:
        state = json.loads(data[STATE].decode("utf-8"))
    except ValueError as e:
        raise DamagedCheckpoint(f"{STATE} is unreadable ({e})") from None
    if not isinstance(state, dict) or state.get("step") != step_of(path):
        raise DamagedCheckpoint(f"{STATE} does not hold step {step_of(path)}")
    return Checkpoint(path, step_of(path), tensors, state, files)


def load_newest(root: Path, restore: Callable[[Checkpoint], T], warn: Callable[[str], None],
                ) -> tuple[Checkpoint, T] | None:
    """Restore the newest intact checkpoint under `root` with `restore`; None when there is
    none at all. A damaged one (bad bytes, or contents `restore` rejects) is reported with
    `warn` and the next older one tried; when none is intact, one `GccGanError` says why."""
    cks = list_checkpoints(root)
    if not cks:
        return None
    damaged = []
    for i, path in enumerate(reversed(cks)):
        try:
            ck = read_checkpoint(path)
            return ck, restore(ck)
        except DamagedCheckpoint as e:
            why = str(e)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            # intact bytes whose contents this version cannot restore (another network,
            # a hand-edited state.json): as unusable as damaged bytes
            why = f"its contents cannot be restored ({type(e).__name__}: {e})"
        damaged.append(f"{path.name}: {why}")
        older = len(cks) - 1 - i
        warn(f"checkpoint {path} is damaged: {why}; "
             + ("falling back to the previous one" if older else "no older checkpoint is left"))
    raise GccGanError(f"--resume: no intact checkpoint in {root} ("
                      + "; ".join(damaged) + "); start over with --force")


def console_warner(console: Any) -> Callable[[str], None]:
    """`warn` for `load_newest` that prints one unwrapped `warning: ...` line on a rich console."""
    return lambda m: console.print(f"warning: {m}", highlight=False, markup=False, soft_wrap=True)
