"""Sampling: keep relatively distinct slices; add tumor-free ones."""

from radiogenomics.sampling.distinct import (
    DistinctSampler,
    SamplingMethod,
    distinct_indices,
    slice_similarity,
    stride_indices,
)
from radiogenomics.sampling.tumor_free import (
    TumorFreeSlices,
    is_tumor_free,
    spread_indices,
    tumor_free_count,
)

__all__ = [
    "DistinctSampler",
    "SamplingMethod",
    "TumorFreeSlices",
    "distinct_indices",
    "is_tumor_free",
    "slice_similarity",
    "spread_indices",
    "stride_indices",
    "tumor_free_count",
]
