"""radiogenomics: predict MGMT promoter methylation from brain MRI, in composable steps.

The top-level namespace re-exports the building blocks of the two-stage solution: stage 1
slices (``SliceExtractor``, ``DistinctSampler``, ``TumorAreaFilter``,
``ContourCountFilter``, ``Pipeline``), stage 2 (``MaskPredictor``, ``ChunkDataset``,
``SequenceClassifier``) and prediction (``ZoomTTA``, ``PatientAggregator``). They are
imported lazily, so ``import radiogenomics`` is cheap (no torch, timm, smp, pydicom or
OpenCV at import).
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
    "ChunkDataset": "radiogenomics.data.chunks",
    "SequenceClassifier": "radiogenomics.models.sequence",
    "ZoomTTA": "radiogenomics.inference.tta",
    "PatientAggregator": "radiogenomics.inference.aggregate",
    "MaskPredictor": "radiogenomics.inference.predict_masks",
    "RadiogenomicsError": "radiogenomics.errors",
}

__all__ = [
    "BlankSliceFilter",
    "ChunkDataset",
    "ContourCountFilter",
    "DistinctSampler",
    "MaskPredictor",
    "PatientAggregator",
    "Pipeline",
    "RadiogenomicsError",
    "ResizeSlices",
    "SequenceClassifier",
    "SliceExtractor",
    "SliceRecord",
    "TumorAreaFilter",
    "VolumeRecord",
    "ZoomTTA",
    "__version__",
]

if TYPE_CHECKING:
    from radiogenomics.data.chunks import ChunkDataset
    from radiogenomics.errors import RadiogenomicsError
    from radiogenomics.filters import BlankSliceFilter, ContourCountFilter, TumorAreaFilter
    from radiogenomics.inference.aggregate import PatientAggregator
    from radiogenomics.inference.predict_masks import MaskPredictor
    from radiogenomics.inference.tta import ZoomTTA
    from radiogenomics.models.sequence import SequenceClassifier
    from radiogenomics.pipeline import Pipeline
    from radiogenomics.records import SliceRecord, VolumeRecord
    from radiogenomics.sampling import DistinctSampler
    from radiogenomics.slicing import ResizeSlices, SliceExtractor


__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
