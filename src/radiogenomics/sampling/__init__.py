"""Sampling: keep relatively distinct slices."""

from radiogenomics.sampling.distinct import (
    DistinctSampler,
    SamplingMethod,
    distinct_indices,
    slice_similarity,
    stride_indices,
)

__all__ = [
    "DistinctSampler",
    "SamplingMethod",
    "distinct_indices",
    "slice_similarity",
    "stride_indices",
]
