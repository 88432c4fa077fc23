"""Which array axis is which plane, and the radiological 2D layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import GeometryError
from radiogenomics.records import PLANES
from radiogenomics.slicing import SliceLayout, plane_axes, slice_layout

BRATS_AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])
BRATS_AFFINE[1, 3] = 239.0


def reorient(
    volume: np.ndarray[Any, Any],
    affine: np.ndarray[Any, Any],
    perm: tuple[int, ...],
    flips: tuple[bool, ...],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Store the same voxels in another axis order and direction, with a matching affine.

    New axis ``k`` is old axis ``perm[k]``, reversed when ``flips[k]``; every voxel keeps
    its world position.
    """
    out = np.transpose(volume, perm)
    new = affine.copy()
    new[:, :3] = affine[:, list(perm)]
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis)
            n = out.shape[axis]
            new[:3, 3] = new[:3, 3] + new[:3, axis] * (n - 1)
            new[:3, axis] = -new[:3, axis]
    return out, new


PERMUTATIONS = st.permutations([0, 1, 2]).map(tuple)
FLIPS = st.tuples(st.booleans(), st.booleans(), st.booleans())


def test_reorient_keeps_world_positions() -> None:
    volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [10, 20, 30]
    new, new_affine = reorient(volume, affine, (2, 0, 1), (True, False, True))
    for index in np.ndindex(*new.shape):
        world = new_affine @ [*index, 1]
        old = np.linalg.solve(affine, world)[:3]
        assert volume[tuple(np.rint(old).astype(int))] == new[index]


# --- plane_axes ---------------------------------------------------------------------


def test_brats_affine_planes() -> None:
    assert plane_axes(BRATS_AFFINE) == {"sagittal": 0, "coronal": 1, "axial": 2}


def test_plane_axes_key_order_is_planes() -> None:
    assert tuple(plane_axes(np.eye(4))) == PLANES


@given(perm=PERMUTATIONS, flips=FLIPS)
def test_plane_axes_follow_a_permutation(perm: tuple[int, ...], flips: tuple[bool, ...]) -> None:
    _, affine = reorient(np.zeros((2, 3, 4)), BRATS_AFFINE, perm, flips)
    axes = plane_axes(affine)
    # New axis k holds old axis perm[k]: old axis 0 (sagittal) is now at perm.index(0).
    assert axes == {plane: perm.index(old) for plane, old in zip(PLANES, (0, 1, 2), strict=True)}


def test_plane_axes_with_anisotropic_oblique_affine() -> None:
    # A 10 degree rotation about z, 3 mm slices along array axis 0 pointing superior.
    theta = np.deg2rad(10)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation[:, [2, 0, 1]] @ np.diag([3.0, 0.9, 0.9])
    assert plane_axes(affine) == {"sagittal": 1, "coronal": 2, "axial": 0}


def test_singular_affine_raises() -> None:
    affine = np.eye(4)
    affine[2, 2] = 0
    with pytest.raises(GeometryError, match="singular") as info:
        plane_axes(affine, source="bad.nii.gz")
    assert "bad.nii.gz" in str(info.value)


# --- slice_layout -------------------------------------------------------------------


def test_native_layout_is_the_plain_array_slice() -> None:
    volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    for plane, axis in plane_axes(BRATS_AFFINE).items():
        layout = slice_layout(BRATS_AFFINE, plane)  # type: ignore[arg-type]
        assert layout == SliceLayout(axis=axis)
        np.testing.assert_array_equal(layout.apply(volume, 1), np.take(volume, 1, axis=axis))


def test_apply_on_channel_stacks_and_returns_views() -> None:
    volume = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    layout = SliceLayout(axis=1, transpose=True, flip_rows=True, flip_cols=True)
    out = layout.apply(volume, 2)
    assert out.shape == (2, 5, 3)
    assert np.shares_memory(out, volume)
    for channel in range(2):
        np.testing.assert_array_equal(out[channel], volume[channel, :, 2, :].T[::-1, ::-1])


