"""Patient-grouped validation splits: no patient on both sides.

Every slice of a patient goes to the same side, so validation scores measure how the
model does on patients it has never seen. Both functions are deterministic: the same
identifiers and seed give the same split, on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_range
from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError

__all__ = [
    "given_patient_split",
    "patient_folds",
    "patient_split",
    "stratified_patient_folds",
    "stratified_patient_split",
]

IndexArray = npt.NDArray[np.intp]


def _groups(patient_ids: Sequence[str], needed: int) -> npt.NDArray[np.str_]:
    groups = np.asarray([str(p) for p in patient_ids])
    n_patients = len(set(groups.tolist()))
    if n_patients < needed:
        raise InvalidInputError(
            f"got {n_patients} distinct patient(s) in {len(groups)} items; a grouped split "
            f"needs at least {needed}. Prepare more cases."
        )
    return groups


def _patient_labels(patient_ids: Sequence[str], labels: Sequence[int]) -> dict[str, int]:
    """``patient -> label`` of items labelled per item, refusing a patient with two labels."""
    if len(patient_ids) != len(labels):
        raise InvalidInputError(
            f"got {len(patient_ids)} patient ids and {len(labels)} labels; expected one "
            "label per item."
        )
    by_patient: dict[str, int] = {}
    for patient_id, label in zip(patient_ids, labels, strict=True):
        key, value = str(patient_id), int(label)
        if by_patient.setdefault(key, value) != value:
            raise LabelError(
                f"items of this patient have labels {by_patient[key]} and {value}; a "
                "patient has one label.",
                patient_id=key,
            )
    return by_patient


def patient_split(
    patient_ids: Sequence[str], *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[IndexArray, IndexArray]:
    """Hold out a random fraction of the *patients* (not of the items) for validation.

    Uses scikit-learn's ``GroupShuffleSplit``: ``ceil(val_fraction * n_patients)``
    patients go to validation.

    Args:
        patient_ids: The patient of each item (one entry per slice).
        val_fraction: Fraction of patients held out, in (0, 1).
        seed: Random seed.

    Returns:
        ``(train_indices, val_indices)``, each sorted, together covering every item once.

    Raises:
        ConfigurationError: ``val_fraction`` is not in (0, 1).
        InvalidInputError: Fewer than 2 distinct patients.

    Example:
        >>> train, val = patient_split(["a", "a", "b", "c", "d", "e"], val_fraction=0.2)
        >>> len(train) + len(val)
        6
    """
    from sklearn.model_selection import GroupShuffleSplit

    check_range(
        "val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    groups = _groups(patient_ids, 2)
    splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
    train, val = next(splitter.split(np.zeros(len(groups)), groups=groups))
    if len(train) == 0:  # sklearn rounds the held-out count up; keep one patient to train
        raise InvalidInputError(
            f"val_fraction={val_fraction} leaves no training patient among "
            f"{len(set(groups.tolist()))}; lower it."
        )
    return np.sort(train).astype(np.intp), np.sort(val).astype(np.intp)


def patient_folds(
    patient_ids: Sequence[str], *, n_folds: int = 5, fold: int = 0, seed: int = 0
) -> tuple[IndexArray, IndexArray]:
    """The ``fold``-th of ``n_folds`` patient-grouped folds (the reference: 5 folds, fold 0).

    Uses scikit-learn's ``GroupKFold(shuffle=True, random_state=seed)``: patients are
    shuffled, then dealt into folds of about equal item counts.

    Args:
        patient_ids: The patient of each item.
        n_folds: Number of folds, at least 2.
        fold: Which fold is validation, in ``[0, n_folds)``.
        seed: Random seed of the shuffle.

    Returns:
        ``(train_indices, val_indices)``, each sorted.

    Raises:
        ConfigurationError: ``n_folds < 2`` or ``fold`` out of range.
        InvalidInputError: Fewer distinct patients than folds.
    """
    from sklearn.model_selection import GroupKFold

    if n_folds < 2:
        raise ConfigurationError(f"n_folds={n_folds} must be at least 2.")
    if not 0 <= fold < n_folds:
        raise ConfigurationError(f"fold={fold} is out of range; expected 0 to {n_folds - 1}.")
    groups = _groups(patient_ids, n_folds)
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for index, (train, val) in enumerate(splitter.split(np.zeros(len(groups)), groups=groups)):
        if index == fold:
            return np.sort(train).astype(np.intp), np.sort(val).astype(np.intp)
    raise AssertionError("unreachable")  # pragma: no cover


def given_patient_split(
    patient_ids: Sequence[str],
    val_patients: Collection[str],
    *,
    known: Collection[str] | None = None,
) -> tuple[IndexArray, IndexArray]:
    """Hold out the patients named: a split chosen elsewhere (e.g. one cross-validation fold).

    Items whose patient is in ``val_patients`` go to validation, the others to training.
    Named patients without an item here are allowed when ``known`` holds them (a patient
    of the fold who has no series of this MRI type); unknown ones are refused, as a
    misspelt identifier would silently move a patient to training.

    Args:
        patient_ids: The patient of each item.
        val_patients: The patients to hold out.
        known: Every patient that may be named; default: ``patient_ids``.

    Returns:
        ``(train_indices, val_indices)``, each sorted, together covering every item once.

    Raises:
        InvalidInputError: ``val_patients`` names an unknown patient, holds out no item, or
            holds out every item.

    Example:
        >>> train, val = given_patient_split(["a", "a", "b", "c"], {"b"})
        >>> train.tolist(), val.tolist()
        ([0, 1, 3], [2])
    """
    ids = [str(p) for p in patient_ids]
    wanted = {str(p) for p in val_patients}
    allowed = set(ids) if known is None else {str(p) for p in known} | set(ids)
    unknown = sorted(wanted - allowed)
    if unknown:
        raise InvalidInputError(
            f"{len(unknown)} of the {len(wanted)} validation patients given are unknown "
            f"(first: {unknown[:5]}); name patients of the data (zero-padded identifiers)."
        )
    is_val = np.array([p in wanted for p in ids], dtype=bool)
    n_val = len(set(ids) & wanted)
    if n_val == 0 or n_val == len(set(ids)):
        side = "none" if n_val == 0 else "all"
        raise InvalidInputError(
            f"the {len(wanted)} validation patients given hold out {side} of the "
            f"{len(set(ids))} patients here; a split needs patients on both sides."
        )
    return np.flatnonzero(~is_val).astype(np.intp), np.flatnonzero(is_val).astype(np.intp)


def stratified_patient_split(
    patient_ids: Sequence[str],
    labels: Sequence[int],
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[IndexArray, IndexArray]:
    """Hold out a fraction of the patients of *each class* (a stratified grouped split).

    Patients are grouped (every item of a patient on one side) and stratified by their
    label: of the ``n_c`` patients of class ``c``, ``floor(val_fraction * n_c + 0.5)``
    go to validation, clipped so that each class with at least two patients has at
    least one patient on each side (a class of one patient stays in training). Within
    a class, patients are taken in a random order drawn from
    ``numpy.random.default_rng(seed)`` after sorting their identifiers, so the split
    depends on the seed and the set of patients only (not on item order), on any
    machine. This is scikit-learn's ``StratifiedGroupKFold`` idea for one held-out
    part, with exact per-class counts.

    Args:
        patient_ids: The patient of each item (one entry per chunk, series or patient).
        labels: The label of each item; every item of a patient must have the same one.
        val_fraction: Fraction of each class held out, in (0, 1).
        seed: Random seed.

    Returns:
        ``(train_indices, val_indices)``, each sorted, together covering every item once.

    Raises:
        ConfigurationError: ``val_fraction`` is not in (0, 1).
        InvalidInputError: The two sequences differ in length, or no class has two
            patients (nothing could be held out).
        LabelError: A patient has items with different labels.

    Example:
        >>> ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        >>> train, val = stratified_patient_split(ids, [0, 1] * 5, val_fraction=0.2)
        >>> sorted(int(v) % 2 for v in val)
        [0, 1]
    """
    check_range(
        "val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    by_patient = _patient_labels(patient_ids, labels)
    rng = np.random.default_rng(seed)
    held_out: set[str] = set()
    for value in sorted(set(by_patient.values())):
        members = sorted(p for p, v in by_patient.items() if v == value)
        n = len(members)
        if n < 2:
            continue
        count = min(max(math.floor(val_fraction * n + 0.5), 1), n - 1)
        order = rng.permutation(n)
        held_out.update(members[i] for i in order[:count].tolist())
    if not held_out:
        raise InvalidInputError(
            f"got {len(by_patient)} patient(s) and no class with at least 2 of them; a "
            "stratified split needs at least 2 patients of one class. Prepare more patients."
        )
    is_val = np.array([str(p) in held_out for p in patient_ids], dtype=bool)
    return np.flatnonzero(~is_val).astype(np.intp), np.flatnonzero(is_val).astype(np.intp)


def stratified_patient_folds(
    patient_ids: Sequence[str],
    labels: Sequence[int],
    *,
    n_folds: int = 5,
    seed: int = 0,
) -> IndexArray:
    """The fold of every item in ``n_folds`` patient-grouped, label-stratified folds.

    Every item of a patient lands in the same fold, and each fold holds about
    ``1 / n_folds`` of each class's patients: scikit-learn's ``StratifiedGroupKFold``
    (``shuffle=True``, ``random_state=seed``) over the patients, taken in sorted order, so
    the folds depend on the seed and the set of patients only (not on item order). Used
    for cross-validation (:func:`~radiogenomics.training.cross_validate_classification`):
    every patient is validated exactly once, by the fold it is in.

    Args:
        patient_ids: The patient of each item.
        labels: The label of each item; every item of a patient must have the same one.
        n_folds: Number of folds, at least 2.
        seed: Random seed of the shuffle.

    Returns:
        The fold (``0`` to ``n_folds - 1``) of each item, of dtype intp.

    Raises:
        ConfigurationError: ``n_folds`` is not a whole number of at least 2.
        InvalidInputError: The two sequences differ in length, there is one class only,
            or a class has fewer patients than folds (a fold would miss it, and its AUC
            would be undefined).
        LabelError: A patient has items with different labels.

    Shape:
        - output: (N,), one fold per item.

    Example:
        >>> ids = [f"{i:05d}" for i in range(8)]
        >>> folds = stratified_patient_folds(ids, [0, 1] * 4, n_folds=2)
        >>> sorted(folds.tolist())
        [0, 0, 0, 0, 1, 1, 1, 1]
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ConfigurationError(f"n_folds={n_folds!r} must be a whole number, at least 2.")
    by_patient = _patient_labels(patient_ids, labels)
    patients = sorted(by_patient)
    classes = np.array([by_patient[p] for p in patients])
    values, counts = np.unique(classes, return_counts=True)
    if values.size < 2:
        raise InvalidInputError(
            f"all {len(patients)} patient(s) have label {values.tolist()}; stratified folds "
            "need two classes."
        )
    if counts.min() < n_folds:
        smallest = int(values[np.argmin(counts)])
        raise InvalidInputError(
            f"class {smallest} has {int(counts.min())} patient(s), fewer than the {n_folds} "
            "folds, so some fold would have none of it (and no AUC); use fewer folds "
            f"(at most {int(counts.min())}) or more patients."
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of: dict[str, int] = {}
    for fold, (_, val) in enumerate(splitter.split(classes, classes, groups=patients)):
        fold_of.update((patients[i], fold) for i in val.tolist())
    return np.array([fold_of[str(p)] for p in patient_ids], dtype=np.intp)
