"""Losses and metrics. The stage 1 ones need torch, so they are imported on first use.

``from radiogenomics.metrics import dice_score`` imports torch then; ``import
radiogenomics.metrics`` alone does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(
    __name__, globals(), dict.fromkeys(__all__, "radiogenomics.metrics.segmentation")
)
