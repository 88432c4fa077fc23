"""Evaluation jobs: scoring trained runs on held-out data.

* :mod:`radiogenomics.evaluation.held_out`: a stage 2 run's held-out validation patients,
  scored as its training loop scored them.
* :mod:`radiogenomics.evaluation.segmentation`: a stage 1 model on whole BraTS volumes:
  Dice over the tumor slices and over the volume, and the false-positive slice rate
  (over every tumor-free slice and over the brain slices).

Every name is imported on first use (the jobs import torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

__all__ = [
    "BRAIN_SLICE_FRACTION",
    "EVALUATION_FIELDS",
    "EvaluationRow",
    "HeldOutPredictions",
    "SegmentationEvaluation",
    "SliceScores",
    "evaluate_segmentation",
    "held_out_predictions",
    "score_slices",
]

_MEMBERS = {
    **dict.fromkeys(
        ("HeldOutPredictions", "held_out_predictions"), "radiogenomics.evaluation.held_out"
    ),
    **dict.fromkeys(
        (
            "BRAIN_SLICE_FRACTION",
            "EVALUATION_FIELDS",
            "EvaluationRow",
            "SegmentationEvaluation",
            "SliceScores",
            "evaluate_segmentation",
            "score_slices",
        ),
        "radiogenomics.evaluation.segmentation",
    ),
}

if TYPE_CHECKING:
    from radiogenomics.evaluation.held_out import HeldOutPredictions, held_out_predictions
    from radiogenomics.evaluation.segmentation import (
        BRAIN_SLICE_FRACTION,
        EVALUATION_FIELDS,
        EvaluationRow,
        SegmentationEvaluation,
        SliceScores,
        evaluate_segmentation,
        score_slices,
    )

__getattr__ = lazy_getattr(__name__, globals(), _MEMBERS)
