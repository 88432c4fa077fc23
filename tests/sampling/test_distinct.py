"""Distinct-slice sampling: the released stride rule and the writeup's similarity rule."""

from __future__ import annotations

import math
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError
from radiogenomics.records import SliceRecord
from radiogenomics.sampling import (
    DistinctSampler,
    distinct_indices,
    slice_similarity,
    stride_indices,
)

TOL = 1e-5
SHAPE = (4, 5)

images_2d = hnp.arrays(np.uint8, SHAPE, elements=st.integers(0, 255))


@st.composite
def series(draw: st.DrawFn) -> list[np.ndarray[Any, Any]]:
    """A series of slices mixing new images, repeats, affine repeats and constants."""
    n = draw(st.integers(1, 8))
    out: list[np.ndarray[Any, Any]] = [draw(images_2d).astype(np.float64)]
    for _ in range(n - 1):
        kind = draw(st.sampled_from(["new", "new", "repeat", "affine", "constant", "noisy"]))
        previous = out[-1]
        if kind == "new":
            out.append(draw(images_2d).astype(np.float64))
        elif kind == "repeat":
            out.append(previous.copy())
        elif kind == "affine":
            out.append(draw(st.sampled_from([0.5, 2.0, 3.0])) * previous + draw(st.integers(-9, 9)))
        elif kind == "constant":
            out.append(np.full(SHAPE, float(draw(st.integers(0, 3)))))
        else:
            noise = draw(hnp.arrays(np.int8, SHAPE, elements=st.integers(-20, 20)))
            out.append(previous + noise)
    return out


# --- stride_indices -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "step"),
    [
        (1, 1),
        (5, 1),  # round(0.5) = 0 -> at least 1
        (15, 2),  # round(1.5) = 2
        (25, 2),  # round(2.5) = 2: Python rounds halves to even
        (35, 4),  # round(3.5) = 4
        (45, 4),  # round(4.5) = 4
        (100, 10),
        (155, 16),  # round(15.5) = 16: an axial BraTS plane
        (240, 24),
    ],
)
def test_stride_step_uses_bankers_rounding(n: int, step: int) -> None:
    indices = stride_indices(n)
    assert indices == list(range(0, n, step))


def test_stride_examples() -> None:
    assert stride_indices(25) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    assert stride_indices(35) == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    assert stride_indices(0) == []
    assert stride_indices(-3) == []
    assert stride_indices(7, fraction=1.0) == [0]
    assert stride_indices(10, fraction=0.25) == [0, 2, 4, 6, 8]  # round(2.5) = 2


@given(n=st.integers(1, 5000), fraction=st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0]))
def test_stride_properties(n: int, fraction: float) -> None:
    indices = stride_indices(n, fraction=fraction)
    step = max(round(fraction * n), 1)
    assert indices[0] == 0
    assert all(0 <= i < n for i in indices)
    assert len(indices) == math.ceil(n / step)
    assert set(np.diff(indices).tolist()) <= {step}
    if fraction == 0.1 and n >= 100:
        assert 10 <= len(indices) <= 11  # "about 10 per plane"


# --- slice_similarity ---------------------------------------------------------------


@given(a=images_2d, b=images_2d)
def test_similarity_symmetric_and_bounded(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
    ab = slice_similarity(a, b)
    assert ab == slice_similarity(b, a)
    assert -1.0 <= ab <= 1.0
    if a.min() != a.max() and b.min() != b.max():
        reference = np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]
        assert ab == pytest.approx(reference, abs=1e-9)


@given(
    a=images_2d.filter(lambda a: a.min() != a.max()),
    scale=st.floats(0.01, 100),
    shift=st.floats(-1000, 1000),
)
def test_similarity_of_an_affine_rescale(
    a: np.ndarray[Any, Any], scale: float, shift: float
) -> None:
    image = a.astype(np.float64)
    assert slice_similarity(image, scale * image + shift) == pytest.approx(1.0, abs=1e-6)
    assert slice_similarity(image, -scale * image + shift) == pytest.approx(-1.0, abs=1e-6)
    assert slice_similarity(image, image) == pytest.approx(1.0, abs=1e-12)


