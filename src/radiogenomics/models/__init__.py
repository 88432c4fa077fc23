"""Models: segmentation networks (smp) and the stage 2 sequence classifier (timm + LSTM).

Importing this package is cheap; torch, smp and timm load when a model is built (the
sequence classifier's module is imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr
from radiogenomics.models.segmentation import (
    CHECKPOINT_FORMAT,
    HUB_WEIGHT_NAMES,
    SegmentationModelConfig,
    create_segmentation_model,
    load_segmentation_model,
    load_state_dict_file,
    load_weights,
    training_orientation,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "HUB_WEIGHT_NAMES",
    "SegmentationModelConfig",
    "SequenceClassifier",
    "SequenceHead",
    "create_segmentation_model",
    "feature_width",
    "load_backbone_weights",
    "load_segmentation_model",
    "load_state_dict_file",
    "load_weights",
    "training_orientation",
]

_LAZY = frozenset({"SequenceClassifier", "SequenceHead", "feature_width", "load_backbone_weights"})

if TYPE_CHECKING:
    from radiogenomics.models.sequence import (
        SequenceClassifier,
        SequenceHead,
        feature_width,
        load_backbone_weights,
    )


__getattr__ = lazy_getattr(
    __name__, globals(), dict.fromkeys(_LAZY, "radiogenomics.models.sequence")
)
