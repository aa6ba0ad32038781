"""Data and GAN training: datasets from local paths (and an embedded synthetic default),
losses, the trainer step, atomic checkpoints, and training runs on disk.

The names below are imported on first use, so `gcc_gan.train.rundir` (which weights a
training run holds, read by compile, bench and sample before any tensor) stays light and
does not import torch."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import PRESETS, TrainConfig, make_config
    from .data import ImageDataset, SampleOrder, load_dataset, parse_data_spec
    from .run import RunResult, TrainRequest, train
    from .trainer import GanTrainer

_WHERE = {"PRESETS": "config", "TrainConfig": "config", "make_config": "config", "ImageDataset": "data",
          "SampleOrder": "data", "load_dataset": "data", "parse_data_spec": "data", "RunResult": "run",
          "TrainRequest": "run", "train": "run", "GanTrainer": "trainer"}

__all__ = ["PRESETS", "TrainConfig", "make_config", "ImageDataset", "SampleOrder", "load_dataset",
           "parse_data_spec", "RunResult", "TrainRequest", "train", "GanTrainer"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
