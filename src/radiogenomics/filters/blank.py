"""``BlankSliceFilter``: drop slices that are (almost) empty."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_range, short_repr
from radiogenomics.filters.base import SliceFilter
from radiogenomics.records import SliceRecord

__all__ = ["BlankSliceFilter", "nonzero_fraction"]


def nonzero_fraction(image: npt.NDArray[Any]) -> float:
    """Fraction of the pixels of ``image`` that are non-zero (0 for an empty array).

    Example:
        >>> import numpy as np
        >>> nonzero_fraction(np.array([[0, 3], [0, 0]]))
        0.25
    """
    return float(np.count_nonzero(image)) / image.size if image.size else 0.0


class BlankSliceFilter(SliceFilter):
    """Keep slices whose non-zero pixel fraction is strictly greater than ``min_fraction``.

    The released code keeps a slice when more than 10 % of its pixels are non-zero.
    Apply it after intensity normalisation (background maps to 0).

    Args:
        min_fraction: Keeps slices with a non-zero fraction strictly above it.
    """

    def __init__(self, *, min_fraction: float = 0.1) -> None:
        self.min_fraction = check_range("min_fraction", min_fraction, low=0.0, high=1.0)

    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        return nonzero_fraction(record.image) > self.min_fraction, record

    def __repr__(self) -> str:
        return short_repr(self, min_fraction=(self.min_fraction, 0.1))
