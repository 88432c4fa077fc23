"""``tumor_area_ratio`` and ``TumorAreaFilter``: exact ratios and strict boundaries."""

from __future__ import annotations

from collections import Counter
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.filters import TumorAreaFilter, tumor_area_ratio
from radiogenomics.masks import brain_mask, tumor_masks
from radiogenomics.records import SliceRecord, VolumeRecord
from radiogenomics.slicing import SliceExtractor


def first(height: int, width: int, count: int) -> np.ndarray[Any, Any]:
    """A (height, width) uint8 mask whose first ``count`` pixels (raster order) are set."""
    flat = np.zeros(height * width, np.uint8)
    flat[:count] = 1
    return flat.reshape(height, width)


def record(
    tumor: np.ndarray[Any, Any],
    *,
    brain: np.ndarray[Any, Any] | None = None,
    image: np.ndarray[Any, Any] | None = None,
    et: np.ndarray[Any, Any] | None = None,
) -> SliceRecord:
    return SliceRecord(
        patient_id="P",
        modality="flair",
        plane="axial",
        index=0,
        image=np.zeros(tumor.shape, np.uint8) if image is None else image,
        masks=np.stack([tumor, np.zeros_like(tumor) if et is None else et]).astype(np.uint8),
        brain=None if brain is None else brain.astype(bool),
    )


masks_2d = hnp.arrays(
    np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), elements=st.integers(0, 1)
)


# --- tumor_area_ratio ---------------------------------------------------------------


@given(tumor=masks_2d)
def test_slice_reference_is_count_over_size(tumor: np.ndarray[Any, Any]) -> None:
    ratio = tumor_area_ratio(tumor, reference="slice")
    assert ratio == np.count_nonzero(tumor) / tumor.size
    assert 0.0 <= ratio <= 1.0


@given(data=st.data())
def test_brain_reference_is_in_unit_interval_for_tumor_inside_brain(data: st.DataObject) -> None:
    brain = data.draw(masks_2d)
    inside = data.draw(hnp.arrays(np.uint8, brain.shape, elements=st.integers(0, 1))) & brain
    ratio = tumor_area_ratio(inside, brain=brain)
    brain_pixels = np.count_nonzero(brain)
    assert ratio == (np.count_nonzero(inside) / brain_pixels if brain_pixels else 0.0)
    assert 0.0 <= ratio <= 1.0
    # The brain is no larger than the slice: its ratio is at least the slice ratio.
    assert ratio >= tumor_area_ratio(inside, reference="slice")


def test_docstring_example() -> None:
    tumor = np.zeros((10, 10), np.uint8)
    tumor[:2, :5] = 1
    assert tumor_area_ratio(tumor, reference="slice") == 0.1


def test_empty_brain_gives_zero() -> None:
    tumor = first(4, 4, 3)
    assert tumor_area_ratio(tumor, brain=np.zeros((4, 4), bool)) == 0.0


def test_brain_reference_needs_a_brain() -> None:
    with pytest.raises(ConfigurationError, match="needs a brain mask"):
        tumor_area_ratio(first(4, 4, 3))


