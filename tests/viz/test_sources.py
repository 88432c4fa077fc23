"""Reading a prepared case back as slice records; evenly spaced subsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
from radiogenomics.data.store import PreparedSlices
from radiogenomics.errors import ConfigurationError, InputNotFoundError
from radiogenomics.io import find_brats_cases
from radiogenomics.viz import evenly_spaced, read_case_slices


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared-viz") / "out"
    config = SegmentationPrepConfig(size=48, modalities=("flair", "t1ce"))
    cases = find_brats_cases(synthetic_cohort)[:2]
    assert prepare_segmentation(cases, out, config=config).ok
    return out


def test_reads_one_case_with_its_masks(prepared: Path) -> None:
    store = PreparedSlices(prepared)
    first, second = store.patient_ids
    slices = read_case_slices(prepared)
    rows = [row for row in store.rows if row["patient_id"] == first]
    assert len(slices) == len(rows)
    assert {s.patient_id for s in slices} == {first}
    assert slices[0].mask_channels == ("WT", "ET")
    assert [s.index for s in slices] == [int(r["slice_index"]) for r in rows]
    assert slices[0].tumor_ratio == pytest.approx(float(rows[0]["tumor_ratio"]))
    np.testing.assert_array_equal(slices[0].image, store[0].image)
    other = read_case_slices(prepared, case_id=second, modality="t1ce", plane="coronal")
    assert other
    assert {(s.patient_id, s.modality, s.plane) for s in other} == {(second, "t1ce", "coronal")}


def test_limit_keeps_evenly_spaced_slices(prepared: Path) -> None:
    every = read_case_slices(prepared)
    some = read_case_slices(prepared, limit=5)
    assert len(some) == 5
    chosen = evenly_spaced(len(every), 5)
    assert [(s.plane, s.index, s.modality) for s in some] == [
        (every[i].plane, every[i].index, every[i].modality) for i in chosen
    ]


def test_errors_name_the_cases(prepared: Path, tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match=r"BraTS2021_99999.*holds 2 cases"):
        read_case_slices(prepared, case_id="BraTS2021_99999")
    with pytest.raises(InputNotFoundError, match="no kept slice"):
        read_case_slices(prepared, modality="t2")
    with pytest.raises(InputNotFoundError, match="prepare-segmentation"):
        read_case_slices(tmp_path)


@given(count=st.integers(0, 200), limit=st.integers(1, 50))
def test_evenly_spaced_property(count: int, limit: int) -> None:
    chosen = evenly_spaced(count, limit)
    assert len(chosen) == min(count, limit)
    assert chosen == sorted(set(chosen))
    assert all(0 <= i < count for i in chosen)
    if count and limit > 1:
        assert chosen[0] == 0
        assert chosen[-1] == count - 1


def test_evenly_spaced_rejects_bad_limits() -> None:
    assert evenly_spaced(3, None) == [0, 1, 2]
    with pytest.raises(ConfigurationError, match="limit=0"):
        evenly_spaced(3, 0)
