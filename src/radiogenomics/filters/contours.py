"""Contours of binary masks (OpenCV), and ``ContourCountFilter``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters.base import SliceFilter
from radiogenomics.records import SliceRecord

__all__ = ["ContourCountFilter", "count_contours", "largest_contour_area"]


def _find_contours(mask: npt.NDArray[Any], *, holes: bool) -> list[npt.NDArray[np.int32]]:
    import cv2

    binary = np.ascontiguousarray(np.asarray(mask) > 0, dtype=np.uint8)
    mode = cv2.RETR_LIST if holes else cv2.RETR_EXTERNAL
    contours, _ = cv2.findContours(binary, mode, cv2.CHAIN_APPROX_SIMPLE)
    return [np.asarray(c, dtype=np.int32) for c in contours]


def count_contours(mask: npt.NDArray[Any], *, count_holes: bool = False) -> int:
    """Number of separate regions (outer contours) of a 2D binary mask.

    Args:
        mask: Shape (H, W); non-zero is foreground.
        count_holes: Also count the contours of holes inside regions, as the released
            stage-2 code does (OpenCV ``RETR_LIST`` instead of ``RETR_EXTERNAL``).

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((9, 9), np.uint8)
        >>> mask[1:4, 1:4] = 1
        >>> mask[5:8, 5:8] = 1
        >>> count_contours(mask)
        2
    """
    return len(_find_contours(mask, holes=count_holes))


def largest_contour_area(mask: npt.NDArray[Any]) -> float:
    """Area (OpenCV ``contourArea``, in pixels) of the largest outer contour of a mask.

    Polygon area through the boundary pixel centres: a filled n x n square measures
    (n - 1)^2, a single pixel 0. Holes are not subtracted.
    """
    import cv2

    contours = _find_contours(mask, holes=False)
    return max((float(cv2.contourArea(c)) for c in contours), default=0.0)


class ContourCountFilter(SliceFilter):
    """Drop slices with more than ``max_contours`` separate tumor regions.

    Keeps a slice when ``min_contours <= n <= max_contours``, where ``n`` counts the
    contours of the ``channel`` mask. The writeup drops slices with more than 5 regions
    ("unlikely that a brain has multiple tumors"); the released stage-2 code also drops
    slices with no region and counts hole contours.

    Args:
        max_contours: Drops slices with strictly more contours than this.
        min_contours: Drops slices with strictly fewer (0 keeps tumor-free slices).
        count_holes: Count hole contours too (released code).
        channel: The mask channel whose regions are counted.
    """

    def __init__(
        self,
        *,
        max_contours: int = 5,
        min_contours: int = 1,
        count_holes: bool = False,
        channel: str = "WT",
    ) -> None:
        if not isinstance(max_contours, int) or max_contours < 0:
            raise ConfigurationError(f"max_contours={max_contours!r} must be an integer >= 0.")
        if not isinstance(min_contours, int) or not 0 <= min_contours <= max_contours:
            raise ConfigurationError(
                f"min_contours={min_contours!r} must be an integer in [0, max_contours="
                f"{max_contours}]."
            )
        self.max_contours = max_contours
        self.min_contours = min_contours
        self.count_holes = bool(count_holes)
        self.channel = channel

    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        n = count_contours(record.mask(self.channel), count_holes=self.count_holes)
        return self.min_contours <= n <= self.max_contours, record.replace(n_contours=n)

    def __repr__(self) -> str:
        return short_repr(
            self,
            max_contours=(self.max_contours, 5),
            min_contours=(self.min_contours, 1),
            count_holes=(self.count_holes, False),
            channel=(self.channel, "WT"),
        )
