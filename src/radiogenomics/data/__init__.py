"""Prepared data: the slice store, the preparation jobs and the training datasets.

The datasets (stage 1 slices, stage 2 chunks) and their augmentation need torch;
they are imported on first use, so ``import radiogenomics.data`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr
from radiogenomics.data.frame_store import (
    FRAME_MANIFEST_FIELDS,
    SERIES_FIELDS,
    FrameStore,
    SeriesKey,
)
from radiogenomics.data.prepare_classification import (
    ClassificationPrepConfig,
    ClassificationPrepReport,
    PatientOutcome,
    SeriesOutcome,
    SeriesStatus,
    find_series_inputs,
    is_excluded_series,
    load_series_pixels,
    prepare_classification,
    prepare_patient,
    series_frames,
    series_to_frames,
)
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
    "FRAME_MANIFEST_FIELDS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MANIFEST_FIELDS",
    "SERIES_FIELDS",
    "ArrayFrames",
    "AugmentConfig",
    "AugmentParams",
    "CaseOutcome",
    "ChunkDataset",
    "ChunkItem",
    "ChunkRef",
    "ClassificationPrepConfig",
    "ClassificationPrepReport",
    "FrameInput",
    "FrameSource",
    "FrameStore",
    "LastChunkPolicy",
    "LazyFrames",
    "PatientOutcome",
    "PrepareReport",
    "PreparedSlice",
    "PreparedSlices",
    "SegmentationDataset",
    "SegmentationItem",
    "SegmentationPrepConfig",
    "SeriesKey",
    "SeriesOutcome",
    "SeriesStatus",
    "apply_augmentation",
    "as_frame_source",
    "augment_frames",
    "build_segmentation_pipeline",
    "chunk_starts",
    "find_series_inputs",
    "is_excluded_series",
    "load_series_pixels",
    "normalise_frames",
    "normalise_slice",
    "prepare_case",
    "prepare_classification",
    "prepare_patient",
    "prepare_segmentation",
    "read_manifest",
    "sample_augmentation",
    "series_frames",
    "series_to_frames",
    "write_case",
    "write_manifest",
]

_CHUNKS = frozenset(
    {
        "ArrayFrames",
        "ChunkDataset",
        "ChunkItem",
        "ChunkRef",
        "FrameInput",
        "FrameSource",
        "LastChunkPolicy",
        "LazyFrames",
        "as_frame_source",
        "augment_frames",
        "chunk_starts",
        "normalise_frames",
    }
)

_LAZY = frozenset(
    {
        "IMAGENET_MEAN",
        "IMAGENET_STD",
        "AugmentConfig",
        "AugmentParams",
        "SegmentationDataset",
        "SegmentationItem",
        "apply_augmentation",
        "normalise_slice",
        "sample_augmentation",
    }
)

if TYPE_CHECKING:
    from radiogenomics.data.chunks import (
        ArrayFrames,
        ChunkDataset,
        ChunkItem,
        ChunkRef,
        FrameInput,
        FrameSource,
        LastChunkPolicy,
        LazyFrames,
        as_frame_source,
        augment_frames,
        chunk_starts,
        normalise_frames,
    )
    from radiogenomics.data.segmentation_dataset import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        AugmentConfig,
        AugmentParams,
        SegmentationDataset,
        SegmentationItem,
        apply_augmentation,
        normalise_slice,
        sample_augmentation,
    )


__getattr__ = lazy_getattr(
    __name__,
    globals(),
    {
        **dict.fromkeys(_CHUNKS, "radiogenomics.data.chunks"),
        **dict.fromkeys(_LAZY, "radiogenomics.data.segmentation_dataset"),
    },
)
