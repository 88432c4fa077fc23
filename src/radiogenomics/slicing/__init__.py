"""Cutting volumes into 2D slices: planes, layout, intensity, resizing."""

from radiogenomics.slicing.extractor import SliceExtractor, extract_slices
from radiogenomics.slicing.geometry import Orientation, SliceLayout, plane_axes, slice_layout
from radiogenomics.slicing.intensity import IntensityMethod, to_uint8
from radiogenomics.slicing.resize import ResizeSlices, resize_slice

__all__ = [
    "IntensityMethod",
    "Orientation",
    "ResizeSlices",
    "SliceExtractor",
    "SliceLayout",
    "extract_slices",
    "plane_axes",
    "resize_slice",
    "slice_layout",
    "to_uint8",
]
