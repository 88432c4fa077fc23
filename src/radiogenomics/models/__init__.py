"""Models: segmentation networks (smp) and the stage 2 sequence classifier (timm + LSTM).

Importing this package is cheap; torch, smp and timm load when a model is built (the
sequence classifier's module is imported on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from radiogenomics.models.segmentation import (
    CHECKPOINT_FORMAT,
    HUB_WEIGHT_NAMES,
    SegmentationModelConfig,
    create_segmentation_model,
    load_segmentation_model,
    load_state_dict_file,
    load_weights,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "HUB_WEIGHT_NAMES",
    "SegmentationModelConfig",
    "SequenceClassifier",
    "SequenceHead",
    "create_segmentation_model",
    "load_backbone_weights",
    "load_segmentation_model",
    "load_state_dict_file",
    "load_weights",
]

_LAZY = frozenset({"SequenceClassifier", "SequenceHead", "load_backbone_weights"})

if TYPE_CHECKING:
    from radiogenomics.models.sequence import (
        SequenceClassifier,
        SequenceHead,
        load_backbone_weights,
    )


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'radiogenomics.models' has no attribute {name!r}")
    value = getattr(importlib.import_module("radiogenomics.models.sequence"), name)
    globals()[name] = value
    return value
