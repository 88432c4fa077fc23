"""Contour counting and areas, and ``ContourCountFilter``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.filters import ContourCountFilter, count_contours, largest_contour_area
from radiogenomics.records import SliceRecord, VolumeRecord
from radiogenomics.slicing import SliceExtractor


def squares(count: int, *, side: int = 3, gap: int = 2, size: int = 32) -> np.ndarray[Any, Any]:
    """A mask with ``count`` separate filled squares on a grid."""
    mask = np.zeros((size, size), np.uint8)
    per_row = (size - gap) // (side + gap)
    assert count <= per_row * per_row
    for k in range(count):
        row, col = divmod(k, per_row)
        top, left = gap + row * (side + gap), gap + col * (side + gap)
        mask[top : top + side, left : left + side] = 1
    return mask


def ring(size: int = 16) -> np.ndarray[Any, Any]:
    mask = np.zeros((size, size), np.uint8)
    mask[3:13, 3:13] = 1
    mask[6:10, 6:10] = 0
    return mask


def record(wt: np.ndarray[Any, Any], et: np.ndarray[Any, Any] | None = None) -> SliceRecord:
    et = np.zeros_like(wt) if et is None else et
    return SliceRecord(
        patient_id="P",
        modality="T1wCE",
        plane="axial",
        index=0,
        image=wt * 100,
        masks=np.stack([wt, et]).astype(np.uint8),
    )


# --- count_contours / largest_contour_area ------------------------------------------


@given(count=st.integers(0, 25))
def test_count_contours_counts_separate_squares(count: int) -> None:
    mask = squares(count)
    assert count_contours(mask) == count
    assert count_contours(mask, count_holes=True) == count  # filled squares have no holes


def test_ring_counts_two_with_holes_and_one_without() -> None:
    assert count_contours(ring()) == 1
    assert count_contours(ring(), count_holes=True) == 2


def test_diagonal_neighbours_are_one_region() -> None:
    mask = np.zeros((6, 6), np.uint8)
    mask[1, 1] = mask[2, 2] = 1
    assert count_contours(mask) == 1


def test_count_contours_accepts_bool_and_non_binary_masks() -> None:
    mask = squares(3).astype(bool)
    assert count_contours(mask) == 3
    assert count_contours(squares(3).astype(np.float32) * 0.5) == 3


def test_docstring_example() -> None:
    mask = np.zeros((9, 9), np.uint8)
    mask[1:4, 1:4] = 1
    mask[5:8, 5:8] = 1
    assert count_contours(mask) == 2


@given(side=st.integers(1, 12))
def test_largest_contour_area_of_a_square(side: int) -> None:
    mask = np.zeros((16, 16), np.uint8)
    mask[2 : 2 + side, 3 : 3 + side] = 1
    assert largest_contour_area(mask) == (side - 1) ** 2


def test_largest_contour_area_picks_the_largest_and_ignores_holes() -> None:
    mask = squares(2, side=3)
    mask[20:30, 20:30] = 1
    assert largest_contour_area(mask) == 81.0
    assert largest_contour_area(ring()) == 81.0  # the hole is not subtracted
    assert largest_contour_area(np.zeros((5, 5), np.uint8)) == 0.0


# --- ContourCountFilter -------------------------------------------------------------


@given(max_contours=st.integers(0, 12), count_holes=st.booleans())
def test_max_contours_boundary(max_contours: int, count_holes: bool) -> None:
    step = ContourCountFilter(max_contours=max_contours, min_contours=0, count_holes=count_holes)
    at = record(squares(max_contours))
    above = record(squares(max_contours + 1))
    assert step.keep(at)
    assert not step.keep(above)
    (out,) = step([at, above])
    assert out.n_contours == max_contours


@given(min_contours=st.integers(1, 12))
def test_min_contours_boundary(min_contours: int) -> None:
    step = ContourCountFilter(max_contours=20, min_contours=min_contours)
    assert step.keep(record(squares(min_contours)))
    assert not step.keep(record(squares(min_contours - 1)))


def test_defaults_keep_one_to_five_regions() -> None:
    step = ContourCountFilter()
    kept = [n for n in range(8) if step.keep(record(squares(n)))]
    assert kept == [1, 2, 3, 4, 5]


def test_min_contours_zero_keeps_tumor_free_slices() -> None:
    empty = record(np.zeros((8, 8), np.uint8))
    assert ContourCountFilter(min_contours=0).keep(empty)
    assert not ContourCountFilter().keep(empty)


def test_count_holes_changes_what_a_ring_counts() -> None:
    slices = [record(ring())]
    assert len(ContourCountFilter(max_contours=1)(slices)) == 1
    assert ContourCountFilter(max_contours=1, count_holes=True)(slices) == []
    (out,) = ContourCountFilter(max_contours=2, count_holes=True)(slices)
    assert out.n_contours == 2


def test_channel_selects_the_mask() -> None:
    # WT has one region, ET three.
    rec = record(squares(1, side=20), squares(3))
    assert ContourCountFilter(max_contours=2).keep(rec)
    assert not ContourCountFilter(max_contours=2, channel="ET").keep(rec)


def test_annotates_new_records_and_leaves_inputs() -> None:
    records = [record(squares(n)) for n in (2, 7, 1)]
    out = ContourCountFilter()(records)
    assert [r.n_contours for r in out] == [2, 1]
    assert all(r.n_contours is None for r in records)
    assert out[0] is not records[0]
    assert np.shares_memory(out[0].image, records[0].image)


def test_missing_masks_or_channel_raise() -> None:
    bare = SliceRecord(
        patient_id="P", modality="T1w", plane="axial", index=0, image=np.zeros((4, 4))
    )
    with pytest.raises(InvalidInputError, match="has no masks"):
        ContourCountFilter()([bare])
    with pytest.raises(InvalidInputError, match="'TC' not found"):
        ContourCountFilter(channel="TC")([record(squares(1))])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_contours": -1}, "max_contours=-1 must be an integer >= 0"),
        ({"max_contours": 2.5}, "max_contours=2.5"),
        ({"min_contours": 6}, r"min_contours=6 must be an integer in \[0, max_contours=5\]"),
        ({"min_contours": -1}, "min_contours=-1"),
        ({"min_contours": 1.0}, "min_contours=1.0"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ContourCountFilter(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(ContourCountFilter()) == "ContourCountFilter()"
    assert (
        repr(ContourCountFilter(max_contours=5, min_contours=1, count_holes=True))
        == "ContourCountFilter(count_holes=True)"
    )
    assert (
        repr(ContourCountFilter(max_contours=3, min_contours=0, channel="ET"))
        == "ContourCountFilter(max_contours=3, min_contours=0, channel='ET')"
    )


@pytest.mark.realdata
def test_real_case_keeps_most_tumor_slices(real_case: Any) -> None:
    from radiogenomics.masks import tumor_masks

    volume = VolumeRecord(
        patient_id=real_case.case.case_id,
        modality="flair",
        image=real_case.images["flair"],
        affine=real_case.affine,
        masks=tumor_masks(real_case.label_map),
    )
    slices = SliceExtractor()(volume)
    tumor = [s for s in slices if s.mask("WT").any()]
    assert Counter(s.plane for s in tumor) == {"sagittal": 75, "coronal": 71, "axial": 68}
    kept = ContourCountFilter()(tumor)
    # Measured: every tumor slice has between 1 and 5 WT regions.
    assert Counter(s.plane for s in kept) == {"sagittal": 75, "coronal": 71, "axial": 68}
    with_holes = ContourCountFilter(count_holes=True)(tumor)
    assert Counter(s.plane for s in with_holes) == {"sagittal": 75, "coronal": 71, "axial": 67}
    assert max(s.n_contours for s in kept) <= 5  # type: ignore[type-var]
    # The tumor-free slices are all dropped by the default min_contours=1.
    assert len(ContourCountFilter()(slices)) == len(kept)
