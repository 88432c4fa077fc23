"""radiogenomics: predict MGMT promoter methylation from brain MRI, in composable steps.

The top-level namespace re-exports the public components; they are imported lazily, so
``import radiogenomics`` is cheap (no torch, timm, smp, pydicom or OpenCV at import).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

try:
    __version__ = version("radiogenomics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_EXPORTS: dict[str, str] = {
    "SliceRecord": "radiogenomics.records",
    "VolumeRecord": "radiogenomics.records",
    "Pipeline": "radiogenomics.pipeline",
    "SliceExtractor": "radiogenomics.slicing",
    "ResizeSlices": "radiogenomics.slicing",
    "DistinctSampler": "radiogenomics.sampling",
    "TumorAreaFilter": "radiogenomics.filters",
    "ContourCountFilter": "radiogenomics.filters",
    "BlankSliceFilter": "radiogenomics.filters",
    "RadiogenomicsError": "radiogenomics.errors",
}

__all__ = [
    "BlankSliceFilter",
    "ContourCountFilter",
    "DistinctSampler",
    "Pipeline",
    "RadiogenomicsError",
    "ResizeSlices",
    "SliceExtractor",
    "SliceRecord",
    "TumorAreaFilter",
    "VolumeRecord",
    "__version__",
]

if TYPE_CHECKING:
    from radiogenomics.errors import RadiogenomicsError
    from radiogenomics.filters import BlankSliceFilter, ContourCountFilter, TumorAreaFilter
    from radiogenomics.pipeline import Pipeline
    from radiogenomics.records import SliceRecord, VolumeRecord
    from radiogenomics.sampling import DistinctSampler
    from radiogenomics.slicing import ResizeSlices, SliceExtractor


__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
