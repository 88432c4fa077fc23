"""``BlankSliceFilter`` and ``nonzero_fraction``."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError
from radiogenomics.filters import BlankSliceFilter, nonzero_fraction
from radiogenomics.records import SliceRecord


def record(image: np.ndarray[Any, Any], index: int = 0) -> SliceRecord:
    return SliceRecord(patient_id="P", modality="T1w", plane="axial", index=index, image=image)


def with_nonzero(height: int, width: int, count: int) -> np.ndarray[Any, Any]:
    """A (height, width) uint8 image with exactly ``count`` non-zero pixels."""
    flat = np.zeros(height * width, np.uint8)
    flat[:count] = 7
    return flat.reshape(height, width)


@given(image=hnp.arrays(np.int16, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12)))
def test_nonzero_fraction_is_count_over_size(image: np.ndarray[Any, Any]) -> None:
    fraction = nonzero_fraction(image)
    assert fraction == np.count_nonzero(image) / image.size
    assert 0.0 <= fraction <= 1.0


def test_nonzero_fraction_examples() -> None:
    assert nonzero_fraction(np.array([[0, 3], [0, 0]])) == 0.25
    assert nonzero_fraction(np.zeros((0, 3))) == 0.0
    assert nonzero_fraction(np.array([[-1.0, 0.5]])) == 1.0


@given(
    height=st.integers(1, 16),
    width=st.integers(1, 16),
    data=st.data(),
)
def test_boundary_fraction_equal_to_min_is_dropped(
    height: int, width: int, data: st.DataObject
) -> None:
    size = height * width
    count = data.draw(st.integers(0, size - 1))
    step = BlankSliceFilter(min_fraction=count / size)
    at = record(with_nonzero(height, width, count))
    above = record(with_nonzero(height, width, count + 1))
    assert not step.keep(at)
    assert step.keep(above)
    assert step([at, above]) == [above]


def test_default_keeps_more_than_ten_percent() -> None:
    step = BlankSliceFilter()
    assert step.min_fraction == 0.1
    ten = record(with_nonzero(10, 10, 10), index=0)
    eleven = record(with_nonzero(10, 10, 11), index=1)
    empty = record(np.zeros((10, 10), np.uint8), index=2)
    out = step([ten, eleven, empty])
    assert out == [eleven]
    assert out[0] is eleven  # nothing measured, so the record passes through as is


def test_min_fraction_one_drops_everything_and_zero_keeps_any_content() -> None:
    full = record(np.ones((3, 3), np.uint8))
    one_pixel = record(with_nonzero(3, 3, 1))
    empty = record(np.zeros((3, 3), np.uint8))
    assert BlankSliceFilter(min_fraction=1.0)([full]) == []
    assert BlankSliceFilter(min_fraction=0.0)([full, one_pixel, empty]) == [full, one_pixel]


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan")])
def test_invalid_min_fraction(value: float) -> None:
    with pytest.raises(ConfigurationError, match="min_fraction"):
        BlankSliceFilter(min_fraction=value)


def test_repr() -> None:
    assert repr(BlankSliceFilter()) == "BlankSliceFilter()"
    assert repr(BlankSliceFilter(min_fraction=0.25)) == "BlankSliceFilter(min_fraction=0.25)"
