"""The immutable records: validation, read-only arrays, replace and repr."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from radiogenomics.errors import GeometryError, InvalidInputError
from radiogenomics.records import PLANES, SliceRecord, VolumeRecord


def volume(**changes: object) -> VolumeRecord:
    image = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    fields: dict[str, object] = {
        "patient_id": "P1",
        "modality": "flair",
        "image": image,
        "affine": np.eye(4),
        "masks": np.zeros((2, 4, 5, 6), np.uint8),
        "brain": image > 10,
    }
    fields.update(changes)
    return VolumeRecord(**fields)  # type: ignore[arg-type]


def slice_record(**changes: object) -> SliceRecord:
    fields: dict[str, object] = {
        "patient_id": "P1",
        "modality": "flair",
        "plane": "axial",
        "index": 3,
        "image": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "masks": np.stack([np.eye(3, 4, dtype=np.uint8), np.zeros((3, 4), np.uint8)]),
        "brain": np.ones((3, 4), bool),
    }
    fields.update(changes)
    return SliceRecord(**fields)  # type: ignore[arg-type]


def test_planes_follow_the_ras_axes() -> None:
    assert PLANES == ("sagittal", "coronal", "axial")


# --- VolumeRecord -------------------------------------------------------------------


def test_volume_arrays_are_read_only_views_of_the_input() -> None:
    image = np.zeros((4, 5, 6), np.float32)
    record = volume(image=image, masks=None, brain=None)
    assert np.shares_memory(record.image, image)
    with pytest.raises(ValueError, match="read-only"):
        record.image[0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        record.affine[0, 0] = 2
    # The caller's own array stays writable.
    image[0, 0, 0] = 5
    assert record.image[0, 0, 0] == 5


def test_volume_masks_and_brain_are_read_only() -> None:
    record = volume()
    assert record.masks is not None
    assert record.brain is not None
    with pytest.raises(ValueError, match="read-only"):
        record.masks[0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        record.brain[0, 0, 0] = True


def test_volume_affine_becomes_float64() -> None:
    record = volume(affine=np.eye(4, dtype=np.int64))
    assert record.affine.dtype == np.float64


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"image": np.zeros((4, 5))}, "expected a 3D image"),
        ({"affine": np.eye(3)}, "expected a 4x4 affine"),
        ({"masks": np.zeros((2, 4, 5, 7), np.uint8)}, "masks of shape"),
        ({"masks": np.zeros((3, 4, 5, 6), np.uint8)}, "channels"),
        ({"masks": np.zeros((4, 5, 6), np.uint8)}, "masks of shape"),
        ({"brain": np.zeros((4, 5, 7), bool)}, "brain mask of shape"),
    ],
)
def test_volume_validation(changes: dict[str, object], match: str) -> None:
    with pytest.raises(GeometryError, match=match) as info:
        volume(**changes, source="scan.nii.gz")
    assert info.value.patient_id == "P1"
    assert "scan.nii.gz" in str(info.value)


def test_volume_is_frozen() -> None:
    record = volume()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.patient_id = "other"  # type: ignore[misc]


def test_volume_replace_leaves_the_original() -> None:
    record = volume()
    other = record.replace(modality="t1")
    assert other.modality == "t1"
    assert record.modality == "flair"
    assert other is not record
    assert np.shares_memory(other.image, record.image)


def test_volume_repr_is_short() -> None:
    assert repr(volume()) == (
        "VolumeRecord(patient_id='P1', modality='flair', shape=(4, 5, 6), dtype=int16, "
        "masks=2x4x5x6)"
    )
    assert repr(volume(masks=None)).endswith("masks=none)")


# --- SliceRecord --------------------------------------------------------------------


def test_slice_arrays_are_read_only() -> None:
    record = slice_record()
    assert record.masks is not None
    assert record.brain is not None
    for array in (record.image, record.masks, record.brain):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        record.image[0, 0] = 9


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"image": np.zeros((3, 4, 1))}, "expected a 2D slice"),
        ({"masks": np.zeros((2, 3, 5), np.uint8)}, "slice masks of shape"),
        ({"masks": np.zeros((1, 3, 4), np.uint8)}, "slice masks of shape"),
        ({"brain": np.zeros((4, 3), bool)}, "slice brain mask of shape"),
    ],
)
def test_slice_validation(changes: dict[str, object], match: str) -> None:
    with pytest.raises(GeometryError, match=match) as info:
        slice_record(**changes)
    assert info.value.patient_id == "P1"


def test_slice_mask_by_channel() -> None:
    record = slice_record()
    np.testing.assert_array_equal(record.mask("WT"), np.eye(3, 4, dtype=np.uint8))
    np.testing.assert_array_equal(record.mask("ET"), np.zeros((3, 4), np.uint8))


def test_slice_mask_errors_name_the_problem() -> None:
    with pytest.raises(InvalidInputError, match="has no masks") as info:
        slice_record(masks=None).mask("WT")
    assert info.value.patient_id == "P1"
    with pytest.raises(InvalidInputError, match=r"mask channel 'TC' not found.*\('WT', 'ET'\)"):
        slice_record().mask("TC")


def test_slice_custom_channels() -> None:
    record = slice_record(
        masks=np.ones((1, 3, 4), np.uint8), mask_channels=("TC",), brain=None, index=0
    )
    assert record.mask("TC").sum() == 12


def test_slice_group_and_replace() -> None:
    record = slice_record()
    assert record.group == ("P1", "flair", "axial")
    annotated = record.replace(tumor_ratio=0.25, n_contours=2)
    assert annotated.tumor_ratio == 0.25
    assert annotated.n_contours == 2
    assert record.tumor_ratio is None
    assert record.n_contours is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.index = 4  # type: ignore[misc]


def test_slice_repr_shows_measurements_only_when_set() -> None:
    record = slice_record()
    assert repr(record) == (
        "SliceRecord(patient_id='P1', modality='flair', plane='axial', index=3, shape=(3, 4))"
    )
    assert repr(record.replace(tumor_ratio=0.123456, n_contours=2)).endswith(
        "shape=(3, 4), tumor_ratio=0.1235, n_contours=2)"
    )


@pytest.mark.parametrize(
    ("masks", "match"),
    [
        (np.full((2, 4, 4), 255, np.uint8), "a value of 255"),
        (np.full((2, 4, 4), 2, np.uint8), "a value of 2"),
        (np.ones((2, 4, 4), bool), "dtype bool"),
        (np.ones((2, 4, 4), np.float32), "dtype float32"),
    ],
    ids=["0-255", "label-2", "bool", "float"],
)
def test_masks_must_be_zero_one_uint8(masks: np.ndarray, match: str) -> None:
    # They used to be accepted as binary masks (a 0/255 mask counted as tumor everywhere
    # it was 255, a label 2 passed through the filters).
    image = np.zeros((4, 4), np.uint8)
    with pytest.raises(InvalidInputError, match=match):
        SliceRecord(
            patient_id="p", modality="flair", plane="axial", index=0, image=image, masks=masks
        )
    volume = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(InvalidInputError, match=match):
        VolumeRecord(
            patient_id="p",
            modality="flair",
            image=volume,
            affine=np.eye(4),
            masks=np.repeat(masks[..., None], 3, axis=-1),
        )


def test_brain_mask_must_be_bool() -> None:
    with pytest.raises(InvalidInputError, match="brain mask must be bool"):
        SliceRecord(
            patient_id="p",
            modality="flair",
            plane="axial",
            index=0,
            image=np.zeros((4, 4), np.uint8),
            brain=np.ones((4, 4), np.uint8),
        )
