"""``SliceExtractor``: named planes, order, positions, masks, intensity and size."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError
from radiogenomics.masks import brain_mask, tumor_masks
from radiogenomics.records import PLANES, SliceRecord, VolumeRecord
from radiogenomics.slicing import SliceExtractor, extract_slices, plane_axes
from radiogenomics.testing import make_brats_case


def reorient(
    volume: np.ndarray[Any, Any],
    affine: np.ndarray[Any, Any],
    perm: tuple[int, ...],
    flips: tuple[bool, ...],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The same voxels stored with axes ``perm`` (new axis k = old axis perm[k]), flipped."""
    out = np.transpose(volume, perm)
    new = affine.copy()
    new[:, :3] = affine[:, list(perm)]
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis)
            new[:3, 3] = new[:3, 3] + new[:3, axis] * (out.shape[axis] - 1)
            new[:3, axis] = -new[:3, axis]
    return out, new


def dihedral(image: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
    """The 8 layouts of a 2D array reachable by transposing and flipping."""
    out = []
    for candidate in (image, image.T):
        for rows in (False, True):
            for cols in (False, True):
                view = candidate[::-1] if rows else candidate
                out.append(view[:, ::-1] if cols else view)
    return out


@pytest.fixture(scope="module")
def case_volume() -> VolumeRecord:
    return make_brats_case(seed=5, shape=(32, 28, 24)).volumes()[0]


def labelled_volume(
    shape: tuple[int, int, int] = (12, 10, 8), *, affine: np.ndarray[Any, Any] | None = None
) -> VolumeRecord:
    """A volume whose intensities are its own labels, so masks can be checked per slice."""
    labels = make_brats_case(seed=2, shape=shape).label_map
    return VolumeRecord(
        patient_id="P",
        modality="seg",
        image=labels,
        affine=np.diag([-1.0, -1.0, 1.0, 1.0]) if affine is None else affine,
        masks=tumor_masks(labels),
        brain=brain_mask(labels),
    )


def test_default_extracts_every_plane_in_order(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor()(case_volume)
    assert len(slices) == 32 + 28 + 24
    planes = [s.plane for s in slices]
    assert planes == ["sagittal"] * 32 + ["coronal"] * 28 + ["axial"] * 24
    for plane, n in zip(PLANES, (32, 28, 24), strict=True):
        assert [s.index for s in slices if s.plane == plane] == list(range(n))
    shapes = {s.plane: s.image.shape for s in slices}
    assert shapes == {"sagittal": (28, 24), "coronal": (32, 24), "axial": (32, 28)}
    for record in slices:
        assert isinstance(record, SliceRecord)
        assert record.patient_id == case_volume.patient_id
        assert record.modality == case_volume.modality
        assert record.mask_channels == ("WT", "ET")


def test_planes_argument_controls_order(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor(planes=("axial", "sagittal"))(case_volume)
    assert Counter(s.plane for s in slices) == {"axial": 24, "sagittal": 32}
    assert slices[0].plane == "axial"
    assert slices[-1].plane == "sagittal"


def test_function_and_step_agree(case_volume: VolumeRecord) -> None:
    a = extract_slices(case_volume, planes=("coronal",), orientation="radiological")
    b = SliceExtractor(planes=("coronal",), orientation="radiological")(case_volume)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        assert x.position == y.position


def test_minmax_normalises_the_whole_volume(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor(planes=("axial",))(case_volume)
    stack = np.stack([s.image for s in slices])
    assert stack.dtype == np.uint8
    assert stack.min() == 0
    assert stack.max() == 255
    # The slice holding the volume's brightest voxel reaches 255.
    brightest = np.unravel_index(np.argmax(case_volume.image), case_volume.image.shape)[2]
    assert slices[brightest].image.max() == 255


def test_no_intensity_gives_read_only_views(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor(intensity=None)(case_volume)
    for record in slices:
        assert record.image.dtype == case_volume.image.dtype
        assert np.shares_memory(record.image, case_volume.image)
        assert not record.image.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        slices[0].image[0, 0] = 1
    axes = plane_axes(case_volume.affine)
    for record in slices[::7]:
        expected = np.take(case_volume.image, record.index, axis=axes[record.plane])
        np.testing.assert_array_equal(record.image, expected)


@pytest.mark.parametrize("orientation", ["native", "radiological"])
def test_masks_and_brain_follow_the_image(orientation: str) -> None:
    volume = labelled_volume()
    slices = SliceExtractor(intensity=None, orientation=orientation)(volume)  # type: ignore[arg-type]
    assert sum(int(s.mask("ET").sum()) for s in slices) == 3 * int((volume.image == 4).sum()) > 0
    for record in slices:
        assert record.masks is not None
        assert record.brain is not None
        np.testing.assert_array_equal(record.mask("WT"), record.image > 0)
        np.testing.assert_array_equal(record.mask("ET"), record.image == 4)
        np.testing.assert_array_equal(record.brain, record.image > 0)


def test_volume_without_masks_gives_slices_without_masks(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor(planes=("axial",))(case_volume.replace(masks=None, brain=None))
    assert all(s.masks is None and s.brain is None for s in slices)


def test_size_resizes_image_and_masks(case_volume: VolumeRecord) -> None:
    slices = SliceExtractor(planes=("axial",), size=16)(case_volume)
    for record in slices:
        assert record.image.shape == (16, 16)
        assert record.masks is not None
        assert record.masks.shape == (2, 16, 16)
        assert set(np.unique(record.masks)) <= {0, 1}
        assert record.brain is not None
        assert record.brain.dtype == np.bool_
    assert any(s.masks is not None and s.masks[0].any() for s in slices)


# --- positions ----------------------------------------------------------------------


def test_positions_are_world_coordinates_along_the_normal() -> None:
    spacing = (1.5, 2.0, 3.0)
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = [40.0, 70.0, -20.0]
    volume = labelled_volume(affine=affine)
    slices = SliceExtractor(intensity=None)(volume)
    axes = plane_axes(affine)
    for plane, world in zip(PLANES, range(3), strict=True):
        records = [s for s in slices if s.plane == plane]
        positions = np.array([s.position for s in records])
        # Each slice's position is the world coordinate of its voxels along the normal.
        for record in records:
            voxel = np.zeros(4)
            voxel[axes[plane]] = record.index
            voxel[3] = 1
            assert record.position == pytest.approx((affine @ voxel)[world])
        step = np.diff(positions)
        np.testing.assert_allclose(step, affine[world, axes[plane]])
    axial = np.array([s.position for s in slices if s.plane == "axial"])
    # +z is stored along +k: positions increase by the slice spacing.
    assert np.all(np.diff(axial) == pytest.approx(3.0))
    assert axial[0] == pytest.approx(-20.0)
    sagittal = np.array([s.position for s in slices if s.plane == "sagittal"])
    # x is stored along -i (LPS): positions decrease by the voxel size.
    assert np.all(np.diff(sagittal) == pytest.approx(-1.5))


@given(
    perm=st.permutations([0, 1, 2]).map(tuple),
    flips=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_permuted_storage_gives_the_same_named_slices(
    perm: tuple[int, ...], flips: tuple[bool, ...]
) -> None:
    original = labelled_volume((7, 6, 5))
    affine = original.affine.copy()
    affine[:3, 3] = [3.0, -2.0, 1.0]
    original = original.replace(affine=affine)
    image, new_affine = reorient(np.asarray(original.image), affine, perm, flips)
    masks = np.stack([reorient(np.asarray(m), affine, perm, flips)[0] for m in original.masks])  # type: ignore[union-attr]
    moved = VolumeRecord(
        patient_id="P", modality="seg", image=image, affine=new_affine, masks=masks
    )
    for orientation in ("radiological", "native"):
        extract = SliceExtractor(intensity=None, orientation=orientation)  # type: ignore[arg-type]
        before = {(s.plane, round(s.position, 6)): s for s in extract(original)}
        after = {(s.plane, round(s.position, 6)): s for s in extract(moved)}
        assert before.keys() == after.keys()
        for key, record in before.items():
            other = after[key]
            if orientation == "radiological":
                np.testing.assert_array_equal(other.image, record.image)
                np.testing.assert_array_equal(other.masks, record.masks)  # type: ignore[arg-type]
            else:
                assert any(
                    candidate.shape == record.image.shape
                    and np.array_equal(candidate, record.image)
                    for candidate in dihedral(np.asarray(other.image))
                ), key


# --- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"planes": ()}, "planes is empty"),
        ({"planes": ("axail",)}, "Did you mean 'axial'"),
        ({"planes": ("axial", "axial")}, "names one value more than once"),
        ({"orientation": "radiologic"}, "Did you mean 'radiological'"),
        ({"intensity": "min-max"}, "Did you mean 'minmax'"),
        ({"size": 0}, "positive integer"),
        ({"size": 2.5}, "positive integer"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SliceExtractor(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_only_non_default_arguments() -> None:
    assert repr(SliceExtractor()) == "SliceExtractor()"
    assert repr(SliceExtractor(planes=["axial"])) == "SliceExtractor(planes=('axial',))"
    assert repr(SliceExtractor(orientation="radiological", intensity=None, size=224)) == (
        "SliceExtractor(orientation='radiological', intensity=None, size=224)"
    )


@pytest.mark.realdata
def test_real_case_slice_counts(real_case: Any) -> None:
    volume = VolumeRecord(
        patient_id=real_case.case.case_id,
        modality="flair",
        image=real_case.images["flair"],
        affine=real_case.affine,
    )
    for orientation in ("native", "radiological"):
        slices = SliceExtractor(orientation=orientation)(volume)  # type: ignore[arg-type]
        assert Counter(s.plane for s in slices) == {"sagittal": 240, "coronal": 240, "axial": 155}
    axial = [s for s in slices if s.plane == "axial"]
    assert axial[0].image.shape == (240, 240)
    # BraTS: 1 mm slices, z = k.
    assert [s.position for s in axial[:3]] == pytest.approx([0.0, 1.0, 2.0])


def test_a_volume_of_nan_is_refused_not_sliced_to_255() -> None:
    from radiogenomics.errors import InvalidInputError

    volume = make_brats_case(seed=0, shape=(16, 16, 12)).volumes()[0]
    nan = volume.replace(image=np.full(volume.image.shape, np.nan, np.float32))
    with pytest.raises(InvalidInputError, match=r"3072 NaN and 0 infinite"):
        SliceExtractor()(nan)


def test_one_plane_name_is_one_plane() -> None:
    # planes="axial" used to be read letter by letter ("planes='a' is not a valid option").
    volume = make_brats_case(seed=0, shape=(16, 16, 12)).volumes()[0]
    assert SliceExtractor(planes="axial").planes == ("axial",)
    assert {r.plane for r in SliceExtractor(planes="axial")(volume)} == {"axial"}
    assert {r.plane for r in extract_slices(volume, planes="coronal")} == {"coronal"}  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"planes='axil'.*Did you mean 'axial'"):
        SliceExtractor(planes="axil")  # type: ignore[arg-type]
