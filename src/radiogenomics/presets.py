"""Named presets: plain data that users can print, copy and change.

* ``"writeup"``: what the solution's writeup describes. Stage 1 keeps slices whose
  tumor area over *brain* area exceeds 0.01 and drops near-duplicate neighbouring
  slices (here: Pearson correlation with the last kept slice above 0.9); slices are laid
  out radiologically so that they look like Task 2 DICOM images.
* ``"released-code"``: what the released code actually does. Tumor area over the whole
  *slice* (> 0.01), filter first, then keep every T-th passing slice with
  T = max(round(0.1 n), 1); stored array axes, no reorientation.

Example:
    >>> from radiogenomics.presets import segmentation_preset
    >>> segmentation_preset("released-code").sampler
    'stride'
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from radiogenomics._options import check_choice
from radiogenomics.data.prepare_segmentation import SegmentationPrepConfig

__all__ = ["PRESETS", "PresetName", "segmentation_preset"]

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
