"""Prepared data: the slice store and the preparation jobs."""

from radiogenomics.data.prepare_segmentation import (
    CaseOutcome,
    PrepareReport,
    SegmentationPrepConfig,
    build_segmentation_pipeline,
    prepare_case,
    prepare_segmentation,
)
from radiogenomics.data.store import (
    MANIFEST_FIELDS,
    PreparedSlice,
    PreparedSlices,
    read_manifest,
    write_case,
    write_manifest,
)

__all__ = [
    "MANIFEST_FIELDS",
    "CaseOutcome",
    "PrepareReport",
    "PreparedSlice",
    "PreparedSlices",
    "SegmentationPrepConfig",
    "build_segmentation_pipeline",
    "prepare_case",
    "prepare_segmentation",
    "read_manifest",
    "write_case",
    "write_manifest",
]
