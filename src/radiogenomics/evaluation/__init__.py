"""Evaluation jobs: scoring trained runs on held-out data.

* :mod:`radiogenomics.evaluation.held_out`: a stage 2 run's held-out validation patients,
  scored as its training loop scored them.

Every name is imported on first use (the jobs import torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

__all__ = ["HeldOutPredictions", "held_out_predictions"]

_MEMBERS = dict.fromkeys(__all__, "radiogenomics.evaluation.held_out")

if TYPE_CHECKING:
    from radiogenomics.evaluation.held_out import HeldOutPredictions, held_out_predictions

__getattr__ = lazy_getattr(__name__, globals(), _MEMBERS)
