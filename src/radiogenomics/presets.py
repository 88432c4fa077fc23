"""Named presets: plain data that users can print, copy and change.

Stage 1 (:func:`segmentation_preset`):

* ``"writeup"``: what the solution's writeup describes. Stage 1 keeps slices whose
  tumor area over *brain* area exceeds 0.01 and drops near-duplicate neighbouring
  slices (here: Pearson correlation with the last kept slice above 0.9); slices are laid
  out radiologically so that they look like Task 2 DICOM images.
* ``"released-code"``: what the released code actually does. Tumor area over the whole
  *slice* (> 0.01), filter first, then keep every T-th passing slice with
  T = max(round(0.1 n), 1); stored array axes, no reorientation.

Stage 2 (:func:`classification_preset`): both keep frames with tumor/brain > 0.025 and
at most 5 WT contours; the writeup counts pixels, the released code measures largest
contours and counts hole contours too.

Example:
    >>> from radiogenomics.presets import segmentation_preset
    >>> segmentation_preset("released-code").sampler
    'stride'
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from radiogenomics._options import check_choice
from radiogenomics.data.prepare_classification import ClassificationPrepConfig
from radiogenomics.data.prepare_segmentation import SegmentationPrepConfig
from radiogenomics.errors import ConfigurationError

__all__ = ["PRESETS", "PresetName", "classification_preset", "segmentation_preset"]

PresetName = Literal["writeup", "released-code"]
PRESETS: tuple[PresetName, ...] = ("writeup", "released-code")

_SEGMENTATION: dict[str, SegmentationPrepConfig] = {
    "writeup": SegmentationPrepConfig(),
    "released-code": SegmentationPrepConfig(
        orientation="native",
        reference="slice",
        sampler="stride",
        order="filter-then-sample",
    ),
}


_CLASSIFICATION: dict[str, ClassificationPrepConfig] = {
    "writeup": ClassificationPrepConfig(),
    "released-code": ClassificationPrepConfig(area="largest_contour", count_holes=True),
}


def segmentation_preset(name: PresetName, **changes: object) -> SegmentationPrepConfig:
    """The stage 1 preparation settings of a named preset, with optional changes.

    Args:
        name: ``"writeup"`` or ``"released-code"``.
        **changes: Fields of :class:`~radiogenomics.data.SegmentationPrepConfig` to change.

    Raises:
        ConfigurationError: Unknown preset or invalid change.
    """
    check_choice("preset", name, PRESETS)
    return dataclasses.replace(_SEGMENTATION[name], **changes)  # type: ignore[arg-type]


def classification_preset(name: PresetName, **changes: object) -> ClassificationPrepConfig:
    """The stage 2 preparation settings of a named preset, with optional changes.

    Both presets keep frames with tumor/brain > 0.025 and 1 to 5 WT contours. The
    writeup counts pixels; the released code measures the largest outer contour of the
    tumor and of the brain (``image > 1``) and also counts hole contours.

    Args:
        name: ``"writeup"`` or ``"released-code"``.
        **changes: Fields of :class:`~radiogenomics.data.ClassificationPrepConfig` to
            change.

    Raises:
        ConfigurationError: Unknown preset or invalid change.

    Example:
        >>> classification_preset("released-code").count_holes
        True
    """
    check_choice("preset", name, PRESETS)
    try:
        return dataclasses.replace(_CLASSIFICATION[name], **changes)  # type: ignore[arg-type]
    except TypeError as error:
        raise ConfigurationError(
            f"invalid stage 2 preparation setting ({error}); see ClassificationPrepConfig."
        ) from None