def test_similarity_of_constant_slices() -> None:
    varying = np.arange(20.0).reshape(SHAPE)
    assert slice_similarity(np.full(SHAPE, 3.0), np.full(SHAPE, 3.0)) == 1.0
    assert slice_similarity(np.zeros(SHAPE), np.zeros(SHAPE)) == 1.0
    assert slice_similarity(np.full(SHAPE, 3.0), np.full(SHAPE, 4.0)) == 0.0
    assert slice_similarity(np.full(SHAPE, 3.0), varying) == 0.0
    assert slice_similarity(varying, np.full(SHAPE, 3.0)) == 0.0


@given(value=st.floats(-1e4, 1e4), other=st.floats(-1e4, 1e4))
def test_float_constants_are_recognised(value: float, other: float) -> None:
    # Float means do not round-trip exactly (mean of 0.1s is not 0.1): still constant.
    varying = np.linspace(0.0, 1.0, 20).reshape(SHAPE)
    assert slice_similarity(np.full(SHAPE, value), varying) == 0.0
    assert slice_similarity(np.full(SHAPE, value), np.full(SHAPE, value)) == 1.0
    if np.float32(value) != np.float32(other):
        assert slice_similarity(np.full(SHAPE, value), np.full(SHAPE, other)) == 0.0


def test_similarity_docstring_example() -> None:
    a = np.arange(16.0).reshape(4, 4)
    assert round(slice_similarity(a, 2 * a + 1), 6) == 1.0


def test_similarity_subsample_uses_every_kth_pixel() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 8))
    b = rng.normal(size=(8, 8))
    # Only the pixels at even rows and columns count: make them equal.
    b[::2, ::2] = a[::2, ::2]
    assert slice_similarity(a, b) < 0.9
    assert slice_similarity(a, b, subsample=2) == pytest.approx(1.0)


# --- distinct_indices ---------------------------------------------------------------


@given(images=series(), threshold=st.floats(-1.0, 1.0))
def test_distinct_indices_properties(images: list[np.ndarray[Any, Any]], threshold: float) -> None:
    kept = distinct_indices(images, max_similarity=threshold)
    assert kept[0] == 0
    assert kept == sorted(set(kept))
    assert all(0 <= i < len(images) for i in kept)
    kept_set = set(kept)
    last = 0
    for i in range(1, len(images)):
        similarity = slice_similarity(images[last], images[i])
        if i in kept_set:
            assert similarity <= threshold + TOL
            last = i
        else:
            assert similarity > threshold - TOL


@given(images=series())
def test_max_similarity_one_drops_only_exact_repeats(images: list[np.ndarray[Any, Any]]) -> None:
    kept = distinct_indices(images, max_similarity=1.0)
    last = images[0]
    expected = [0]
    for i in range(1, len(images)):
        image = images[i]
        constant = image.min() == image.max()
        if constant or last.min() == last.max():
            repeat = constant and last.min() == last.max() and image[0, 0] == last[0, 0]
        else:
            # An exact affine repeat: the least-squares line through (last, image) fits.
            x, y = last.ravel(), image.ravel()
            coef = np.polyfit(x, y, 1)
            repeat = bool(coef[0] > 0 and np.allclose(np.polyval(coef, x), y, atol=1e-6))
        if not repeat:
            expected.append(i)
            last = image
    assert kept == expected


def test_max_similarity_one_on_a_concrete_series() -> None:
    a = np.arange(20.0).reshape(SHAPE)
    b = a[::-1].copy()
    images = [a, a.copy(), 2 * a + 1, b, b, np.zeros(SHAPE), np.zeros(SHAPE), a]
    assert distinct_indices(images, max_similarity=1.0) == [0, 3, 5, 7]


def test_distinct_indices_low_threshold_keeps_anticorrelated() -> None:
    a = np.arange(20.0).reshape(SHAPE)
    images = [a, -a, a, a + 1]
    assert distinct_indices(images, max_similarity=-1.0) == [0, 1, 2]
    assert distinct_indices(images, max_similarity=0.0) == [0, 1, 2]
    assert distinct_indices(images, max_similarity=-0.9) == [0, 1, 2]


def test_distinct_indices_of_nothing() -> None:
    assert distinct_indices([]) == []
    assert distinct_indices([np.zeros(SHAPE)]) == [0]


def test_distinct_indices_drops_slowly_changing_neighbours() -> None:
    # A bright square moving one pixel per slice: neighbours overlap heavily.
    images = []
    for shift in range(12):
        image = np.zeros((20, 20))
        image[5:13, shift : shift + 8] = 100.0
        images.append(image)
    kept = distinct_indices(images, max_similarity=0.5)
    assert kept[0] == 0
    assert 1 < len(kept) < len(images)
    gaps = np.diff(kept)
    assert gaps.min() >= 2  # consecutive slices are too similar to both be kept


