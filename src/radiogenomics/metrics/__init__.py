"""Losses and metrics. The stage 1 ones need torch, so they are imported on first use.

``from radiogenomics.metrics import dice_score`` imports torch then; ``import
radiogenomics.metrics`` alone does not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "BCEDiceLoss",
    "DiceLoss",
    "SegmentationMetrics",
    "dice_score",
    "iou_score",
    "soft_dice_loss",
]

if TYPE_CHECKING:
    from radiogenomics.metrics.segmentation import (
        BCEDiceLoss,
        DiceLoss,
        SegmentationMetrics,
        dice_score,
        iou_score,
        soft_dice_loss,
    )


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'radiogenomics.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module("radiogenomics.metrics.segmentation"), name)
    globals()[name] = value
    return value
