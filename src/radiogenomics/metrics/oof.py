"""Out-of-fold predictions: the ``oof.csv`` table, its summary, and paired comparisons.

A cross-validation (:func:`~radiogenomics.training.cross_validate_classification`)
predicts every patient once, with the model of the fold that held the patient out. Its
``oof.csv`` has one row per patient and *group*, with the columns :data:`OOF_FIELDS`:

* ``BraTS21ID``: the patient, zero-padded;
* ``fold``: the fold that validated the patient (a whole number);
* ``mri_type``: the group: an MRI type (the probability of that type's model, the mean
  of the series' chunk probabilities), or ``combined`` (:data:`COMBINED`: the patient's
  probability as ``predict`` combines the types, their mean, with the fallback for a
  patient with no frame at all);
* ``probability``: the out-of-fold probability, in [0, 1];
* ``MGMT_value``: the patient's label, 0 or 1.

:func:`summarize_oof` gives, per group, the pooled out-of-fold AUC with its bootstrap
interval and permutation p-value (:func:`~radiogenomics.metrics.auc.auc_report`) and the
AUC of each fold; :func:`compare_oof` compares two cross-validations of the same patients
on the same folds (:func:`~radiogenomics.metrics.auc.compare_auc`), and refuses any
other pair. Importing this module does not import torch.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radiogenomics._atomic import atomic_target
from radiogenomics.errors import CorruptFileError, InputNotFoundError, InvalidInputError
from radiogenomics.io.labels import normalize_patient_id
from radiogenomics.metrics.auc import AucComparison, AucReport, auc_report, compare_auc

__all__ = [
    "COMBINED",
    "OOF_FIELDS",
    "GroupSummary",
    "OofComparison",
    "OofRow",
    "OofSummary",
    "compare_oof",
    "oof_groups",
    "read_oof",
    "summarize_oof",
    "write_oof",
]

COMBINED = "combined"
"""The ``mri_type`` of the rows that hold a patient's probability combined over MRI types."""

OOF_FIELDS: tuple[str, ...] = ("BraTS21ID", "fold", "mri_type", "probability", "MGMT_value")
"""The columns of ``oof.csv``."""


@dataclass(frozen=True)
class OofRow:
    """One out-of-fold prediction.

    Attributes:
        patient_id: The patient, zero-padded (``"00006"``).
        fold: The fold that validated the patient.
        mri_type: An MRI type, or :data:`COMBINED`.
        probability: The out-of-fold probability.
        label: The patient's label (0 or 1).
    """

    patient_id: str
    fold: int
    mri_type: str
    probability: float
    label: int


def oof_groups(rows: Iterable[OofRow]) -> dict[str, list[OofRow]]:
    """Out-of-fold rows by group, in the order the summaries and tables use.

    Groups: the MRI types in order of first appearance, then :data:`COMBINED`; rows of a
    group sorted by patient. The bootstrap resamples rows by position, so scoring the
    rows of a group in this order reproduces the intervals of :func:`summarize_oof`.

    Args:
        rows: Out-of-fold predictions.

    Returns:
        ``group -> rows``.
    """
    grouped: dict[str, list[OofRow]] = {}
    for row in rows:
        grouped.setdefault(row.mri_type, []).append(row)
    order = sorted(grouped, key=lambda g: g == COMBINED)  # stable: keeps the types' order
    return {g: sorted(grouped[g], key=lambda r: r.patient_id) for g in order}


def _check_rows(rows: Sequence[OofRow], path: Path | None) -> None:
    """Refuse a table where a patient appears twice in a group, or with two folds or labels."""
    seen: set[tuple[str, str]] = set()
    fold_of: dict[str, int] = {}
    label_of: dict[str, int] = {}
    for row in rows:
        key = (row.patient_id, row.mri_type)
        if key in seen:
            raise CorruptFileError(
                f"patient {row.patient_id} has two {row.mri_type} rows; keep one per group.",
                path=path,
                patient_id=row.patient_id,
            )
        seen.add(key)
        for what, value, known in (("fold", row.fold, fold_of), ("label", row.label, label_of)):
            if known.setdefault(row.patient_id, value) != value:
                raise CorruptFileError(
                    f"patient {row.patient_id} has {what} {known[row.patient_id]} in one row "
                    f"and {value} in another; a patient has one {what}.",
                    path=path,
                    patient_id=row.patient_id,
                )


