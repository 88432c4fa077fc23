"""Training: patient-grouped splits and the stage 1 segmentation loop.

The splits need only scikit-learn; the training loop needs torch and is imported on
first use, so ``import radiogenomics.training`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from radiogenomics.training.split import patient_folds, patient_split

__all__ = [
    "SegmentationTrainConfig",
    "TrainResult",
    "load_segmentation_model",
    "patient_folds",
    "patient_split",
    "resolve_amp",
    "resolve_device",
    "train_segmentation",
]

_LAZY = frozenset(
    {
        "SegmentationTrainConfig",
        "TrainResult",
        "load_segmentation_model",
        "resolve_amp",
        "resolve_device",
        "train_segmentation",
    }
)

if TYPE_CHECKING:
    from radiogenomics.training.segmentation import (
        SegmentationTrainConfig,
        TrainResult,
        load_segmentation_model,
        resolve_amp,
        resolve_device,
        train_segmentation,
    )


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'radiogenomics.training' has no attribute {name!r}")
    value = getattr(importlib.import_module("radiogenomics.training.segmentation"), name)
    globals()[name] = value
    return value