def test_largest_contour_areas() -> None:
    tumor = np.zeros((20, 20), np.uint8)
    tumor[2:7, 2:7] = 1  # contour area 4 x 4 = 16
    tumor[10, 10] = 1  # a single pixel: area 0, and not the largest
    brain = np.zeros((20, 20), np.uint8)
    brain[1:12, 1:12] = 1  # contour area 10 x 10 = 100
    assert tumor_area_ratio(tumor, brain=brain, area="largest_contour") == 0.16
    # With the whole slice as reference the denominator stays H x W.
    assert tumor_area_ratio(tumor, reference="slice", area="largest_contour") == 16 / 400
    # Pixel counting instead: 26 tumor pixels over 121 brain pixels.
    assert tumor_area_ratio(tumor, brain=brain) == 26 / 121


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference": "brian"}, "Did you mean 'brain'"),
        ({"area": "pixel"}, "Did you mean 'pixels'"),
    ],
)
def test_ratio_rejects_unknown_options(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        tumor_area_ratio(first(2, 2, 1), brain=first(2, 2, 4), **kwargs)  # type: ignore[arg-type]


# --- TumorAreaFilter boundaries -----------------------------------------------------


@given(height=st.integers(1, 16), width=st.integers(1, 16), data=st.data())
def test_slice_reference_boundary(height: int, width: int, data: st.DataObject) -> None:
    size = height * width
    count = data.draw(st.integers(0, size - 1))
    step = TumorAreaFilter(min_ratio=count / size, reference="slice")
    at = record(first(height, width, count))
    above = record(first(height, width, count + 1))
    assert not step.keep(at)  # ratio == min_ratio: dropped
    assert step.keep(above)
    (out,) = step([at, above])
    assert out.tumor_ratio == (count + 1) / size


@given(height=st.integers(1, 16), width=st.integers(1, 16), data=st.data())
def test_brain_reference_boundary(height: int, width: int, data: st.DataObject) -> None:
    size = height * width
    brain_pixels = data.draw(st.integers(1, size))
    count = data.draw(st.integers(0, brain_pixels - 1))
    brain = first(height, width, brain_pixels)
    step = TumorAreaFilter(min_ratio=count / brain_pixels)
    at = record(first(height, width, count), brain=brain)
    above = record(first(height, width, count + 1), brain=brain)
    assert step.ratio(at) == count / brain_pixels
    assert not step.keep(at)
    assert step.keep(above)


def test_default_threshold_is_one_percent_of_the_brain() -> None:
    brain = first(20, 20, 200)
    step = TumorAreaFilter()
    assert step.min_ratio == 0.01
    assert not step.keep(record(first(20, 20, 2), brain=brain))  # exactly 1 %
    assert step.keep(record(first(20, 20, 3), brain=brain))


def test_brain_from_image_when_the_record_has_none() -> None:
    image = np.zeros((10, 10), np.uint8)
    image[:, :5] = 2  # all 100 pixels are above 0; only these 50 are above 1
    image[:, 5:] = 1
    tumor = first(10, 10, 10)
    assert TumorAreaFilter().ratio(record(tumor, image=image)) == 10 / 100
    assert TumorAreaFilter(brain_threshold=1.0).ratio(record(tumor, image=image)) == 10 / 50
    # A brain mask on the record wins over the image.
    brain = first(10, 10, 20)
    assert TumorAreaFilter().ratio(record(tumor, image=image, brain=brain)) == 10 / 20


def test_slice_reference_ignores_the_brain() -> None:
    rec = record(first(10, 10, 5), brain=first(10, 10, 10))
    assert TumorAreaFilter(reference="slice").ratio(rec) == 0.05


def test_channel_selects_the_tumor_mask() -> None:
    rec = record(first(10, 10, 30), et=first(10, 10, 5))
    step = TumorAreaFilter(min_ratio=0.1, reference="slice", channel="ET")
    assert step.ratio(rec) == 0.05
    assert not step.keep(rec)


def test_annotated_records_are_new() -> None:
    brain = first(10, 10, 100)
    records = [record(first(10, 10, n), brain=brain) for n in (0, 5, 1, 50)]
    out = TumorAreaFilter()(records)
    assert [r.tumor_ratio for r in out] == [0.05, 0.5]
    assert all(r.tumor_ratio is None for r in records)
    assert out[0] is not records[1]


def test_missing_masks_raise() -> None:
    bare = SliceRecord(patient_id="P", modality="t1", plane="axial", index=0, image=np.ones((3, 3)))
    with pytest.raises(InvalidInputError, match="has no masks"):
        TumorAreaFilter()([bare])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_ratio": -0.01}, "min_ratio=-0.01 is out of range"),
        ({"min_ratio": float("nan")}, "must be a number"),
        ({"reference": "slices"}, "Did you mean 'slice'"),
        ({"area": "largest-contour"}, "Did you mean 'largest_contour'"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        TumorAreaFilter(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(TumorAreaFilter()) == "TumorAreaFilter()"
    assert (
        repr(TumorAreaFilter(min_ratio=0.025, area="largest_contour", brain_threshold=1.0))
        == "TumorAreaFilter(min_ratio=0.025, area='largest_contour', brain_threshold=1.0)"
    )
    assert (
        repr(TumorAreaFilter(reference="slice", channel="ET"))
        == "TumorAreaFilter(reference='slice', channel='ET')"
    )


# --- the real BraTS case ------------------------------------------------------------


@pytest.mark.realdata
def test_real_case_slices_with_enough_tumor(real_case: Any) -> None:
    volume = VolumeRecord(
        patient_id=real_case.case.case_id,
        modality="flair",
        image=real_case.images["flair"],
        affine=real_case.affine,
        masks=tumor_masks(real_case.label_map),
        brain=brain_mask(list(real_case.images.values())),
    )
    slices = SliceExtractor()(volume)
    by_brain = Counter(s.plane for s in TumorAreaFilter(min_ratio=0.01)(slices))
    by_slice = Counter(s.plane for s in TumorAreaFilter(min_ratio=0.01, reference="slice")(slices))
    # Measured on BraTS2021_00006: WT over the union brain mask, or over the whole slice.
    assert by_brain == {"sagittal": 68, "coronal": 71, "axial": 64}
    assert by_slice == {"sagittal": 59, "coronal": 67, "axial": 57}
    for plane in ("sagittal", "coronal", "axial"):
        # The brain is smaller than the slice, so dividing by it keeps at least as many.
        assert by_brain[plane] >= by_slice[plane]
