"""Slice filters: keep the informative slices."""

from radiogenomics.filters.base import SliceFilter
from radiogenomics.filters.blank import BlankSliceFilter, nonzero_fraction
from radiogenomics.filters.contours import (
    ContourCountFilter,
    count_contours,
    largest_contour_area,
)
from radiogenomics.filters.tumor_area import (
    AreaMeasure,
    AreaReference,
    TumorAreaFilter,
    tumor_area_ratio,
)

__all__ = [
    "AreaMeasure",
    "AreaReference",
    "BlankSliceFilter",
    "ContourCountFilter",
    "SliceFilter",
    "TumorAreaFilter",
    "count_contours",
    "largest_contour_area",
    "nonzero_fraction",
    "tumor_area_ratio",
]