def write_oof(rows: Iterable[OofRow], path: str | Path) -> Path:
    """Write out-of-fold predictions as ``oof.csv`` (atomically).

    Rows are written group by group (MRI types, then :data:`COMBINED`), patients sorted,
    probabilities in full precision (``repr`` of the float).

    Args:
        rows: The predictions.
        path: The CSV file to write.

    Returns:
        ``path``.

    Raises:
        CorruptFileError: A patient appears twice in a group, or with two folds or labels.
        StorageError: The file cannot be written.
    """
    target = Path(path)
    ordered = [r for group in oof_groups(rows).values() for r in group]
    _check_rows(ordered, None)
    with (
        atomic_target(target, suffix=".tmp") as temporary,
        temporary.open("w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(OOF_FIELDS)
        writer.writerows(
            [r.patient_id, r.fold, r.mri_type, repr(float(r.probability)), r.label] for r in ordered
        )
    return target


def read_oof(path: str | Path) -> tuple[OofRow, ...]:
    """Read an ``oof.csv`` (or the one in a cross-validation folder).

    Args:
        path: The CSV file, or a folder written by ``cross-validate-classification``.

    Returns:
        The rows, in file order.

    Raises:
        InputNotFoundError: No such file.
        CorruptFileError: A missing column, an unreadable value (the message names the
            line), a probability outside [0, 1], a label other than 0/1, or a patient
            twice in a group or with two folds or labels.
    """
    source = Path(path)
    if source.is_dir():
        source = source / "oof.csv"
    if not source.is_file():
        raise InputNotFoundError(
            "no out-of-fold predictions here; pass the oof.csv (or the folder) written by "
            "cross-validate-classification.",
            path=source,
        )
    rows: list[OofRow] = []
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in OOF_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise CorruptFileError(
                f"missing columns {missing}; got {reader.fieldnames}. Expected "
                f"{','.join(OOF_FIELDS)}, as cross-validate-classification writes.",
                path=source,
            )
        for record in reader:
            try:
                row = OofRow(
                    patient_id=normalize_patient_id(record["BraTS21ID"], path=source),
                    fold=int(record["fold"]),
                    mri_type=record["mri_type"].strip(),
                    probability=float(record["probability"]),
                    label=int(record["MGMT_value"]),
                )
            except (ValueError, TypeError, AttributeError) as error:
                raise CorruptFileError(
                    f"line {reader.line_num}: unreadable row {record} ({error}).", path=source
                ) from None
            if not (math.isfinite(row.probability) and 0.0 <= row.probability <= 1.0):
                raise CorruptFileError(
                    f"line {reader.line_num}: probability {row.probability!r} is not in [0, 1].",
                    path=source,
                    patient_id=row.patient_id,
                )
            if row.label not in (0, 1) or not row.mri_type:
                raise CorruptFileError(
                    f"line {reader.line_num}: MGMT_value {row.label!r} is not 0 or 1, or the "
                    "mri_type is empty.",
                    path=source,
                    patient_id=row.patient_id,
                )
            rows.append(row)
    _check_rows(rows, source)
    return tuple(rows)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _fold_auc(rows: Sequence[OofRow]) -> float:
    """The AUC of one fold's rows (NaN when they hold one class only)."""
    from sklearn.metrics import roc_auc_score

    labels = [r.label for r in rows]
    if len(set(labels)) < 2:
        return math.nan
    return float(roc_auc_score(labels, [r.probability for r in rows]))


@dataclass(frozen=True)
class GroupSummary:
    """The out-of-fold AUCs of one group (an MRI type, or :data:`COMBINED`).

    Attributes:
        mri_type: The group.
        report: The pooled out-of-fold AUC, its interval and p-value; ``None`` when the
            group's patients all have one label.
        fold_aucs: The AUC of each fold's patients (NaN for a fold with one class).
    """

    mri_type: str
    report: AucReport | None
    fold_aucs: Mapping[int, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        report = self.report
        pooled = {} if report is None else {k: _number(v) for k, v in report._asdict().items()}
        return {
            "mri_type": self.mri_type,
            **pooled,
            "fold_auc": {str(k): _number(v) for k, v in self.fold_aucs.items()},
        }


@dataclass(frozen=True)
class OofSummary:
    """Per group: the pooled out-of-fold AUC with its interval and p-value, per-fold AUCs.

    Attributes:
        groups: One summary per group (MRI types, then :data:`COMBINED`).
        folds: The folds, sorted.
        n_boot: Bootstrap resamples of the intervals.
        n_permutations: Permutations of the tests against chance.
        alpha: One minus the confidence level.
        seed: Seed of the resampling and the permutations.
    """

    groups: tuple[GroupSummary, ...]
    folds: tuple[int, ...]
    n_boot: int
    n_permutations: int
    alpha: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``summary.json`` holds under ``"auc"``)."""
        return {
            "folds": list(self.folds),
            "n_boot": self.n_boot,
            "n_permutations": self.n_permutations,
            "alpha": self.alpha,
            "seed": self.seed,
            "groups": [g.to_dict() for g in self.groups],
        }

    def table(self) -> str:
        """The summary as a plain-text table, one line per group."""
        level = f"{100 * (1 - self.alpha):g}%"
        head = f"{'group':<9} {'patients (1)':>12} {'AUC':>6} {level + ' CI':>13} {'p':>7}"
        head += "".join(f" {'fold ' + str(f):>7}" for f in self.folds)
        lines = [
            f"out-of-fold ROC AUC over {len(self.folds)} folds; CI: percentile bootstrap "
            f"({self.n_boot} patient resamples); p: permutation test against chance "
            f"({self.n_permutations} permutations, one-sided)",
            head,
        ]
        for group in self.groups:
            folds = "".join(f" {_cell(group.fold_aucs.get(f, math.nan)):>7}" for f in self.folds)
            report = group.report
            if report is None:
                lines.append(f"{group.mri_type:<9} {'one class only':>12}{folds}")
                continue
            counts = f"{report.n} ({report.n_positive})"
            interval = f"{_cell(report.low)}-{_cell(report.high)}"
            lines.append(
                f"{group.mri_type:<9} {counts:>12} {report.auc:>6.3f} {interval:>13} "
                f"{_p_cell(report.p_value):>7}{folds}"
            )
        return "\n".join(lines)


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _p_cell(value: float) -> str:
    return f"{value:.4f}" if value >= 1e-4 else f"{value:.0e}"


def summarize_oof(
    rows: Iterable[OofRow],
    *,
    n_boot: int = 2000,
    n_permutations: int = 9999,
    alpha: float = 0.05,
    seed: int = 0,
) -> OofSummary:
    """The pooled and per-fold out-of-fold AUCs of every group.

    The pooled AUC ranks every patient's out-of-fold probability together, although
    each fold's model made its own (folds whose models put their probabilities on
    different scales pull it down); the per-fold AUCs, each on a fifth of the patients
    or so, show how much the folds differ. The interval and the p-value are the pooled
    AUC's.

    Args:
        rows: Out-of-fold predictions (:func:`read_oof`).
        n_boot: Bootstrap resamples of each interval.
        n_permutations: Permutations of each test against chance.
        alpha: One minus the confidence level (0.05: 95 % intervals).
        seed: Seed of the resampling and the permutations (the same for every group).

    Returns:
        The summary.

    Raises:
        InvalidInputError: No rows.
        ConfigurationError: An option is out of range.
    """
    grouped = oof_groups(rows)
    if not grouped:
        raise InvalidInputError("no out-of-fold predictions to summarise.")
    folds = tuple(sorted({r.fold for group in grouped.values() for r in group}))
    summaries = []
    for name, group in grouped.items():
        labels = [r.label for r in group]
        report = None
        if len(set(labels)) == 2:
            report = auc_report(
                labels,
                [r.probability for r in group],
                n_boot=n_boot,
                n_permutations=n_permutations,
                alpha=alpha,
                seed=seed,
            )
        fold_aucs = {f: _fold_auc([r for r in group if r.fold == f]) for f in folds}
        summaries.append(GroupSummary(mri_type=name, report=report, fold_aucs=fold_aucs))
    return OofSummary(
        groups=tuple(summaries),
        folds=folds,
        n_boot=n_boot,
        n_permutations=n_permutations,
        alpha=alpha,
        seed=seed,
    )


@dataclass(frozen=True)
class OofComparison:
    """Two cross-validations of the same patients on the same folds, compared per group.

    Attributes:
        groups: ``(group, comparison)`` for every group both hold (MRI types, then
            :data:`COMBINED`); ``comparison`` is ``None`` when its patients have one label.
        only_in_a: Groups only the first holds (not compared).
        only_in_b: Groups only the second holds.
        n_boot: Paired bootstrap resamples.
        alpha: One minus the confidence level.
        seed: Seed of the resampling.
    """

    groups: tuple[tuple[str, AucComparison | None], ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    n_boot: int
    alpha: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        return {
            "n_boot": self.n_boot,
            "alpha": self.alpha,
            "seed": self.seed,
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
            "groups": [
                {"mri_type": name}
                | ({} if c is None else {k: _number(v) for k, v in c._asdict().items()})
                for name, c in self.groups
            ],
        }

    def table(self) -> str:
        """The comparison as a plain-text table, one line per group."""
        level = f"{100 * (1 - self.alpha):g}%"
        lines = [
            "paired comparison on the same patients and folds (A - B); CI: paired "
            f"percentile bootstrap ({self.n_boot} patient resamples); p: DeLong's test "
            "(two-sided)",
            f"{'group':<9} {'patients (1)':>12} {'AUC A':>6} {'AUC B':>6} {'ΔAUC':>7} "
            f"{level + ' CI':>15} {'p':>7}",
        ]
        for name, c in self.groups:
            if c is None:
                lines.append(f"{name:<9} {'one class only':>12}")
                continue
            counts = f"{c.n} ({c.n_positive})"
            interval = "-" if math.isnan(c.low) else f"{c.low:+.3f} to {c.high:+.3f}"
            lines.append(
                f"{name:<9} {counts:>12} {c.auc_a:>6.3f} {c.auc_b:>6.3f} {c.delta:>+7.3f} "
                f"{interval:>15} {_p_cell(c.p_value):>7}"
            )
        for which, names in (("A", self.only_in_a), ("B", self.only_in_b)):
            if names:
                lines.append(f"not compared (only in {which}): {', '.join(names)}")
        return "\n".join(lines)


def _same_patients(name: str, a: Sequence[OofRow], b: Sequence[OofRow]) -> None:
    """Refuse a group whose patients, folds or labels differ between two tables."""
    only_a = sorted({r.patient_id for r in a} - {r.patient_id for r in b})
    only_b = sorted({r.patient_id for r in b} - {r.patient_id for r in a})
    fix = (
        "A paired comparison needs the same patients in the same folds: cross-validate both "
        "settings on the same frame store with the same --fold-seed (or --folds-csv)."
    )
    if only_a or only_b:
        raise InvalidInputError(
            f"the two cross-validations hold different {name} patients: {len(only_a)} only "
            f"in A (first: {only_a[:5]}), {len(only_b)} only in B (first: {only_b[:5]}). {fix}"
        )
    for x, y in zip(a, b, strict=True):
        for what, u, v in (("fold", x.fold, y.fold), ("label", x.label, y.label)):
            if u != v:
                raise InvalidInputError(
                    f"patient {x.patient_id} is in {what} {u} in A and {what} {v} in B. {fix}",
                    patient_id=x.patient_id,
                )


def compare_oof(
    rows_a: Iterable[OofRow],
    rows_b: Iterable[OofRow],
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> OofComparison:
    """Compare two cross-validations of the same patients on the same folds, group by group.

    For every group both hold: ``AUC(A) - AUC(B)`` with a paired bootstrap interval and
    DeLong's p-value (:func:`~radiogenomics.metrics.auc.compare_auc`). Groups only one
    holds are listed, not compared.

    Args:
        rows_a: The first cross-validation's out-of-fold predictions.
        rows_b: The second's.
        n_boot: Paired bootstrap resamples.
        alpha: One minus the confidence level.
        seed: Seed of the resampling (the same for every group).

    Returns:
        The comparison.

    Raises:
        InvalidInputError: A shared group's patients differ, a patient is in another
            fold or has another label, or the two share no group.
        ConfigurationError: An option is out of range.
    """
    groups_a, groups_b = oof_groups(rows_a), oof_groups(rows_b)
    shared = [g for g in groups_a if g in groups_b]
    if not shared:
        raise InvalidInputError(
            f"the two cross-validations share no group (A: {list(groups_a)}, B: "
            f"{list(groups_b)}); cross-validate the same MRI types."
        )
    compared: list[tuple[str, AucComparison | None]] = []
    for name in shared:
        a, b = groups_a[name], groups_b[name]
        _same_patients(name, a, b)
        labels = np.array([r.label for r in a])
        comparison = None
        if np.unique(labels).size == 2:
            comparison = compare_auc(
                labels,
                [r.probability for r in a],
                [r.probability for r in b],
                n_boot=n_boot,
                alpha=alpha,
                seed=seed,
            )
        compared.append((name, comparison))
    return OofComparison(
        groups=tuple(compared),
        only_in_a=tuple(g for g in groups_a if g not in groups_b),
        only_in_b=tuple(g for g in groups_b if g not in groups_a),
        n_boot=n_boot,
        alpha=alpha,
        seed=seed,
    )
