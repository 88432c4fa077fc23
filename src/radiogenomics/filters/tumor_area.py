"""``TumorAreaFilter``: keep slices that show enough tumor."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters.base import SliceFilter
from radiogenomics.filters.contours import largest_contour_area
from radiogenomics.records import SliceRecord

__all__ = ["AreaMeasure", "AreaReference", "TumorAreaFilter", "tumor_area_ratio"]

AreaReference = Literal["brain", "slice"]
"""What the tumor area is divided by (the brain area, or the whole slice)."""

AreaMeasure = Literal["pixels", "largest_contour"]
"""How an area is measured (pixel count, or the area of the largest outer contour)."""


def tumor_area_ratio(
    tumor: npt.NDArray[Any],
    *,
    brain: npt.NDArray[Any] | None = None,
    reference: AreaReference = "brain",
    area: AreaMeasure = "pixels",
) -> float:
    """Tumor area over a reference area, on one 2D slice.

    Args:
        tumor: Tumor mask of shape (H, W); non-zero is tumor.
        brain: Brain mask of shape (H, W), needed when ``reference="brain"``.
        reference: ``"brain"`` (the writeup) or ``"slice"`` (all H x W pixels, as the
            released stage-1 code does).
        area: ``"pixels"`` counts pixels; ``"largest_contour"`` measures the largest
            outer contour of the tumor and of the brain (the released stage-2 code). With
            ``reference="slice"`` the denominator is always H x W.

    Returns:
        The ratio, 0.0 when the reference area is 0.

    Example:
        >>> import numpy as np
        >>> tumor = np.zeros((10, 10), np.uint8); tumor[:2, :5] = 1
        >>> tumor_area_ratio(tumor, reference="slice")
        0.1
    """
    check_choice("reference", reference, ("brain", "slice"))
    check_choice("area", area, ("pixels", "largest_contour"))
    pixels = area == "pixels"
    numerator = float(np.count_nonzero(tumor)) if pixels else largest_contour_area(tumor)
    if reference == "slice":
        denominator = float(tumor.size)
    elif brain is None:
        raise ConfigurationError(
            "reference='brain' needs a brain mask; pass brain=... or use reference='slice'."
        )
    elif area == "pixels":
        denominator = float(np.count_nonzero(brain))
    else:
        denominator = largest_contour_area(brain)
    return numerator / denominator if denominator > 0 else 0.0


class TumorAreaFilter(SliceFilter):
    """Keep slices whose tumor area over a reference area is strictly above ``min_ratio``.

    Presets: the writeup keeps slices with tumor/brain > 0.01 in stage 1 and > 0.025 in
    stage 2; the released stage-1 code divides by the whole slice
    (``reference="slice"``), and its stage-2 code measures largest contours
    (``area="largest_contour"``) with the brain as the largest outer contour of
    ``image > brain_threshold``.

    The brain area comes from the record's brain mask when it has one, else from
    ``image > brain_threshold``.

    Args:
        min_ratio: Keeps slices with a ratio strictly greater than this.
        reference: ``"brain"`` or ``"slice"``.
        area: ``"pixels"`` or ``"largest_contour"``.
        channel: The mask channel that counts as tumor (``"WT"``).
        brain_threshold: Intensity above which a pixel is brain, when the record has no
            brain mask (the released code uses 1 on uint8 images).
    """

    def __init__(
        self,
        *,
        min_ratio: float = 0.01,
        reference: AreaReference = "brain",
        area: AreaMeasure = "pixels",
        channel: str = "WT",
        brain_threshold: float = 0.0,
    ) -> None:
        self.min_ratio = check_range("min_ratio", min_ratio, low=0.0)
        self.reference = check_choice("reference", reference, ("brain", "slice"))
        self.area = check_choice("area", area, ("pixels", "largest_contour"))
        self.channel = channel
        self.brain_threshold = brain_threshold

    def ratio(self, record: SliceRecord) -> float:
        """The tumor area ratio of one slice."""
        brain = None
        if self.reference == "brain":
            brain = (
                record.brain if record.brain is not None else record.image > self.brain_threshold
            )
        return tumor_area_ratio(
            record.mask(self.channel),
            brain=brain,
            reference=self.reference,  # type: ignore[arg-type]
            area=self.area,  # type: ignore[arg-type]
        )

    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        ratio = self.ratio(record)
        return ratio > self.min_ratio, record.replace(tumor_ratio=ratio)

    def __repr__(self) -> str:
        return short_repr(
            self,
            min_ratio=(self.min_ratio, 0.01),
            reference=(self.reference, "brain"),
            area=(self.area, "pixels"),
            channel=(self.channel, "WT"),
            brain_threshold=(self.brain_threshold, 0.0),
        )
