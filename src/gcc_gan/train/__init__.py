"""Data and GAN training: datasets from local paths (and an embedded synthetic default),
losses, the trainer step, atomic checkpoints, and training runs on disk."""

from .config import PRESETS, TrainConfig, make_config
from .data import ImageDataset, SampleOrder, load_dataset, parse_data_spec
from .run import RunResult, TrainRequest, train
from .trainer import GanTrainer

__all__ = ["PRESETS", "TrainConfig", "make_config", "ImageDataset", "SampleOrder", "load_dataset",
           "parse_data_spec", "RunResult", "TrainRequest", "train", "GanTrainer"]
