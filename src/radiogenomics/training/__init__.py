"""Training: patient-grouped splits, the stage 1 and stage 2 training loops, device augmentation.

The splits need only NumPy and scikit-learn; the training loops need torch and are
imported on first use, so ``import radiogenomics.training`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr
from radiogenomics.training.split import patient_folds, patient_split, stratified_patient_split

__all__ = [
    "BatchAugmentParams",
    "ClassificationRunInfo",
    "ClassificationTrainConfig",
    "ClassificationTrainResult",
    "DeviceAugment",
    "SegmentationTrainConfig",
    "TrainResult",
    "load_classification_model",
    "load_segmentation_model",
    "patient_folds",
    "patient_split",
    "resolve_amp",
    "resolve_device",
    "stratified_patient_split",
    "train_classification",
    "train_classification_all",
    "train_segmentation",
]

_CLASSIFICATION = frozenset(
    {
        "ClassificationRunInfo",
        "ClassificationTrainConfig",
        "ClassificationTrainResult",
        "load_classification_model",
        "train_classification",
        "train_classification_all",
    }
)

_AUGMENT = frozenset({"BatchAugmentParams", "DeviceAugment"})

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
    from radiogenomics.training.augment import BatchAugmentParams, DeviceAugment
    from radiogenomics.training.classification import (
        ClassificationRunInfo,
        ClassificationTrainConfig,
        ClassificationTrainResult,
        load_classification_model,
        train_classification,
        train_classification_all,
    )
    from radiogenomics.training.segmentation import (
        SegmentationTrainConfig,
        TrainResult,
        load_segmentation_model,
        resolve_amp,
        resolve_device,
        train_segmentation,
    )


__getattr__ = lazy_getattr(
    __name__,
    globals(),
    {
        **dict.fromkeys(_AUGMENT, "radiogenomics.training.augment"),
        **dict.fromkeys(_CLASSIFICATION, "radiogenomics.training.classification"),
        **dict.fromkeys(_LAZY, "radiogenomics.training.segmentation"),
    },
)
