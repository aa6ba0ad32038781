"""Fingerprints of a search run, to prove a refactor leaves the published methods' runs unchanged.

`fingerprint(run)` hashes what a run emits — genotype.json, history.jsonl, the last checkpoint's
tensors (supernets, α, optimizers) and, for DGGAN, the winner's weights — with wall-clock fields
dropped. `canary()` hashes a small conv forward/backward: a machine whose float kernels differ
(another CPU's SIMD path) gives other bytes for reasons that have nothing to do with gcc-gan, so
a test compares fingerprints only where the canary matches the one recorded with them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

TIMING = {"wall_s", "elapsed_s", "seconds", "took_s", "time_s"}


def _strip(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def _json_hash(text: str) -> str:
    return hashlib.sha256(json.dumps(_strip(json.loads(text)), sort_keys=True).encode()).hexdigest()


def _tensor_hash(path: Path) -> str:
    from safetensors.torch import load_file

    h = hashlib.sha256()
    for k, v in sorted(load_file(str(path)).items()):
        h.update(k.encode())
        h.update(v.contiguous().numpy().tobytes())
    return h.hexdigest()


def fingerprint(run: Path) -> dict[str, str]:
    out = {"genotype": _json_hash((run / "genotype.json").read_text())}
    hist = [_json_hash(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    out["history"] = hashlib.sha256("".join(hist).encode()).hexdigest()
    cks = sorted((run / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    if cks:
        for f in sorted(cks[-1].glob("*.safetensors")):
            out[f"checkpoint/{f.name}"] = _tensor_hash(f)
    for name in ("generator.safetensors", "discriminator.safetensors"):
        if (run / name).is_file():
            out[name] = _tensor_hash(run / name)
    return out


def canary() -> str:
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8, 16, 16, generator=g, requires_grad=True)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    y = torch.nn.functional.leaky_relu(conv(x)).pow(2).mean()
    y.backward()
    h = hashlib.sha256(y.detach().numpy().tobytes())
    assert x.grad is not None
    h.update(x.grad.numpy().tobytes())
    h.update(conv.weight.grad.numpy().tobytes())  # type: ignore[union-attr]
    return h.hexdigest()


# each published method at a few iterations (the test) — same seed, same synthetic data
MICRO: dict[str, dict[str, Any]] = {
    "adversarial": dict(iters=6, log_every=2, checkpoint_every=3, min_diversity=0.0),
    # lr: the tiny preset's when the reference was recorded (it is 3e-3 since, see search/config.py)
    "degas": dict(iters=6, log_every=2, checkpoint_every=3, n_images=64, lr=1e-3, min_diversity=0.0),
    "autogan": dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, g_batch=4, hid=8, search_iters=3, grow_at=(1, 2),
                    shared_steps=3, ctrl_steps=2, n_critic=2, num_candidate=3, topk=2, reward="swd", reward_images=8,
                    reset_window=2, iters=15, log_every=1, checkpoint_every=2, min_diversity=0.0),
    "dggan": dict(reward="swd", d0=4, target=8, max_steps=2, dg_kernels=(3,), dg_filters=(8,), dg_channels=8,
                  latent=8, init_iters=3, child_iters=3, reward_images=16, batch_size=4, dg_p=0.5, workers=1,
                  min_diversity=0.0),
}
DATA = "synthetic?n=64"
