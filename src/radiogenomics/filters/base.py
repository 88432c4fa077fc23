"""The shared shape of slice filters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from radiogenomics.records import SliceRecord

__all__ = ["SliceFilter"]


class SliceFilter(ABC):
    """A pipeline step that keeps the slices passing a per-slice test, in order.

    Subclasses implement :meth:`evaluate`, which may return the record annotated with
    what it measured (for example ``tumor_ratio``); :meth:`__call__` returns those
    annotated records for the slices kept. A filter never mutates its input and is
    idempotent: applying it twice keeps the same slices.
    """

    @abstractmethod
    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        """Test one slice.

        Returns:
            ``(keep, record)``: whether the slice passes, and the record annotated with
            the measured value.
        """

    def keep(self, record: SliceRecord) -> bool:
        """Whether one slice passes."""
        return self.evaluate(record)[0]

    def __call__(self, records: Sequence[SliceRecord]) -> list[SliceRecord]:
        """Return the (annotated) records that pass, in input order."""
        out = []
        for record in records:
            passed, annotated = self.evaluate(record)
            if passed:
                out.append(annotated)
        return out
