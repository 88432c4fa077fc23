"""Mask clean-up: which components are dropped, in 2D and 3D, and what is left alone."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.ndimage import label

from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.inference import MaskCleanup, remove_small_components

masks_4d = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 7), st.integers(1, 7)),
    elements=st.integers(0, 1),
)


@given(masks_4d, st.integers(0, 30), st.sampled_from(["2d", "3d"]))
def test_keeps_exactly_the_components_of_at_least_drop_below(
    masks: np.ndarray, drop_below: int, dims: str
) -> None:
    before = masks.copy()
    out = remove_small_components(masks, drop_below=drop_below, dims=dims)  # type: ignore[arg-type]
    np.testing.assert_array_equal(masks, before)  # the input is not changed
    assert out.dtype == np.uint8
    assert out.shape == masks.shape
    assert not np.any(out > masks)  # only removes
    structure = np.ones((3, 3, 3) if dims == "3d" else (3, 3), dtype=bool)
    for c in range(masks.shape[1]):
        volumes = [masks[:, c]] if dims == "3d" else [masks[n, c] for n in range(masks.shape[0])]
        cleaned = [out[:, c]] if dims == "3d" else [out[n, c] for n in range(out.shape[0])]
        for volume, result in zip(volumes, cleaned, strict=True):
            labels, count = label(volume, structure=structure)
            for component in range(1, count + 1):
                where = labels == component
                kept = bool(result[where].all())
                assert kept == (int(where.sum()) >= drop_below)
                assert kept or not result[where].any()  # whole components, never parts
    again = remove_small_components(out, drop_below=drop_below, dims=dims)  # type: ignore[arg-type]
    np.testing.assert_array_equal(again, out)  # idempotent


def test_3d_joins_slices_that_2d_keeps_apart() -> None:
    masks = np.zeros((4, 1, 8, 8), np.uint8)
    masks[:, 0, 2:4, 2:4] = 1  # 4 pixels per slice, 16 voxels across the four slices
    masks[2, 0, 6, 6] = 1  # a speck on one slice
    masks[1, 0, 5, 5] = 1  # touches nothing in-plane, but the speck below at a corner
    three = remove_small_components(masks, drop_below=5)
    two = remove_small_components(masks, drop_below=5, dims="2d")
    assert int(three.sum()) == 16  # the blob stays; the two specks (2 voxels) go
    assert int(two.sum()) == 0  # no single slice holds 5 pixels of one component
    assert int(remove_small_components(masks, drop_below=2).sum()) == 18  # specks joined


def test_channels_are_cleaned_each_on_its_own() -> None:
    masks = np.zeros((1, 2, 6, 6), np.uint8)
    masks[0, 0, :3, :3] = 1  # 9 pixels of WT
    masks[0, 1, 0, 0] = 1  # 1 pixel of ET inside it
    out = remove_small_components(masks, drop_below=2, dims="2d")
    assert int(out[0, 0].sum()) == 9
    assert int(out[0, 1].sum()) == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(GeometryError, match="N, C, H, W"):
        remove_small_components(np.zeros((3, 4, 4), np.uint8), drop_below=2)
    with pytest.raises(InvalidInputError, match="0 and 1"):
        remove_small_components(np.full((1, 1, 2, 2), 255, np.uint8), drop_below=2)
    with pytest.raises(ConfigurationError, match="at least 0"):
        remove_small_components(np.zeros((1, 1, 2, 2), np.uint8), drop_below=-1)
    with pytest.raises(ConfigurationError, match="whole number"):
        remove_small_components(np.zeros((1, 1, 2, 2), np.uint8), drop_below=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="expected one of"):
        remove_small_components(np.zeros((1, 1, 2, 2), np.uint8), drop_below=2, dims="4d")  # type: ignore[arg-type]


def test_mask_cleanup_settings() -> None:
    cleanup = MaskCleanup(drop_below=50)
    assert repr(cleanup) == "MaskCleanup(drop_below=50)"
    assert repr(MaskCleanup(drop_below=9, dims="2d")) == "MaskCleanup(drop_below=9, dims='2d')"
    assert cleanup.to_dict() == {"drop_below": 50, "dims": "3d"}
    assert cleanup == MaskCleanup(drop_below=50, dims="3d")
    assert cleanup != MaskCleanup(drop_below=50, dims="2d")
    assert len({cleanup, MaskCleanup(drop_below=50)}) == 1
    with pytest.raises(ConfigurationError, match="would drop nothing"):
        MaskCleanup(drop_below=1)
    with pytest.raises(ConfigurationError, match="whole number"):
        MaskCleanup(drop_below=True)
    masks = np.zeros((2, 1, 4, 4), np.uint8)
    masks[0, 0, 0, 0] = 1
    masks[:, 0, 2:, 2:] = 1
    np.testing.assert_array_equal(
        cleanup(masks), remove_small_components(masks, drop_below=50, dims="3d")
    )
