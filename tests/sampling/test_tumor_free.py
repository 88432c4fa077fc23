"""Tumor-free slices: how many, which (spread, reproducible), and what they carry."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics import SliceExtractor, TumorAreaFilter
from radiogenomics.errors import ConfigurationError
from radiogenomics.records import SliceRecord
from radiogenomics.sampling import (
    DistinctSampler,
    TumorFreeSlices,
    is_tumor_free,
    spread_indices,
    tumor_free_count,
)
from radiogenomics.testing import make_brats_case

# --- spread_indices -------------------------------------------------------------------


@given(st.integers(0, 400), st.integers(0, 400))
def test_spread_indices_count_order_and_range(n: int, k: int) -> None:
    chosen = spread_indices(n, k)
    assert len(chosen) == min(n, k)
    assert chosen == sorted(set(chosen))
    assert all(0 <= i < n for i in chosen)


@given(st.integers(1, 400), st.integers(1, 400))
def test_spread_indices_take_one_from_each_equal_part(n: int, k: int) -> None:
    if k > n:
        assert spread_indices(n, k) == list(range(n))
        return
    chosen = spread_indices(n, k)
    # Part i covers [i n / k, (i + 1) n / k): each part holds exactly one chosen index.
    for i, index in enumerate(chosen):
        assert Fraction(i * n, k) <= index < Fraction((i + 1) * n, k)
    gaps = {b - a for a, b in itertools.pairwise(chosen)}
    assert gaps <= {n // k, n // k + 1}


def test_spread_indices_examples_and_errors() -> None:
    assert spread_indices(10, 3) == [2, 5, 8]
    assert spread_indices(10, 1) == [5]
    assert spread_indices(0, 3) == []
    with pytest.raises(ConfigurationError, match="at least 0"):
        spread_indices(-1, 2)


# --- tumor_free_count -------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(0, 400))
def test_count_is_the_product_rounded_half_up(n: int, hundredths: int) -> None:
    fraction = hundredths / 100  # 0.0, 0.01, ... as the command line gives them
    exact = Fraction(hundredths, 100) * n
    assert tumor_free_count(n, fraction) == int(exact + Fraction(1, 2))


def test_count_does_not_hang_on_the_last_bit() -> None:
    assert 0.7 * 45 < 31.5  # 31.499999999999996 in floating point
    assert tumor_free_count(45, 0.7) == 32
    assert tumor_free_count(3, 0.5) == 2
    assert tumor_free_count(5, 0.0) == 0
    with pytest.raises(ConfigurationError, match="fraction"):
        tumor_free_count(5, -0.5)


# --- is_tumor_free --------------------------------------------------------------------


def _record(
    *, tumor: bool = False, brain_pixels: int = 50, masks: bool = True, brain: bool = True
) -> SliceRecord:
    image = np.zeros((10, 10), np.uint8)
    image.flat[:brain_pixels] = 100
    labels = np.zeros((2, 10, 10), np.uint8)
    if tumor:
        labels[0, 5, 5] = 1
    return SliceRecord(
        patient_id="p",
        modality="flair",
        plane="axial",
        index=0,
        image=image,
        masks=labels if masks else None,
        brain=(image > 0) if brain else None,
    )


def test_tumor_free_needs_empty_masks_and_enough_brain() -> None:
    assert is_tumor_free(_record())
    assert not is_tumor_free(_record(tumor=True))
    assert not is_tumor_free(_record(masks=False))  # nothing says it is tumor-free
    assert is_tumor_free(_record(brain=False))  # the image's foreground stands in
    # Strictly more than the fraction: 10 of 100 pixels is not more than 0.1.
    assert not is_tumor_free(_record(brain_pixels=10))
    assert is_tumor_free(_record(brain_pixels=11))
    assert is_tumor_free(_record(brain_pixels=10), min_brain_fraction=0.09)


# --- TumorFreeSlices --------------------------------------------------------------------


@pytest.fixture(scope="module")
def slices() -> list[SliceRecord]:
    """Every slice of two modalities of two synthetic cases, all planes."""
    extract = SliceExtractor()
    out = []
    for seed in (1, 4):
        volumes = make_brats_case(seed=seed, shape=(32, 32, 24)).volumes()
        out += [s for volume in volumes[:2] for s in extract(volume)]
    return out


def _by_group(records: list[SliceRecord]) -> dict[tuple[str, str, str], list[SliceRecord]]:
    groups: dict[tuple[str, str, str], list[SliceRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    return groups


@pytest.mark.parametrize("fraction", [0.5, 1.0, 2.0, 10.0])
def test_adds_the_fraction_of_tumor_free_slices_per_series(
    slices: list[SliceRecord], fraction: float
) -> None:
    step = TumorFreeSlices(steps=[DistinctSampler(), TumorAreaFilter()], fraction=fraction)
    out = step(slices)
    kept = step.steps(slices)
    assert [(r.group, r.index) for r in out if r.tumor_ratio != 0] == [
        (r.group, r.index) for r in kept
    ]
    free_by_group = _by_group([r for r in out if r.tumor_ratio == 0])
    kept_by_group = _by_group(kept)
    candidates = _by_group([r for r in slices if is_tumor_free(r)])
    for group, members in kept_by_group.items():
        wanted = tumor_free_count(len(members), fraction)
        got = free_by_group.get(group, [])
        assert len(got) == min(wanted, len(candidates.get(group, [])))
        for record in got:
            assert record.masks is not None
            assert not record.masks.any()
            assert is_tumor_free(record)
    assert set(free_by_group) <= set(kept_by_group)  # a series with no tumor slice: none


def test_tumor_free_slices_are_spread_over_the_candidates(slices: list[SliceRecord]) -> None:
    step = TumorFreeSlices(fraction=1.0)
    out = step(slices)
    for group, free in _by_group([r for r in out if r.tumor_ratio == 0]).items():
        candidates = [r.index for r in slices if r.group == group and is_tumor_free(r)]
        expected = [candidates[i] for i in spread_indices(len(candidates), len(free))]
        assert [r.index for r in free] == expected


def test_output_is_in_input_order_and_reproducible(slices: list[SliceRecord]) -> None:
    step = TumorFreeSlices(fraction=2.0)
    position = {(r.group, r.index): p for p, r in enumerate(slices)}
    first = [(r.group, r.index) for r in step(slices)]
    assert [position[k] for k in first] == sorted(position[k] for k in first)
    assert first == [(r.group, r.index) for r in TumorFreeSlices(fraction=2.0)(slices)]


def test_fraction_zero_is_the_inner_steps(slices: list[SliceRecord]) -> None:
    inner = [DistinctSampler(), TumorAreaFilter()]
    out = TumorFreeSlices(steps=inner, fraction=0.0)(slices)
    plain = TumorAreaFilter()(DistinctSampler()(slices))
    assert [(r.group, r.index, r.tumor_ratio) for r in out] == [
        (r.group, r.index, r.tumor_ratio) for r in plain
    ]


def test_settings_are_checked_and_shown() -> None:
    assert repr(TumorFreeSlices()) == "TumorFreeSlices()"
    assert repr(TumorFreeSlices(fraction=0.5, min_brain_fraction=0.2)) == (
        "TumorFreeSlices(fraction=0.5, min_brain_fraction=0.2)"
    )
    with pytest.raises(ConfigurationError, match="fraction"):
        TumorFreeSlices(fraction=-1.0)
    with pytest.raises(ConfigurationError, match="min_brain_fraction"):
        TumorFreeSlices(min_brain_fraction=1.5)


def test_real_case_tumor_free_slices_are_brain_without_tumor(real_case) -> None:  # type: ignore[no-untyped-def]
    flair = real_case.volumes()[0]
    slices = SliceExtractor(planes="axial", orientation="radiological")(flair)
    out = TumorFreeSlices(steps=[TumorAreaFilter()], fraction=1.0)(slices)
    tumor = [r for r in out if r.tumor_ratio > 0]
    free = [r for r in out if r.tumor_ratio == 0]
    candidates = [r for r in slices if is_tumor_free(r)]
    assert len(tumor) > 40
    assert 0 < len(candidates) < len(tumor)
    assert len(free) == len(candidates)  # fewer candidates than wanted: all of them
    labels = real_case.label_map
    for record in free:
        assert not np.any(labels[:, :, record.index])  # no tumor label anywhere on it
        assert record.brain is not None
        assert record.brain.mean() > 0.1
    # Spread over the head: below and above the tumor, not bunched on one side.
    tumor_span = (min(r.index for r in tumor), max(r.index for r in tumor))
    assert any(r.index < tumor_span[0] for r in free)
    assert any(r.index > tumor_span[1] for r in free)
