"""Training: patient-grouped splits, the stage 1 and stage 2 training loops, device augmentation.

The splits need only NumPy and scikit-learn; the training loops need torch and are
imported on first use, so ``import radiogenomics.training`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr
from radiogenomics.training.split import (
    given_patient_split,
    patient_folds,
    patient_split,
    stratified_patient_folds,
    stratified_patient_split,
)

__all__ = [
    "BatchAugmentParams",
    "ClassificationRunInfo",
    "ClassificationTrainConfig",
    "ClassificationTrainResult",
    "CrossValidationResult",
    "DeviceAugment",
    "SegmentationTrainConfig",
    "TrainResult",
    "TrainingSettings",
    "cross_validate_classification",
    "given_patient_split",
    "load_classification_model",
    "load_segmentation_model",
    "patient_folds",
    "patient_split",
    "resolve_amp",
    "resolve_device",
    "stratified_patient_folds",
    "stratified_patient_split",
    "train_classification",
    "train_classification_all",
    "train_segmentation",
]

_CLASSIFICATION = frozenset(
    {
        "ClassificationRunInfo",
        "ClassificationTrainResult",
        "load_classification_model",
        "train_classification",
        "train_classification_all",
    }
)

_AUGMENT = frozenset({"BatchAugmentParams", "DeviceAugment"})

_CROSS_VALIDATION = frozenset({"CrossValidationResult", "cross_validate_classification"})

_SETTINGS = frozenset({"ClassificationTrainConfig", "SegmentationTrainConfig", "TrainingSettings"})

_LAZY = frozenset(
    {
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
    from radiogenomics.training.cross_validation import (
        CrossValidationResult,
        cross_validate_classification,
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
        **dict.fromkeys(_CROSS_VALIDATION, "radiogenomics.training.cross_validation"),
        **dict.fromkeys(_LAZY, "radiogenomics.training.segmentation"),
        **dict.fromkeys(_SETTINGS, "radiogenomics.training.settings"),
    },
)
