"""``DistinctSampler``: keep relatively distinct slices of each series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.records import SliceRecord

__all__ = [
    "DistinctSampler",
    "SamplingMethod",
    "distinct_indices",
    "slice_similarity",
    "stride_indices",
]

SamplingMethod = Literal["similarity", "stride"]


def stride_indices(n: int, *, fraction: float = 0.1) -> list[int]:
    """The released code's rule: keep indices 0, T, 2T, ... with T = max(round(f n), 1).

    ``round`` is Python's (halves to even), as in the released code: n = 25 gives T = 2.

    Args:
        n: Number of slices.
        fraction: ``f``; 0.1 keeps about 10 slices.

    Example:
        >>> stride_indices(35)
        [0, 4, 8, 12, 16, 20, 24, 28, 32]
    """
    if n <= 0:
        return []
    step = max(round(fraction * n), 1)
    return list(range(0, n, step))


def _thumbnail(image: npt.NDArray[Any], subsample: int) -> npt.NDArray[np.float32]:
    return np.asarray(image[::subsample, ::subsample], dtype=np.float32).ravel()


def slice_similarity(a: npt.NDArray[Any], b: npt.NDArray[Any], *, subsample: int = 1) -> float:
    """Pearson correlation of two slices' intensities, in [-1, 1].

    Values within 1e-9 of -1 or 1 (the rounding of the dot product, which depends on the
    CPU and its BLAS) are returned as exactly -1 or 1, so that thresholds at the ends
    give the same answer on every machine.

    Two constant slices are similar (1.0) when equal, else dissimilar (0.0); a constant
    slice and a varying one have similarity 0.0.

    Args:
        a: Shape (H, W).
        b: Shape (H, W).
        subsample: Correlate every ``subsample``-th pixel along each axis (a 4x4
            subsampling keeps 3,600 of a 240x240 slice's pixels: plenty to tell
            near-duplicates apart, 16 times less work).

    Example:
        >>> import numpy as np
        >>> a = np.arange(16.0).reshape(4, 4)
        >>> round(slice_similarity(a, 2 * a + 1), 6)
        1.0
    """
    rows, means, constant = _unit_rows([a, b], subsample)
    return _similarity(rows, means, constant, 0, 1)


def _unit_rows(
    images: Sequence[npt.NDArray[Any]], subsample: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Centred, unit-norm rows of the (subsampled) slices, their means, and constancy."""
    flat = np.stack([_thumbnail(image, subsample) for image in images]).astype(np.float64)
    means = flat.mean(axis=1)
    flat -= means[:, None]
    norms = np.sqrt(np.einsum("ij,ij->i", flat, flat))
    constant = norms <= 1e-9 * np.maximum(1.0, np.abs(means)) * np.sqrt(flat.shape[1])
    flat /= np.where(constant, 1.0, norms)[:, None]
    return flat, means, constant


def _similarity(
    rows: npt.NDArray[np.float64],
    means: npt.NDArray[np.float64],
    constant: npt.NDArray[np.bool_],
    i: int,
    j: int,
) -> float:
    if constant[i] or constant[j]:
        return 1.0 if constant[i] and constant[j] and means[i] == means[j] else 0.0
    value = float(rows[i] @ rows[j])
    # The dot product's last bits depend on the BLAS and the CPU: a correlation within
    # rounding of +-1 is exactly +-1, so thresholds at the ends never hang on them.
    if abs(abs(value) - 1.0) <= _SNAP:
        return 1.0 if value > 0 else -1.0
    return min(max(value, -1.0), 1.0)


_SNAP = 1e-9
"""Correlations within this of -1 or 1 are exactly -1 or 1 (rounding of the dot product)."""


def distinct_indices(
    images: Sequence[npt.NDArray[Any]], *, max_similarity: float = 0.9, subsample: int = 1
) -> list[int]:
    """The writeup's intent: drop a slice too similar to the last kept one.

    Walks the slices in order, always keeps the first, and keeps each next slice whose
    :func:`slice_similarity` (with the same ``subsample``) to the last kept slice is at
    most ``max_similarity`` and which is not an exact (affine) repeat of it (similarity
    1 up to rounding).

    Args:
        images: The slices of one series, in order, each of shape (H, W).
        max_similarity: Keeps a slice whose similarity to the last kept one is ``<=`` it;
            1.0 keeps every slice except exact (affine) repeats.
        subsample: See :func:`slice_similarity`.

    Returns:
        Indices into ``images`` of the slices kept, increasing.
    """
    if len(images) == 0:
        return []
    rows, means, constant = _unit_rows(images, subsample)
    kept = [0]
    for i in range(1, len(images)):
        similarity = _similarity(rows, means, constant, kept[-1], i)
        if similarity <= max_similarity and similarity < 1.0:
            kept.append(i)
    return kept


class DistinctSampler:
    """Keep relatively distinct slices within each series.

    Slices are grouped by ``(patient_id, modality, plane)``; within a group, order is
    kept and the sampler picks which to keep:

    * ``method="similarity"`` (the writeup's intent): drop a slice whose Pearson
      correlation with the last kept slice is above ``max_similarity``
      (see :func:`distinct_indices`).
    * ``method="stride"`` (the released code): of the n slices, keep every T-th,
      T = max(round(``fraction`` n), 1) (see :func:`stride_indices`).

    Args:
        method: ``"similarity"`` or ``"stride"``.
        max_similarity: Threshold for ``"similarity"``.
        fraction: Stride fraction for ``"stride"``.
        subsample: Pixel subsampling of the similarity (see :func:`slice_similarity`).
    """

    def __init__(
        self,
        *,
        method: SamplingMethod = "similarity",
        max_similarity: float = 0.9,
        fraction: float = 0.1,
        subsample: int = 4,
    ) -> None:
        self.method = check_choice("method", method, ("similarity", "stride"))
        self.max_similarity = check_range("max_similarity", max_similarity, low=-1.0, high=1.0)
        self.fraction = check_range("fraction", fraction, low=0.0, high=1.0, low_inclusive=False)
        if not isinstance(subsample, int) or subsample < 1:
            raise ConfigurationError(f"subsample={subsample!r} must be a positive integer.")
        self.subsample = subsample

    def select(self, images: Sequence[npt.NDArray[Any]]) -> list[int]:
        """Indices of the slices kept from one series."""
        if self.method == "stride":
            return stride_indices(len(images), fraction=self.fraction)
        return distinct_indices(
            images, max_similarity=self.max_similarity, subsample=self.subsample
        )

    def __call__(self, records: Sequence[SliceRecord]) -> list[SliceRecord]:
        """Return the kept records, in input order."""
        groups: dict[tuple[str, str, str], list[int]] = {}
        for position, record in enumerate(records):
            groups.setdefault(record.group, []).append(position)
        keep: set[int] = set()
        for members in groups.values():
            chosen = self.select([records[i].image for i in members])
            keep.update(members[i] for i in chosen)
        return [record for position, record in enumerate(records) if position in keep]

    def __repr__(self) -> str:
        return short_repr(
            self,
            method=(self.method, "similarity"),
            max_similarity=(self.max_similarity, 0.9),
            fraction=(self.fraction, 0.1),
            subsample=(self.subsample, 4),
        )
