"""Resizing slices with their masks (``resize_slice``, ``ResizeSlices``)."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError
from radiogenomics.records import SliceRecord
from radiogenomics.slicing import ResizeSlices, resize_slice


def record(image: np.ndarray[Any, Any], **changes: object) -> SliceRecord:
    fields: dict[str, object] = {
        "patient_id": "P",
        "modality": "flair",
        "plane": "axial",
        "index": 0,
        "image": image,
    }
    fields.update(changes)
    return SliceRecord(**fields)  # type: ignore[arg-type]


@given(
    height=st.integers(2, 40),
    width=st.integers(2, 40),
    size=st.integers(1, 48),
    channels=st.integers(1, 3),
    data=st.data(),
)
def test_resize_shapes_dtypes_and_binary_masks(
    height: int, width: int, size: int, channels: int, data: st.DataObject
) -> None:
    image = data.draw(hnp.arrays(np.uint8, (height, width)))
    masks = data.draw(hnp.arrays(np.uint8, (channels, height, width), elements=st.integers(0, 1)))
    brain = data.draw(hnp.arrays(np.bool_, (height, width)))
    copies = (image.copy(), masks.copy(), brain.copy())
    out_image, out_masks, out_brain = resize_slice(image, masks, brain, size=size)
    assert out_image.shape == (size, size)
    assert out_image.dtype == np.uint8
    assert out_masks is not None
    assert out_brain is not None
    assert out_masks.shape == (channels, size, size)
    assert out_masks.dtype == np.uint8
    assert out_brain.shape == (size, size)
    assert out_brain.dtype == np.bool_
    # Nearest neighbour: masks stay binary and take only values that were present.
    assert set(np.unique(out_masks)) <= set(np.unique(masks))
    for got, was in zip((image, masks, brain), copies, strict=True):
        np.testing.assert_array_equal(got, was)
    # Image interpolation never leaves the input range.
    assert image.min() <= out_image.min()
    assert out_image.max() <= image.max()


def test_nearest_upscaling_replicates_pixels() -> None:
    masks = np.array([[[1, 0], [0, 1]]], np.uint8)
    brain = np.array([[True, False], [False, False]])
    _, out_masks, out_brain = resize_slice(np.zeros((2, 2), np.uint8), masks, brain, size=4)
    assert out_masks is not None
    assert out_brain is not None
    np.testing.assert_array_equal(out_masks[0], np.kron(masks[0], np.ones((2, 2), np.uint8)))
    np.testing.assert_array_equal(out_brain, np.kron(brain, np.ones((2, 2), bool)))


def test_area_downscaling_averages_the_image() -> None:
    image = np.kron(np.array([[0, 100], [200, 40]], np.uint8), np.ones((4, 4), np.uint8))
    image[0, 0] = 16  # one bright pixel among 16 raises the block mean by one level
    out, _, _ = resize_slice(image, None, None, size=2)
    assert out.tolist() == [[1, 100], [200, 40]]


def test_same_size_returns_a_copy() -> None:
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    masks = np.ones((2, 4, 4), np.uint8)
    out_image, out_masks, out_brain = resize_slice(image, masks, None, size=4)
    np.testing.assert_array_equal(out_image, image)
    assert not np.shares_memory(out_image, image)
    assert out_masks is not None
    np.testing.assert_array_equal(out_masks, masks)
    assert out_brain is None


def test_non_square_float_image() -> None:
    image = np.linspace(0.0, 1.0, 6 * 10, dtype=np.float32).reshape(6, 10)
    out, masks, brain = resize_slice(image, None, None, size=8)
    assert out.shape == (8, 8)
    assert out.dtype == np.float32
    assert masks is None
    assert brain is None


def test_read_only_views_are_accepted() -> None:
    image = np.arange(36, dtype=np.uint8).reshape(6, 6)[::-1].T
    image.flags.writeable = False
    out, _, _ = resize_slice(image, None, None, size=3)
    assert out.shape == (3, 3)


def test_step_resizes_every_record_in_order() -> None:
    records = [
        record(
            np.full((6, 8), i, np.uint8),
            index=i,
            masks=np.ones((2, 6, 8), np.uint8),
            brain=np.ones((6, 8), bool),
            tumor_ratio=0.5,
        )
        for i in range(3)
    ]
    out = ResizeSlices(size=4)(tuple(records))
    assert isinstance(out, list)
    assert [r.index for r in out] == [0, 1, 2]
    for i, (new, old) in enumerate(zip(out, records, strict=True)):
        assert new is not old
        assert new.image.shape == (4, 4)
        assert (new.image == i).all()
        assert new.masks is not None
        assert new.masks.shape == (2, 4, 4)
        assert new.brain is not None
        assert new.brain.all()
        assert new.tumor_ratio == 0.5  # other fields are carried over
        assert old.image.shape == (6, 8)
        assert not new.image.flags.writeable


def test_step_without_masks() -> None:
    (out,) = ResizeSlices(size=5)([record(np.zeros((3, 3), np.uint8))])
    assert out.image.shape == (5, 5)
    assert out.masks is None
    assert out.brain is None


@pytest.mark.parametrize("size", [0, -1, 2.0, "224"])
def test_invalid_size(size: object) -> None:
    with pytest.raises(ConfigurationError, match="positive integer"):
        ResizeSlices(size=size)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(ResizeSlices()) == "ResizeSlices()"
    assert repr(ResizeSlices(size=256)) == "ResizeSlices(size=256)"
