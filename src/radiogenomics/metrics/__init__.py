"""Losses and metrics. The stage 1 ones need torch, so they are imported on first use.

``from radiogenomics.metrics import dice_score`` imports torch then; ``import
radiogenomics.metrics`` alone does not. The AUC statistics (:mod:`radiogenomics.metrics.auc`)
and the out-of-fold tables (:mod:`radiogenomics.metrics.oof`) never import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

__all__ = [
    "COMBINED",
    "OOF_FIELDS",
    "AucComparison",
    "AucReport",
    "BCEDiceLoss",
    "DeLongTest",
    "DeltaInterval",
    "DiceLoss",
    "GroupSummary",
    "OofComparison",
    "OofRow",
    "OofSummary",
    "SegmentationMetrics",
    "auc_permutation_test",
    "auc_report",
    "compare_auc",
    "compare_oof",
    "delong_test",
    "dice_score",
    "false_positive_slice_rate",
    "hanley_mcneil_se",
    "iou_score",
    "oof_groups",
    "paired_bootstrap_delta",
    "read_oof",
    "soft_dice_loss",
    "summarize_oof",
    "write_oof",
]

_SEGMENTATION = (
    "BCEDiceLoss",
    "DiceLoss",
    "SegmentationMetrics",
    "dice_score",
    "false_positive_slice_rate",
    "iou_score",
    "soft_dice_loss",
)
_AUC = (
    "AucComparison",
    "AucReport",
    "DeLongTest",
    "DeltaInterval",
    "auc_permutation_test",
    "auc_report",
    "compare_auc",
    "delong_test",
    "hanley_mcneil_se",
    "paired_bootstrap_delta",
)
_OOF = (
    "COMBINED",
    "OOF_FIELDS",
    "GroupSummary",
    "OofComparison",
    "OofRow",
    "OofSummary",
    "compare_oof",
    "oof_groups",
    "read_oof",
    "summarize_oof",
    "write_oof",
)

if TYPE_CHECKING:
    from radiogenomics.metrics.auc import (
        AucComparison,
        AucReport,
        DeLongTest,
        DeltaInterval,
        auc_permutation_test,
        auc_report,
        compare_auc,
        delong_test,
        hanley_mcneil_se,
        paired_bootstrap_delta,
    )
    from radiogenomics.metrics.oof import (
        COMBINED,
        OOF_FIELDS,
        GroupSummary,
        OofComparison,
        OofRow,
        OofSummary,
        compare_oof,
        oof_groups,
        read_oof,
        summarize_oof,
        write_oof,
    )
    from radiogenomics.metrics.segmentation import (
        BCEDiceLoss,
        DiceLoss,
        SegmentationMetrics,
        dice_score,
        false_positive_slice_rate,
        iou_score,
        soft_dice_loss,
    )


__getattr__ = lazy_getattr(
    __name__,
    globals(),
    {
        **dict.fromkeys(_SEGMENTATION, "radiogenomics.metrics.segmentation"),
        **dict.fromkeys(_AUC, "radiogenomics.metrics.auc"),
        **dict.fromkeys(_OOF, "radiogenomics.metrics.oof"),
    },
)
