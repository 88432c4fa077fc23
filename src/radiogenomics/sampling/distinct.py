"""``DistinctSampler``: keep relatively distinct slices of each series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range, short_repr
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


def slice_similarity(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Pearson correlation of two slices' intensities, in [-1, 1].

    Two constant slices are similar (1.0) when equal, else dissimilar (0.0); a constant
    slice and a varying one have similarity 0.0.

    Example:
        >>> import numpy as np
        >>> a = np.arange(16.0).reshape(4, 4)
        >>> round(slice_similarity(a, 2 * a + 1), 6)
        1.0
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x = x - x.mean()
    y = y - y.mean()
    nx = float(np.sqrt(x @ x))
    ny = float(np.sqrt(y @ y))
    if nx == 0.0 or ny == 0.0:
        return 1.0 if nx == ny == 0.0 and np.array_equal(a, b) else 0.0
    return float(np.clip((x @ y) / (nx * ny), -1.0, 1.0))


def _unit_rows(
    images: Sequence[npt.NDArray[Any]],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Centred, unit-norm rows of the flattened slices, and which slices are constant."""
    flat = np.stack([np.asarray(image, dtype=np.float32).ravel() for image in images])
    flat -= flat.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", flat, flat))
    constant = norms == 0
    flat /= np.where(constant, 1.0, norms)[:, None]
    return flat, constant


def distinct_indices(
    images: Sequence[npt.NDArray[Any]], *, max_similarity: float = 0.9
) -> list[int]:
    """The writeup's intent: drop a slice too similar to the last kept one.

    Walks the slices in order, always keeps the first, and keeps each next slice whose
    :func:`slice_similarity` to the last kept slice is at most ``max_similarity``.

    Args:
        images: The slices of one series, in order, each of shape (H, W).
        max_similarity: Keeps a slice whose similarity to the last kept one is ``<=`` it;
            1.0 keeps every slice except exact (affine) repeats.

    Returns:
        Indices into ``images`` of the slices kept, increasing.
    """
    if len(images) == 0:
        return []
    rows, constant = _unit_rows(images)
    kept = [0]
    for i in range(1, len(images)):
        last = kept[-1]
        if constant[i] or constant[last]:
            similarity = slice_similarity(images[last], images[i])
        else:
            similarity = float(np.clip(rows[last] @ rows[i], -1.0, 1.0))
        if similarity <= max_similarity:
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
    """

    def __init__(
        self,
        *,
        method: SamplingMethod = "similarity",
        max_similarity: float = 0.9,
        fraction: float = 0.1,
    ) -> None:
        self.method = check_choice("method", method, ("similarity", "stride"))
        self.max_similarity = check_range("max_similarity", max_similarity, low=-1.0, high=1.0)
        self.fraction = check_range("fraction", fraction, low=0.0, high=1.0, low_inclusive=False)

    def select(self, images: Sequence[npt.NDArray[Any]]) -> list[int]:
        """Indices of the slices kept from one series."""
        if self.method == "stride":
            return stride_indices(len(images), fraction=self.fraction)
        return distinct_indices(images, max_similarity=self.max_similarity)

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
        )
