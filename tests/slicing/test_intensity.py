"""``to_uint8``: whole-volume rescaling to [0, 255]."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError
from radiogenomics.slicing import to_uint8

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7)


@st.composite
def volumes(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    """Integer or float volumes of MRI-like ranges, in C, Fortran or strided layout."""
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64]))
    if np.dtype(dtype).kind == "f":
        # Rounded to 1e-3: an intensity range below float32's normal range (~1e-38) is
        # outside this function's domain (OpenCV scales with a float32 factor).
        width = np.dtype(dtype).itemsize * 8
        elements = st.floats(-1e5, 1e5, width=width).map(lambda v: float(dtype(round(v, 3))))
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(int(info.min), -100_000), min(int(info.max), 100_000))
    array = draw(hnp.arrays(dtype, SHAPES, elements=elements))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "strided":
        array = array[..., ::-1]
    return array


@given(volume=volumes())
def test_minmax_properties(volume: np.ndarray[Any, Any]) -> None:
    before = volume.copy()
    out = to_uint8(volume)
    np.testing.assert_array_equal(volume, before)  # input unchanged
    assert out.dtype == np.uint8
    assert out.shape == volume.shape
    assert not np.shares_memory(out, volume)
    low, high = volume.min(), volume.max()
    if low == high:
        assert not out.any()  # a constant volume maps to zeros
        return
    assert out[volume == low].max() == 0
    assert out[volume == high].min() == 255
    # Monotone: sorting by intensity sorts the output.
    order = np.argsort(volume, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)
    # And close to the exact formula (rounding may differ by one level).
    exact = (volume.astype(np.float64) - float(low)) * (255.0 / (float(high) - float(low)))
    assert np.abs(out.astype(np.float64) - exact).max() <= 0.5 + 1e-3


def test_docstring_example() -> None:
    assert to_uint8(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]


def test_integer_volume_exact_levels() -> None:
    volume = np.array([[100, 110], [200, 355]], dtype=np.int16)
    assert to_uint8(volume).tolist() == [[0, 10], [100, 255]]


def test_negative_values() -> None:
    assert to_uint8(np.array([-10.0, 0.0, 10.0], dtype=np.float32)).tolist() == [0, 128, 255]


@pytest.mark.parametrize("value", [0, 7, -3.5])
def test_constant_volume_maps_to_zero(value: float) -> None:
    for method in ("minmax", "percentile"):
        out = to_uint8(np.full((3, 4, 5), value), method=method)  # type: ignore[arg-type]
        assert out.dtype == np.uint8
        assert not out.any()


def test_empty_volume() -> None:
    out = to_uint8(np.zeros((0, 4)))
    assert out.shape == (0, 4)
    assert out.dtype == np.uint8


def test_read_only_input_is_accepted() -> None:
    volume = np.arange(10.0)
    volume.flags.writeable = False
    assert to_uint8(volume)[-1] == 255


def test_percentile_clips_bright_outliers() -> None:
    rng = np.random.default_rng(0)
    volume = np.zeros((20, 20, 10), np.float32)
    volume[5:15, 5:15] = rng.uniform(100, 200, (10, 10, 10))
    volume[10, 10, 5] = 1e5  # one very bright voxel
    minmax = to_uint8(volume)
    robust = to_uint8(volume, method="percentile", percentiles=(1.0, 99.0))
    foreground = volume > 0
    # Min-max squeezes the brain into the bottom levels; percentiles use the range.
    assert minmax[foreground].max() == 255
    assert np.percentile(minmax[foreground], 50) < 3
    assert np.percentile(robust[foreground], 50) > 100
    assert robust[10, 10, 5] == 255  # clipped to the top level
    assert robust[~foreground].max() == 0  # the zero background stays at the bottom


@given(volume=volumes())
def test_percentile_stays_in_range_and_monotone(volume: np.ndarray[Any, Any]) -> None:
    before = volume.copy()
    out = to_uint8(volume, method="percentile")
    np.testing.assert_array_equal(volume, before)
    assert out.dtype == np.uint8
    assert out.shape == volume.shape
    order = np.argsort(volume, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)


def test_unknown_method() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'percentile'"):
        to_uint8(np.zeros(3), method="percentil")  # type: ignore[arg-type]
