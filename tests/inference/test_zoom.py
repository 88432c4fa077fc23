"""The reference's 1.2 zoom and its inverse: shapes, dtypes, round trip, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, GeometryError
from radiogenomics.inference import crop_box, zoom_in, zoom_out, zoomed_size


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * float(np.count_nonzero(a & b)) / float(a.sum() + b.sum())


def test_reference_sizes() -> None:
    assert zoomed_size(224, 1.2) == 268  # floor(268.8), as the reference
    assert crop_box(224, 1.2) == (22, 268)
    assert zoomed_size(224, 1.0) == 224
    assert zoomed_size(100, 1.15) == 115  # 114.99999999999999 in floating point
    assert crop_box(10, 1.35) == (1, 13)  # odd margin: the extra pixel goes after the crop


@pytest.mark.parametrize("shape", [(240, 240), (240, 200), (37, 91), (300, 260, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int16, np.bool_, np.int64])
def test_shapes_and_dtypes(shape: tuple[int, ...], dtype: type) -> None:
    image: np.ndarray = (np.arange(np.prod(shape)).reshape(shape) % 7 > 3).astype(dtype)
    before = image.copy()
    zoomed = zoom_in(image, size=64)
    assert zoomed.shape == (64, 64, *shape[2:])
    assert zoomed.dtype == image.dtype
    back = zoom_out(zoomed, native_shape=(shape[0], shape[1]))
    assert back.shape == shape
    assert back.dtype == image.dtype
    np.testing.assert_array_equal(image, before)  # inputs never mutated


def test_zoom_in_is_resize_then_centre_crop() -> None:
    import cv2

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(240, 200), dtype=np.uint8)
    expected = cv2.resize(image, (268, 268), interpolation=cv2.INTER_LINEAR)[22:246, 22:246]
    np.testing.assert_array_equal(zoom_in(image), expected)


def test_zoom_out_is_pad_then_resize() -> None:
    import cv2

    rng = np.random.default_rng(1)
    prediction = rng.random((224, 224, 2), dtype=np.float32)
    padded = np.zeros((268, 268, 2), dtype=np.float32)
    padded[22:246, 22:246] = prediction
    expected = cv2.resize(padded, (200, 240), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(zoom_out(prediction, native_shape=(240, 200)), expected)
    # The border the zoom cut off comes back empty.
    assert zoom_out(np.ones((224, 224), np.float32), native_shape=(240, 240))[:5].max() == 0


def test_factor_one_is_resize_only() -> None:
    import cv2

    rng = np.random.default_rng(2)
    image = rng.random((50, 70), dtype=np.float32)
    np.testing.assert_allclose(
        zoom_in(image, factor=1.0, size=32), cv2.resize(image, (32, 32), interpolation=1)
    )
    same = rng.random((32, 32), dtype=np.float32)
    np.testing.assert_array_equal(zoom_in(same, factor=1.0, size=32), same)
    np.testing.assert_array_equal(zoom_out(same, factor=1.0, native_shape=(32, 32)), same)


def test_nearest_keeps_label_values() -> None:
    labels = np.zeros((60, 80), dtype=np.uint8)
    labels[20:40, 30:50] = 2
    labels[25:35, 35:45] = 4
    assert set(np.unique(zoom_in(labels, size=64, interpolation="nearest"))) <= {0, 2, 4}
    out = zoom_out(zoom_in(labels, size=64, interpolation="nearest"), native_shape=(60, 80))
    assert set(np.unique(out)) <= {0, 1, 2, 3, 4}  # linear may blend
    exact = zoom_out(
        zoom_in(labels, size=64, interpolation="nearest"),
        native_shape=(60, 80),
        interpolation="nearest",
    )
    assert set(np.unique(exact)) == {0, 2, 4}


@given(
    height=st.integers(40, 160),
    width=st.integers(40, 160),
    cy=st.floats(0.3, 0.7),
    cx=st.floats(0.3, 0.7),
    ry=st.floats(0.08, 0.2),
    rx=st.floats(0.08, 0.2),
    size=st.sampled_from([32, 64, 96]),
    factor=st.sampled_from([1.0, 1.1, 1.2, 1.5]),
)
def test_round_trip_is_identity_up_to_interpolation(
    height: int,
    width: int,
    cy: float,
    cx: float,
    ry: float,
    rx: float,
    size: int,
    factor: float,
) -> None:
    # An elliptic blob inside the central 1/factor region (zero near the borders).
    yy, xx = np.mgrid[0:height, 0:width]
    mask = ((yy / height - cy) / ry) ** 2 + ((xx / width - cx) / rx) ** 2 <= 1.0
    assert mask.sum() > 0
    probabilities = zoom_out(
        zoom_in(mask.astype(np.float32), factor=factor, size=size),
        factor=factor,
        native_shape=(height, width),
    )
    assert probabilities.min() >= 0.0
    assert probabilities.max() <= 1.0 + 1e-6
    assert _dice(probabilities > 0.5, mask) > 0.9
    # Blobs of reasonable size (at least 12 px across at the model's resolution).
    if min(ry * size, rx * size) >= 6 and min(ry * height, rx * width) >= 6:
        assert _dice(probabilities > 0.5, mask) > 0.95


def test_round_trip_at_reference_size() -> None:
    yy, xx = np.mgrid[0:240, 0:240]
    mask = ((yy - 110) ** 2 + (xx - 130) ** 2 <= 30**2).astype(np.uint8)
    back = zoom_out(zoom_in(mask * 255) / 255.0, native_shape=(240, 240))
    assert _dice(back > 0.5, mask) > 0.98


def test_content_outside_the_crop_is_lost() -> None:
    mask = np.zeros((240, 240), dtype=np.float32)
    mask[:10] = 1.0  # the top rows fall outside the central 1/1.2 region
    assert zoom_out(zoom_in(mask), native_shape=(240, 240))[:10].max() == 0.0


def test_errors() -> None:
    image = np.zeros((20, 20), dtype=np.float32)
    with pytest.raises(ConfigurationError, match="factor"):
        zoom_in(image, factor=0.9)
    with pytest.raises(ConfigurationError, match="size"):
        zoom_in(image, size=0)
    with pytest.raises(ConfigurationError, match="Did you mean 'linear'"):
        zoom_in(image, interpolation="lineer")  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match=r"\(H, W\)"):
        zoom_in(np.zeros((2, 20, 20, 1)))
    with pytest.raises(GeometryError, match="channels-first"):
        zoom_in(np.zeros((20, 20, 600)))
    with pytest.raises(GeometryError, match="square"):
        zoom_out(np.zeros((20, 30)), native_shape=(20, 30))
    with pytest.raises(ConfigurationError, match="native_shape"):
        zoom_out(image, native_shape=(20, 0))
    with pytest.raises(ValueError, match="factor"):  # the builtin is caught too
        zoom_out(image, factor=0.5, native_shape=(20, 20))


@pytest.mark.parametrize("factor", [4.5, 1e6, float("inf")])
def test_an_absurd_zoom_is_refused_before_any_allocation(factor: float) -> None:
    # zoom 1e6 used to ask OpenCV for 4 petabytes (a raw cv2.error).
    with pytest.raises(ConfigurationError, match="factor="):
        zoom_in(np.zeros((8, 8), np.uint8), factor=factor, size=8)
    with pytest.raises(ConfigurationError, match="factor="):
        zoom_out(np.zeros((8, 8), np.float32), factor=factor, native_shape=(8, 8))
