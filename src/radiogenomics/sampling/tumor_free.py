"""Tumor-free slices for stage 1 training: brain slices with empty masks, spread out.

The seed's stage 1 keeps only slices that show enough tumor, so nothing teaches the model
what a slice *without* tumor looks like, although stage 2 runs it on every slice of every
series. :class:`TumorFreeSlices` is a slice step that keeps what its inner steps keep (the
tumor slices) and adds, per series (patient, modality, plane), tumor-free brain slices
numbering a fraction of those kept, evenly spread over the series; their masks are empty
and their ``tumor_ratio`` is 0.

The choice is a pure function of the slices (no random draw): :func:`spread_indices`
takes the centres of equal parts of the candidates, so a rerun keeps the same slices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from radiogenomics._options import check_range, short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters.blank import nonzero_fraction
from radiogenomics.filters.tumor_area import TumorAreaFilter
from radiogenomics.pipeline import Pipeline, Step
from radiogenomics.records import SliceRecord

__all__ = ["TumorFreeSlices", "is_tumor_free", "spread_indices", "tumor_free_count"]


def spread_indices(n: int, k: int) -> list[int]:
    """``k`` of the indices ``0 .. n-1``, evenly spread: one near the centre of each of ``k``
    equal parts.

    Part ``i`` is ``[i n / k, (i + 1) n / k)``; index ``i`` of the result is its centre
    ``(2 i + 1) n / (2 k)`` rounded half up, which lies in the part (computed in whole
    numbers, no floats). Asking for ``n`` or more gives all ``n``.

    Args:
        n: How many there are to choose from.
        k: How many to choose.

    Returns:
        ``min(k, n)`` distinct indices, increasing; consecutive ones are ``n // k`` or
        ``n // k + 1`` apart.

    Example:
        >>> spread_indices(10, 3)
        [2, 5, 8]
        >>> spread_indices(4, 9)
        [0, 1, 2, 3]
    """
    if n < 0 or k < 0:
        raise ConfigurationError(f"spread_indices(n={n}, k={k}): both must be at least 0.")
    if k >= n:
        return list(range(n))
    return [((2 * i + 1) * n + k) // (2 * k) for i in range(k)]


def tumor_free_count(n_kept: int, fraction: float) -> int:
    """How many tumor-free slices go with ``n_kept`` tumor slices: ``fraction * n_kept``,
    rounded half up.

    The product is first rounded to 9 decimals, so that ``0.7 * 45`` (31.499999999999996
    in floating point) counts as 31.5 and gives 32 on every machine.

    Example:
        >>> tumor_free_count(3, 0.5), tumor_free_count(45, 0.7), tumor_free_count(0, 2.0)
        (2, 32, 0)
    """
    check_range("fraction", fraction, low=0.0)
    if n_kept < 0:
        raise ConfigurationError(f"n_kept={n_kept} must be at least 0.")
    return math.floor(round(fraction * n_kept, 9) + 0.5)


def is_tumor_free(record: SliceRecord, *, min_brain_fraction: float = 0.1) -> bool:
    """Whether a slice has empty masks and shows enough brain.

    The brain is the record's brain mask, or ``image > 0`` when it has none (BraTS volumes
    are skull-stripped, background 0). A slice with no masks is not tumor-free: nothing
    says so.

    Args:
        record: The slice.
        min_brain_fraction: The brain must cover strictly more than this fraction of the
            slice (0.1, as the stage 2 blank-slice filter keeps frames).
    """
    if record.masks is None or np.any(record.masks):
        return False
    brain = record.brain if record.brain is not None else record.image > 0
    return nonzero_fraction(brain) > min_brain_fraction


class TumorFreeSlices:
    """A slice step: what ``steps`` keep, plus tumor-free brain slices, per series.

    The input slices run through ``steps`` (the stage 1 sampler and filters: the tumor
    slices kept). Then, for each series (patient, modality, plane) in which ``k`` slices
    were kept, ``round(fraction * k)`` (half up, see :func:`tumor_free_count`) of its
    *input* slices that are tumor-free (:func:`is_tumor_free`: empty masks, brain over
    ``min_brain_fraction`` of the slice) are added, evenly spread over the series
    (:func:`spread_indices`; fewer when there are fewer candidates). They come out with
    ``tumor_ratio`` 0, which marks them in a prepared folder's manifest (a slice kept by
    :class:`~radiogenomics.filters.TumorAreaFilter` always has a ratio above its
    ``min_ratio``, so above 0). The result is in input order; the input is not changed.

    The choice depends only on the slices, so a rerun keeps the same ones.

    Args:
        steps: The steps that keep the tumor slices (a :class:`~radiogenomics.Pipeline`
            or a sequence of slice steps); default: ``[TumorAreaFilter()]``.
        fraction: Tumor-free slices per tumor slice kept, per series; 0 adds none.
        min_brain_fraction: See :func:`is_tumor_free`.

    Example:
        >>> from radiogenomics import SliceExtractor, TumorAreaFilter
        >>> from radiogenomics.testing import make_brats_case
        >>> volume = make_brats_case(seed=0, shape=(48, 48, 36)).volumes()[0]
        >>> slices = SliceExtractor(planes="axial")(volume)
        >>> step = TumorFreeSlices(steps=[TumorAreaFilter(min_ratio=0.01)], fraction=0.5)
        >>> kept = step(slices)
        >>> sum(r.tumor_ratio > 0 for r in kept), [r.index for r in kept if r.tumor_ratio == 0]
        (16, [4, 5, 7, 8, 10, 11, 13, 30])
    """

    def __init__(
        self,
        *,
        steps: Pipeline | Sequence[Step] | None = None,
        fraction: float = 1.0,
        min_brain_fraction: float = 0.1,
    ) -> None:
        if steps is None:
            steps = [TumorAreaFilter()]
        self.steps = steps if isinstance(steps, Pipeline) else Pipeline(list(steps))
        self.fraction = float(check_range("fraction", fraction, low=0.0))
        self.min_brain_fraction = float(
            check_range("min_brain_fraction", min_brain_fraction, low=0.0, high=1.0)
        )

    def select(
        self, records: Sequence[SliceRecord], kept: Sequence[SliceRecord]
    ) -> list[SliceRecord]:
        """The tumor-free slices that go with ``kept``, chosen from ``records``.

        Args:
            records: Every candidate slice, in series order.
            kept: The tumor slices kept from them (their count per series sets how many
                tumor-free slices that series gets).

        Returns:
            The chosen slices (``tumor_ratio`` set to 0), in input order.
        """
        wanted: dict[tuple[str, str, str], int] = {}
        for record in kept:
            wanted[record.group] = wanted.get(record.group, 0) + 1
        candidates: dict[tuple[str, str, str], list[SliceRecord]] = {}
        for record in records:
            if record.group in wanted and is_tumor_free(
                record, min_brain_fraction=self.min_brain_fraction
            ):
                candidates.setdefault(record.group, []).append(record)
        chosen: set[int] = set()
        for group, members in candidates.items():
            count = tumor_free_count(wanted[group], self.fraction)
            chosen.update(id(members[i]) for i in spread_indices(len(members), count))
        return [r.replace(tumor_ratio=0.0) for r in records if id(r) in chosen]

    def __call__(self, records: Sequence[SliceRecord]) -> list[SliceRecord]:
        """The slices ``steps`` keep and the tumor-free ones, in input order."""
        kept = list(self.steps(list(records)))
        if self.fraction == 0:
            return kept
        free = self.select(records, kept)
        position = {(r.group, r.index): p for p, r in enumerate(records)}
        merged = kept + free
        return sorted(merged, key=lambda r: position.get((r.group, r.index), len(records)))

    def __repr__(self) -> str:
        steps = list(self.steps)
        default = [repr(step) for step in steps] == [repr(TumorAreaFilter())]
        return short_repr(
            self,
            steps=(steps, steps if default else None),
            fraction=(self.fraction, 1.0),
            min_brain_fraction=(self.min_brain_fraction, 0.1),
        )
