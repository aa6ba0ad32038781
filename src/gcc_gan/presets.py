"""The one rule for choosing a preset when the user gives none (search, train, scale).

`paper` (the published protocol: tens of thousands of iterations at full width) is what a
GPU is for; on a CPU it would run for days. So: `--preset` given → that one; else `paper`
where the run will use a GPU and `tiny` (minutes on a CPU) where it will not. The choice
is announced on the first line a command prints, with the option that changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

PRESETS = ("tiny", "paper")


@dataclass(frozen=True)
class PresetChoice:
    name: str  # "tiny" or "paper"
    note: str | None  # the announcement when chosen automatically; None when given


def _gpu_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_preset(preset: str | None, device: str = "auto") -> PresetChoice:
    """The preset a command runs with: `preset` when given, else by the device the run
    will use (`device`: auto, cpu or cuda, as the commands' --device)."""
    if preset is not None:
        return PresetChoice(preset, None)
    if device == "cuda" or (device == "auto" and _gpu_available()):
        return PresetChoice("paper", "preset paper (GPU; --preset tiny for a run of minutes)")
    why = "--device cpu" if device == "cpu" else "no GPU"
    return PresetChoice("tiny", f"preset tiny ({why}; --preset paper for the published protocol)")
