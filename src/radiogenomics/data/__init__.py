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
from radiogenomics.data.frames import (
    ClassificationPrepConfig,
    FrameRecipe,
    MaskFunction,
    frames_from_masks,
    series_frames,
    series_to_frames,
)
from radiogenomics.data.prepare_classification import (
    ClassificationPrepReport,
    PatientOutcome,
    SeriesOutcome,
    SeriesStatus,
    prepare_classification,
    prepare_patient,
)
from radiogenomics.data.prepare_segmentation import (
    CaseOutcome,
    PrepareReport,
    prepare_case,
    prepare_segmentation,
)
from radiogenomics.data.slices import (
    SegmentationPrepConfig,
    SliceRecipe,
    SliceStep,
    VolumeStep,
    build_segmentation_pipeline,
    describe_step,
)
from radiogenomics.data.store import (
    MANIFEST_FIELDS,
    PreparedSlice,
    PreparedSlices,
    read_manifest,
    write_case,
    write_manifest,
)
from radiogenomics.io.task2 import find_series_inputs, is_excluded_series, load_series_pixels

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
    "FrameRecipe",
    "FrameSource",
    "FrameStore",
    "LastChunkPolicy",
    "LazyFrames",
    "MaskFunction",
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
    "SliceRecipe",
    "SliceStep",
    "VolumeStep",
    "apply_augmentation",
    "as_frame_source",
    "augment_frames",
    "build_segmentation_pipeline",
    "chunk_starts",
    "describe_step",
    "find_series_inputs",
    "frames_from_masks",
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
        "FrameRecipe",
        "FrameSource",
        "LastChunkPolicy",
        "LazyFrames",
        "MaskFunction",
        "as_frame_source",
        "augment_frames",
        "chunk_starts",
        "describe_step",
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
