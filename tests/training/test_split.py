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


# -- stratified patient split (stage 2) --------------------------------------------------

# Items (chunks) of patients P000..P019 whose label is fixed per patient.
labelled_items = st.lists(st.integers(0, 19), min_size=4, max_size=80).filter(
    lambda ps: min(sum(p % 2 == c for p in set(ps)) for c in (0, 1)) >= 2
)


@given(labelled_items, st.floats(min_value=0.05, max_value=0.6), st.integers(0, 1000))
def test_stratified_patient_split_property(numbers: list[int], fraction: float, seed: int) -> None:
    import math

    from radiogenomics.training import stratified_patient_split

    ids = [f"P{n:03d}" for n in numbers]
    labels = [n % 2 for n in numbers]
    train, val = stratified_patient_split(ids, labels, val_fraction=fraction, seed=seed)
    _check_partition(ids, train, val)
    for label in (0, 1):
        members = {p for p, y in zip(ids, labels, strict=True) if y == label}
        held = {ids[i] for i in val if labels[i] == label}
        expected = min(max(math.floor(fraction * len(members) + 0.5), 1), len(members) - 1)
        assert len(held) == expected  # exact per-class counts: both classes on both sides
    # Deterministic, and independent of the order of the items.
    again = stratified_patient_split(ids, labels, val_fraction=fraction, seed=seed)
    assert np.array_equal(again[1], val)
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = stratified_patient_split(
        [ids[i] for i in order], [labels[i] for i in order], val_fraction=fraction, seed=seed
    )
    assert {ids[order[i]] for i in shuffled[1]} == {ids[i] for i in val}


def test_stratified_patient_split_errors() -> None:
    from radiogenomics.errors import LabelError
    from radiogenomics.training import stratified_patient_split

    with pytest.raises(LabelError, match="one label"):
        stratified_patient_split(["a", "a", "b"], [0, 1, 0])
    with pytest.raises(InvalidInputError, match="at least 2 patients of one class"):
        stratified_patient_split(["a", "b"], [0, 1])
    with pytest.raises(InvalidInputError, match="one label per item"):
        stratified_patient_split(["a", "b"], [0])
    with pytest.raises(ConfigurationError):
        stratified_patient_split(["a", "b", "c"], [0, 0, 1], val_fraction=1.0)
    # A class of one patient stays in training.
    train, val = stratified_patient_split(["a", "b", "c"], [0, 0, 1], val_fraction=0.5)
    assert val.tolist() in ([0], [1])
    assert 2 in train.tolist()


# -- stratified patient folds (cross-validation) ------------------------------------------


@given(labelled_items, st.integers(2, 4), st.integers(0, 1000))
def test_stratified_patient_folds_property(numbers: list[int], n_folds: int, seed: int) -> None:
    from radiogenomics.training import stratified_patient_folds

    ids = [f"P{n:03d}" for n in numbers]
    labels = [n % 2 for n in numbers]
    smallest = min(sum(p % 2 == c for p in set(numbers)) for c in (0, 1))
    if smallest < n_folds:
        with pytest.raises(InvalidInputError, match="fewer than the"):
            stratified_patient_folds(ids, labels, n_folds=n_folds, seed=seed)
        return
    folds = stratified_patient_folds(ids, labels, n_folds=n_folds, seed=seed)
    # Every item of a patient in one fold, so every patient is validated exactly once.
    fold_of: dict[str, int] = {}
    for patient, fold in zip(ids, folds.tolist(), strict=True):
        assert fold_of.setdefault(patient, fold) == fold
    assert set(fold_of.values()) == set(range(n_folds))
    # Stratified: each class spread evenly (counts differ by at most one between folds).
    for label in (0, 1):
        counts = [
            sum(1 for p, f in fold_of.items() if f == fold and int(p[1:]) % 2 == label)
            for fold in range(n_folds)
        ]
        assert max(counts) - min(counts) <= 1
    # Deterministic, and independent of the order of the items.
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = stratified_patient_folds(
        [ids[i] for i in order], [labels[i] for i in order], n_folds=n_folds, seed=seed
    )
    assert np.array_equal(shuffled, folds[order])


def test_stratified_patient_folds_depend_on_the_seed_and_refuse_bad_input() -> None:
    from radiogenomics.errors import LabelError
    from radiogenomics.training import stratified_patient_folds

    ids = [f"{i:05d}" for i in range(30)]
    labels = [i % 2 for i in range(30)]
    first = stratified_patient_folds(ids, labels, n_folds=3, seed=0)
    assert not np.array_equal(first, stratified_patient_folds(ids, labels, n_folds=3, seed=1))
    with pytest.raises(ConfigurationError, match="n_folds=1"):
        stratified_patient_folds(ids, labels, n_folds=1)
    with pytest.raises(InvalidInputError, match="two classes"):
        stratified_patient_folds(ids, [0] * 30, n_folds=3)
    with pytest.raises(InvalidInputError, match="class 1 has 2 patient"):
        stratified_patient_folds(["a", "b", "c", "d", "e"], [0, 0, 0, 1, 1], n_folds=3)
    with pytest.raises(LabelError, match="one label"):
        stratified_patient_folds(["a", "a", "b"], [0, 1, 0], n_folds=2)


def test_given_patient_split() -> None:
    from radiogenomics.training import given_patient_split

    ids = ["a", "a", "b", "c", "c", "d"]
    train, val = given_patient_split(ids, {"c", "d"})
    _check_partition(ids, train, val)
    assert val.tolist() == [3, 4, 5]
    # A patient of the fold without an item here is fine when known.
    train, val = given_patient_split(ids, ["b", "e"], known=["a", "b", "c", "d", "e"])
    assert val.tolist() == [2]
    with pytest.raises(InvalidInputError, match="unknown"):
        given_patient_split(ids, ["b", "x"])
    with pytest.raises(InvalidInputError, match="hold out none"):
        given_patient_split(ids, ["e"], known=["e"])
    with pytest.raises(InvalidInputError, match="hold out all"):
        given_patient_split(ids, ["a", "b", "c", "d"])
