"""Patient-grouped splits: no patient on both sides, everything covered, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.training import patient_folds, patient_split

# Lists of patient identifiers, one per slice, with at least 5 distinct patients.
patients = st.lists(
    st.sampled_from([f"P{i:03d}" for i in range(12)]), min_size=5, max_size=80
).filter(lambda ids: len(set(ids)) >= 5)


def _check_partition(ids: list[str], train: np.ndarray, val: np.ndarray) -> None:
    assert len(train) > 0
    assert len(val) > 0
    assert sorted([*train.tolist(), *val.tolist()]) == list(range(len(ids)))
    assert {ids[i] for i in train}.isdisjoint({ids[i] for i in val})
    assert list(train) == sorted(train)
    assert list(val) == sorted(val)


@given(patients, st.floats(min_value=0.1, max_value=0.5), st.integers(0, 1000))
def test_patient_split_property(ids: list[str], fraction: float, seed: int) -> None:
    train, val = patient_split(ids, val_fraction=fraction, seed=seed)
    _check_partition(ids, train, val)
    again = patient_split(list(ids), val_fraction=fraction, seed=seed)
    assert np.array_equal(train, again[0])
    assert np.array_equal(val, again[1])


@given(patients, st.integers(2, 5), st.integers(0, 1000))
def test_patient_folds_property(ids: list[str], n_folds: int, seed: int) -> None:
    seen: list[int] = []
    for fold in range(n_folds):
        train, val = patient_folds(ids, n_folds=n_folds, fold=fold, seed=seed)
        _check_partition(ids, train, val)
        seen += val.tolist()
    # The validation folds partition the items.
    assert sorted(seen) == list(range(len(ids)))


def test_split_holds_out_about_the_fraction_of_patients() -> None:
    ids = [f"P{p}" for p in range(10) for _ in range(3)]
    _, val = patient_split(ids, val_fraction=0.2, seed=0)
    assert len({ids[i] for i in val}) == 2
    # Another seed holds out other patients for at least one of a few seeds.
    others = [patient_split(ids, val_fraction=0.2, seed=s)[1] for s in range(1, 6)]
    assert any(not np.array_equal(val, o) for o in others)


def test_split_errors() -> None:
    with pytest.raises(InvalidInputError, match="1 distinct patient"):
        patient_split(["a", "a"])
    with pytest.raises(ConfigurationError):
        patient_split(["a", "b"], val_fraction=1.0)
    with pytest.raises(ConfigurationError, match="fold=5"):
        patient_folds(["a", "b", "c"], n_folds=5, fold=5)
    with pytest.raises(InvalidInputError, match="at least 3"):
        patient_folds(["a", "b"], n_folds=3)