# --- DistinctSampler ----------------------------------------------------------------


def slice_record(patient: str, plane: str, index: int, image: np.ndarray[Any, Any]) -> SliceRecord:
    return SliceRecord(
        patient_id=patient,
        modality="flair",
        plane=plane,
        index=index,
        image=image,  # type: ignore[arg-type]
    )


def interleaved(n: int = 25) -> list[SliceRecord]:
    rng = np.random.default_rng(0)
    records = []
    for index in range(n):
        for patient, plane in (("A", "axial"), ("A", "coronal"), ("B", "axial")):
            records.append(slice_record(patient, plane, index, rng.integers(0, 255, (6, 6))))
    return records


def test_stride_sampler_works_per_series_and_keeps_input_order() -> None:
    records = interleaved(25)
    out = DistinctSampler(method="stride")(records)
    positions = [records.index(r) for r in out]
    assert positions == sorted(positions)
    for group in (("A", "flair", "axial"), ("A", "flair", "coronal"), ("B", "flair", "axial")):
        assert [r.index for r in out if r.group == group] == stride_indices(25)
    assert all(any(r is s for s in records) for r in out)  # records are passed through


def test_similarity_sampler_matches_distinct_indices_per_series() -> None:
    images = [np.full((8, 8), 10.0)] * 3 + [np.eye(8) * 50] * 3 + [np.arange(64.0).reshape(8, 8)]
    records = [slice_record("A", "axial", i, image) for i, image in enumerate(images)]
    records += [slice_record("A", "sagittal", i, image) for i, image in enumerate(images[::-1])]
    out = DistinctSampler(max_similarity=0.5, subsample=1)(records)
    axial = [r.index for r in out if r.plane == "axial"]
    sagittal = [r.index for r in out if r.plane == "sagittal"]
    assert axial == distinct_indices(images, max_similarity=0.5) == [0, 3, 6]
    assert sagittal == distinct_indices(images[::-1], max_similarity=0.5) == [0, 1, 4]


def test_sampler_select() -> None:
    images = [np.full((4, 4), float(i)) for i in range(30)]
    assert DistinctSampler(method="stride").select(images) == stride_indices(30)
    assert DistinctSampler(method="stride", fraction=0.5).select(images) == list(range(0, 30, 15))
    # Different constants are dissimilar: similarity keeps them all.
    assert DistinctSampler().select(images) == list(range(30))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "strides"}, "Did you mean 'stride'"),
        ({"max_similarity": 1.5}, "max_similarity=1.5 is out of range"),
        ({"max_similarity": -2.0}, "out of range"),
        ({"fraction": 0.0}, r"fraction=0.0 is out of range; expected a value in \(0.0, 1.0\]"),
        ({"fraction": 1.5}, "out of range"),
        ({"subsample": 0}, "positive integer"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        DistinctSampler(**kwargs)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(DistinctSampler()) == "DistinctSampler()"
    assert repr(DistinctSampler(method="stride")) == "DistinctSampler(method='stride')"
    assert (
        repr(DistinctSampler(max_similarity=0.8, fraction=0.2))
        == "DistinctSampler(max_similarity=0.8, fraction=0.2)"
    )


@given(images_2d)
def test_similarity_of_affine_copies_is_exactly_plus_or_minus_one(image: np.ndarray) -> None:
    a = image.astype(np.float64)
    if np.ptp(a) == 0:
        return
    # Exactly +-1 on every CPU (the dot product's last bits vary between BLAS builds).
    assert slice_similarity(a, 3 * a + 7) == 1.0
    assert slice_similarity(a, -a) == -1.0
    assert slice_similarity(a, 255 - a) == -1.0


def test_similarity_within_rounding_of_the_ends_is_snapped() -> None:
    from radiogenomics.sampling.distinct import _similarity

    rows = np.array([[1.0, 0.0], [-(1.0 - 2e-16), 0.0], [1.0 - 3e-16, 0.0], [-0.9999, 0.0]])
    means = np.zeros(4)
    constant = np.zeros(4, dtype=bool)
    assert _similarity(rows, means, constant, 0, 1) == -1.0  # was -0.9999999999999998
    assert _similarity(rows, means, constant, 0, 2) == 1.0
    assert _similarity(rows, means, constant, 0, 3) == pytest.approx(-0.9999)
