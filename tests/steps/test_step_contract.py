"""One contract for every step that maps a list of slices to a list of slices.

Every filter, sampler and slice transform goes through the same checks: it never
mutates its input, keeps input order, maps empty to empty, has a short ``repr`` showing
only non-default arguments (which rebuilds the step), and filters are idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from radiogenomics import (
    BlankSliceFilter,
    ContourCountFilter,
    DistinctSampler,
    ResizeSlices,
    SliceExtractor,
    TumorAreaFilter,
)
from radiogenomics.filters import SliceFilter
from radiogenomics.records import SliceRecord
from radiogenomics.sampling import TumorFreeSlices
from radiogenomics.testing import make_brats_case

SliceStep = Callable[[Sequence[SliceRecord]], list[SliceRecord]]


@dataclass(frozen=True)
class Case:
    step: SliceStep
    repr: str
    selects: bool = True  # keeps a strict, non-empty subset of the test slices
    idempotent: bool = False


CASES: dict[str, Case] = {
    "blank-default": Case(BlankSliceFilter(), "BlankSliceFilter()", idempotent=True),
    "blank-0.5": Case(
        BlankSliceFilter(min_fraction=0.5), "BlankSliceFilter(min_fraction=0.5)", idempotent=True
    ),
    "tumor-area-default": Case(TumorAreaFilter(), "TumorAreaFilter()", idempotent=True),
    "tumor-area-released-stage1": Case(
        TumorAreaFilter(reference="slice"), "TumorAreaFilter(reference='slice')", idempotent=True
    ),
    "tumor-area-released-stage2": Case(
        TumorAreaFilter(min_ratio=0.025, area="largest_contour", brain_threshold=1.0),
        "TumorAreaFilter(min_ratio=0.025, area='largest_contour', brain_threshold=1.0)",
        idempotent=True,
    ),
    "tumor-area-et": Case(
        TumorAreaFilter(min_ratio=0.0, channel="ET"),
        "TumorAreaFilter(min_ratio=0.0, channel='ET')",
        idempotent=True,
    ),
    "contours-default": Case(ContourCountFilter(), "ContourCountFilter()", idempotent=True),
    "contours-holes-max1": Case(
        ContourCountFilter(max_contours=1, count_holes=True),
        "ContourCountFilter(max_contours=1, count_holes=True)",
        idempotent=True,
    ),
    "contours-keep-empty": Case(
        ContourCountFilter(max_contours=1, min_contours=0),
        "ContourCountFilter(max_contours=1, min_contours=0)",
        idempotent=True,
    ),
    "contours-et": Case(
        ContourCountFilter(channel="ET", max_contours=3),
        "ContourCountFilter(max_contours=3, channel='ET')",
        idempotent=True,
    ),
    "distinct-similarity": Case(DistinctSampler(), "DistinctSampler()", idempotent=True),
    "distinct-similarity-0.5": Case(
        DistinctSampler(max_similarity=0.5, subsample=1),
        "DistinctSampler(max_similarity=0.5, subsample=1)",
        idempotent=True,
    ),
    "distinct-stride": Case(DistinctSampler(method="stride"), "DistinctSampler(method='stride')"),
    "distinct-stride-0.25": Case(
        DistinctSampler(method="stride", fraction=0.25),
        "DistinctSampler(method='stride', fraction=0.25)",
    ),
    "resize": Case(ResizeSlices(size=20), "ResizeSlices(size=20)", selects=False),
    "tumor-free-default": Case(TumorFreeSlices(), "TumorFreeSlices()"),
    "tumor-free-sampled": Case(
        TumorFreeSlices(steps=[DistinctSampler(), TumorAreaFilter()], fraction=0.5),
        "TumorFreeSlices(steps=[DistinctSampler(), TumorAreaFilter()], fraction=0.5)",
    ),
}

NAMESPACE = {
    "BlankSliceFilter": BlankSliceFilter,
    "ContourCountFilter": ContourCountFilter,
    "DistinctSampler": DistinctSampler,
    "ResizeSlices": ResizeSlices,
    "TumorAreaFilter": TumorAreaFilter,
    "TumorFreeSlices": TumorFreeSlices,
}


@pytest.fixture(scope="module")
def slices() -> list[SliceRecord]:
    """Slices of three volumes of two synthetic patients (one with a satellite lesion)."""
    first = make_brats_case(seed=1, shape=(32, 32, 24), satellite=True).volumes()
    second = make_brats_case(seed=4, shape=(32, 32, 24)).volumes()
    extract = SliceExtractor()
    out = [s for volume in (first[0], first[2], second[0]) for s in extract(volume)]
    assert len(out) == 3 * (32 + 32 + 24)
    return out


def key(record: SliceRecord) -> tuple[tuple[str, str, str], int]:
    return (record.group, record.index)


def is_subsequence(short: list[Any], long: list[Any]) -> bool:
    remaining = iter(long)
    return all(any(item == other for other in remaining) for item in short)


def snapshot(records: Sequence[SliceRecord]) -> list[tuple[Any, ...]]:
    return [
        (
            r.patient_id,
            r.modality,
            r.plane,
            r.index,
            r.position,
            r.tumor_ratio,
            r.n_contours,
            r.mask_channels,
            r.extra,
            np.array(r.image),
            None if r.masks is None else np.array(r.masks),
            None if r.brain is None else np.array(r.brain),
        )
        for r in records
    ]


def assert_same(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> None:
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old[:9] == new[:9]
        for a, b in zip(old[9:], new[9:], strict=True):
            if a is None:
                assert b is None
            else:
                np.testing.assert_array_equal(a, b)


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def test_does_not_mutate_its_input(case: Case, slices: list[SliceRecord]) -> None:
    records = list(slices)
    before = snapshot(records)
    identities = [id(r) for r in records]
    case.step(records)
    assert [id(r) for r in records] == identities  # the list itself is untouched
    assert_same(before, snapshot(records))
    for record in records[::17]:
        for array in (record.image, record.masks, record.brain):
            assert array is not None
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[(0,) * array.ndim] = 1


def test_output_records_are_read_only_slices(case: Case, slices: list[SliceRecord]) -> None:
    out = case.step(slices)
    assert isinstance(out, list)
    assert out is not slices
    for record in out:
        assert isinstance(record, SliceRecord)
        assert not record.image.flags.writeable
        if record.masks is not None:
            assert not record.masks.flags.writeable


def test_keeps_input_order(case: Case, slices: list[SliceRecord]) -> None:
    out = case.step(slices)
    out_keys = [key(r) for r in out]
    in_keys = [key(r) for r in slices]
    assert is_subsequence(out_keys, in_keys)
    assert len(set(out_keys)) == len(out_keys)
    if case.selects:
        assert 0 < len(out) < len(slices), "the test slices should exercise keeping and dropping"
    else:
        assert out_keys == in_keys


def test_empty_in_gives_empty_out(case: Case) -> None:
    out = case.step([])
    assert out == []
    assert isinstance(out, list)


def test_accepts_any_sequence(case: Case, slices: list[SliceRecord]) -> None:
    assert [key(r) for r in case.step(tuple(slices))] == [key(r) for r in case.step(slices)]


def test_is_deterministic(case: Case, slices: list[SliceRecord]) -> None:
    first, second = case.step(slices), case.step(slices)
    assert [key(r) for r in first] == [key(r) for r in second]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.image, b.image)


IDEMPOTENT = [name for name, c in CASES.items() if c.idempotent]


def test_every_filter_is_checked_for_idempotence() -> None:
    for name, c in CASES.items():
        if isinstance(c.step, SliceFilter):
            assert c.idempotent, name


@pytest.mark.parametrize("name", IDEMPOTENT)
def test_filters_are_idempotent(name: str, slices: list[SliceRecord]) -> None:
    step = CASES[name].step
    once = step(slices)
    twice = step(once)
    assert [key(r) for r in twice] == [key(r) for r in once]
    for a, b in zip(once, twice, strict=True):
        assert a.tumor_ratio == b.tumor_ratio
        assert a.n_contours == b.n_contours


def test_repr_is_short_and_rebuilds_the_step(case: Case) -> None:
    text = repr(case.step)
    assert text == case.repr
    assert " at 0x" not in text
    assert len(text) <= 100
    rebuilt = eval(text, dict(NAMESPACE))
    assert type(rebuilt) is type(case.step)
    assert repr(rebuilt) == text


def test_default_repr_has_no_arguments(case: Case) -> None:
    assert repr(type(case.step)()) == f"{type(case.step).__name__}()"  # type: ignore[call-arg]