def test_radiological_layout_of_a_ras_volume() -> None:
    # Identity affine (RAS+): larger i is further right, larger j anterior, larger k superior.
    volume = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    affine = np.eye(4)
    axial = slice_layout(affine, "axial", orientation="radiological")
    coronal = slice_layout(affine, "coronal", orientation="radiological")
    sagittal = slice_layout(affine, "sagittal", orientation="radiological")
    # Axial: rows anterior -> posterior (j descending), columns right -> left (i descending).
    np.testing.assert_array_equal(axial.apply(volume, 2), volume[::-1, ::-1, 2].T)
    # Coronal: rows superior -> inferior (k descending), columns right -> left.
    np.testing.assert_array_equal(coronal.apply(volume, 1), volume[::-1, 1, ::-1].T)
    # Sagittal: rows superior -> inferior, columns anterior -> posterior (j descending).
    np.testing.assert_array_equal(sagittal.apply(volume, 0), volume[0, ::-1, ::-1].T)


def test_radiological_layout_of_brats_puts_a_left_anterior_superior_marker_top_right() -> None:
    shape = (8, 9, 10)
    volume = np.zeros(shape, np.uint8)
    # BraTS affine: x = -i (larger i = patient left), y = 239 - j (smaller j = anterior),
    # z = k (larger k = superior). Patient-left, anterior, superior corner:
    marker = (shape[0] - 1, 0, shape[2] - 1)
    volume[marker] = 255
    axes = plane_axes(BRATS_AFFINE)
    expected = {
        # Axial: rows anterior -> posterior, columns right -> left: top right.
        "axial": (0, -1),
        # Coronal: rows superior -> inferior, columns right -> left: top right.
        "coronal": (0, -1),
        # Sagittal: rows superior -> inferior, columns anterior -> posterior: top left.
        "sagittal": (0, 0),
    }
    for plane, (row, col) in expected.items():
        layout = slice_layout(BRATS_AFFINE, plane, orientation="radiological")  # type: ignore[arg-type]
        image = layout.apply(volume, marker[axes[plane]])  # type: ignore[index]
        rows, cols = image.shape
        assert np.argwhere(image).tolist() == [[row % rows, col % cols]], plane


def test_radiological_marker_off_the_corners() -> None:
    # A marker 2 voxels from the patient's left, 1 from the front, 3 from the top.
    shape = (8, 9, 10)
    volume = np.zeros(shape, np.uint8)
    marker = (shape[0] - 1 - 2, 1, shape[2] - 1 - 3)  # BraTS storage: LPS
    volume[marker] = 1
    axes = plane_axes(BRATS_AFFINE)
    found = {}
    for plane in PLANES:
        layout = slice_layout(BRATS_AFFINE, plane, orientation="radiological")
        found[plane] = np.argwhere(layout.apply(volume, marker[axes[plane]])).tolist()
    # Axial (9 rows A->P, 8 cols R->L): row 1 from the front, col 2 from the left edge.
    assert found["axial"] == [[1, 8 - 1 - 2]]
    # Coronal (10 rows S->I, 8 cols R->L).
    assert found["coronal"] == [[3, 8 - 1 - 2]]
    # Sagittal (10 rows S->I, 9 cols A->P).
    assert found["sagittal"] == [[3, 1]]


@given(perm=PERMUTATIONS, flips=FLIPS)
def test_radiological_layout_does_not_depend_on_storage(
    perm: tuple[int, ...], flips: tuple[bool, ...]
) -> None:
    volume = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    stored, affine = reorient(volume, BRATS_AFFINE, perm, flips)
    axes = plane_axes(BRATS_AFFINE)
    new_axes = plane_axes(affine)
    for plane in PLANES:
        reference = slice_layout(BRATS_AFFINE, plane, orientation="radiological")
        layout = slice_layout(affine, plane, orientation="radiological")
        n = volume.shape[axes[plane]]
        for index in range(n):
            # The same anatomical slice: reversed index when its normal axis was flipped.
            flipped = flips[new_axes[plane]]
            new_index = n - 1 - index if flipped else index
            np.testing.assert_array_equal(
                layout.apply(stored, new_index), reference.apply(volume, index)
            )


@pytest.mark.realdata
def test_real_case_planes(real_case: Any) -> None:
    assert real_case.shape == (240, 240, 155)
    assert plane_axes(real_case.affine) == {"sagittal": 0, "coronal": 1, "axial": 2}
    # BraTS stores LPS: the radiological layout needs only a transpose for axial slices.
    assert slice_layout(real_case.affine, "axial", orientation="radiological") == SliceLayout(
        axis=2, transpose=True
    )
