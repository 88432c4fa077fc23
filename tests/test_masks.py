"""Tumor sub-region masks, label-map validation and brain masks."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, LabelError
from radiogenomics.masks import (
    ENHANCING_LABEL,
    REGIONS,
    brain_mask,
    check_label_map,
    region_mask,
    tumor_masks,
)

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)


def label_maps(convention: str) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    values = [0, 1, 2, ENHANCING_LABEL[convention]]  # type: ignore[index]
    return hnp.arrays(np.uint8, SHAPES, elements=st.sampled_from(values))


# --- region_mask / tumor_masks ------------------------------------------------------


def test_region_mask_labels_brats2021() -> None:
    labels = np.array([0, 1, 2, 4])
    assert region_mask(labels, "WT").tolist() == [False, True, True, True]
    assert region_mask(labels, "TC").tolist() == [False, True, False, True]
    assert region_mask(labels, "ET").tolist() == [False, False, False, True]


def test_region_mask_labels_brats2023() -> None:
    labels = np.array([0, 1, 2, 3, 4])
    assert region_mask(labels, "WT", convention="brats2023").tolist() == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert region_mask(labels, "TC", convention="brats2023").tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert region_mask(labels, "ET", convention="brats2023").tolist() == [
        False,
        False,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize("convention", ["brats2021", "brats2023"])
@given(data=st.data())
def test_regions_are_nested(convention: str, data: st.DataObject) -> None:
    labels = data.draw(label_maps(convention))
    wt, tc, et = (region_mask(labels, r, convention=convention) for r in REGIONS)  # type: ignore[arg-type]
    assert wt.shape == labels.shape
    assert wt.dtype == np.bool_
    assert not (et & ~tc).any()
    assert not (tc & ~wt).any()
    np.testing.assert_array_equal(wt, labels > 0)
    np.testing.assert_array_equal(et, labels == ENHANCING_LABEL[convention])  # type: ignore[index]


@given(labels=label_maps("brats2021"))
def test_tumor_masks_stack_channels_in_order(labels: np.ndarray[Any, Any]) -> None:
    masks = tumor_masks(labels, regions=("ET", "WT", "TC"))
    assert masks.dtype == np.uint8
    assert masks.shape == (3, *labels.shape)
    assert set(np.unique(masks)) <= {0, 1}
    np.testing.assert_array_equal(masks[0], labels == 4)
    np.testing.assert_array_equal(masks[1], labels > 0)
    np.testing.assert_array_equal(masks[2], np.isin(labels, (1, 4)))


def test_tumor_masks_default_channels_are_wt_et() -> None:
    masks = tumor_masks(np.array([[0, 1], [2, 4]]))
    assert masks.tolist() == [[[0, 1], [1, 1]], [[0, 0], [0, 1]]]


def test_region_mask_rejects_unknown_options() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'WT'"):
        region_mask(np.zeros(3, np.uint8), "WTT")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Did you mean 'brats2023'"):
        region_mask(np.zeros(3, np.uint8), "WT", convention="brats2032")  # type: ignore[arg-type]


# --- check_label_map ----------------------------------------------------------------


@pytest.mark.parametrize("convention", ["brats2021", "brats2023"])
@given(data=st.data())
def test_check_label_map_accepts_its_convention(convention: str, data: st.DataObject) -> None:
    labels = data.draw(label_maps(convention))
    dtype = data.draw(st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64]))
    out = check_label_map(labels.astype(dtype), convention=convention)  # type: ignore[arg-type]
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, labels)


def test_check_label_map_input_is_unchanged() -> None:
    labels = np.array([0.0, 1.0002, 2.0, 3.9996], dtype=np.float64)
    copy = labels.copy()
    assert check_label_map(labels).tolist() == [0, 1, 2, 4]
    np.testing.assert_array_equal(labels, copy)


def test_label_3_under_brats2021_hints_at_brats2023() -> None:
    with pytest.raises(LabelError) as info:
        check_label_map(np.array([0, 1, 2, 3]), path="seg.nii.gz", patient_id="P9")
    text = str(info.value)
    assert "unexpected label values [3]" in text
    assert "brats2023" in text
    assert "[0, 1, 2, 4]" in text
    assert "patient P9" in text
    assert "seg.nii.gz" in text


def test_label_4_under_brats2023_hints_at_brats2021() -> None:
    with pytest.raises(LabelError, match="fit the brats2021 convention"):
        check_label_map(np.array([0, 4]), convention="brats2023")


def test_unknown_labels_without_a_fitting_convention_get_no_hint() -> None:
    with pytest.raises(LabelError) as info:
        check_label_map(np.array([0, 3, 4, 7]))
    assert "unexpected label values [3, 7]" in str(info.value)
    assert "fit the" not in str(info.value)


@pytest.mark.parametrize("value", [-1, 5, 7, 255, 256])
def test_out_of_range_integers_raise(value: int) -> None:
    with pytest.raises(LabelError, match=rf"unexpected label values \[{value}\]"):
        check_label_map(np.array([0, value], dtype=np.int64))


@given(
    value=st.floats(0.0, 4.0).filter(lambda v: abs(v - round(v)) > 2e-3),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_non_integral_floats_raise(value: float, dtype: type) -> None:
    labels = np.array([0.0, 1.0, value], dtype=dtype)
    with pytest.raises(LabelError, match="non-integer values"):
        check_label_map(labels)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_labels_raise(bad: float) -> None:
    with pytest.raises(LabelError, match="NaN or infinite"):
        check_label_map(np.array([0.0, 1.0, bad], dtype=np.float32), patient_id="P1")


def test_check_label_map_rejects_unknown_convention() -> None:
    with pytest.raises(ConfigurationError, match="convention"):
        check_label_map(np.zeros(2), convention="brats2020")  # type: ignore[arg-type]


# --- brain_mask ---------------------------------------------------------------------


@given(
    images=st.integers(1, 4).flatmap(
        lambda n: st.lists(
            hnp.arrays(np.int16, (3, 4, 2), elements=st.integers(-5, 5)), min_size=n, max_size=n
        )
    ),
    threshold=st.integers(-2, 2),
)
def test_brain_mask_is_the_union_over_images(
    images: list[np.ndarray[Any, Any]], threshold: int
) -> None:
    mask = brain_mask(images, threshold=threshold)
    assert mask.dtype == np.bool_
    expected = np.any(np.stack(images) > threshold, axis=0)
    np.testing.assert_array_equal(mask, expected)
    # Each image's own foreground is inside the union.
    for image in images:
        assert not ((image > threshold) & ~mask).any()


def test_brain_mask_of_one_array_and_strict_threshold() -> None:
    image = np.array([[0.0, 0.5], [1.0, 2.0]])
    assert brain_mask(image).tolist() == [[False, True], [True, True]]
    assert brain_mask(image, threshold=1.0).tolist() == [[False, False], [False, True]]
    # image[::-1] is above 1.0 at the top right only: the union adds that pixel.
    assert brain_mask((image, image[::-1]), threshold=1.0).tolist() == [
        [False, True],
        [False, True],
    ]


# --- the real BraTS case ------------------------------------------------------------


@pytest.mark.realdata
def test_real_case_region_volumes(real_case: Any) -> None:
    labels = real_case.label_map
    assert int(region_mask(labels, "WT").sum()) == 25506 + 85957 + 26448
    assert int(region_mask(labels, "TC").sum()) == 25506 + 26448
    assert int(region_mask(labels, "ET").sum()) == 26448


@pytest.mark.realdata
def test_real_case_brain_mask(real_case: Any) -> None:
    brain = brain_mask(list(real_case.images.values()))
    fraction = float(brain.mean())
    assert 0.1 < fraction < 0.3
    assert int(brain.sum()) == 1519600  # measured: union of the four modalities
    # The tumor lies inside the skull-stripped brain.
    assert not (region_mask(real_case.label_map, "WT") & ~brain).any()


@pytest.mark.realdata
def test_real_case_tumor_is_on_the_patients_left(real_case: Any) -> None:
    affine = real_case.affine

    def world_centroid(mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        voxel = np.argwhere(mask).mean(axis=0)
        return affine[:3, :3] @ voxel + affine[:3, 3]

    tumor = world_centroid(region_mask(real_case.label_map, "WT"))
    brain = world_centroid(brain_mask(list(real_case.images.values())))
    # Measured: WT centroid at x = -128.7 mm, brain centroid at x = -115.4 mm (RAS+: -x is
    # the patient's left), so the tumor sits about 13 mm left of the brain's centre.
    assert tumor[0] < 0
    assert tumor[0] - brain[0] < -10
    assert tumor[0] == pytest.approx(-128.723, abs=1e-2)
