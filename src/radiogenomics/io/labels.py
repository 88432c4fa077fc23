"""Kaggle Task 2 labels (``train_labels.csv``), known-bad series and the leakage guard."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from radiogenomics.errors import InputNotFoundError, LabelError

if TYPE_CHECKING:
    from radiogenomics.io.nifti import BratsCase

__all__ = [
    "KNOWN_BAD_SERIES",
    "drop_known_bad",
    "exclude_task2_overlap",
    "is_known_bad",
    "keyed_labels",
    "normalize_patient_id",
    "patient_key",
    "read_folds",
    "read_labels",
    "task2_patient_ids",
]

KNOWN_BAD_SERIES: frozenset[tuple[str, str]] = frozenset(
    {("00109", "FLAIR"), ("00123", "T1w"), ("00709", "FLAIR")}
)
"""``(patient_id, mri_type)`` series that the challenge host flagged as bad.

:func:`drop_known_bad` removes these series from a Task 2 listing by default and
returns the removed ones, so that commands can report them; pass ``exclude=()`` to keep
them.
"""


def normalize_patient_id(raw: str | int, *, path: str | Path | None = None) -> str:
    """Return a Task 2 patient identifier as a zero-padded 5-digit string.

    Args:
        raw: ``"6"``, ``"00006"`` or ``6``.
        path: Named in errors.

    Raises:
        LabelError: The identifier is not a non-negative whole number of at most 5 digits.

    Example:
        >>> normalize_patient_id("6")
        '00006'
    """
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{1,5}", text):  # ASCII digits only (not "٦")
        raise LabelError(
            f"patient identifier {raw!r} is not a number of at most 5 digits; Task 2 "
            "identifiers look like 00006.",
            path=path,
        )
    return text.zfill(5)


def patient_key(raw: str | int) -> str:
    """The one spelling of a patient identifier used everywhere in the library.

    Task 2 numbers are zero-padded to 5 digits, however they were written (a folder
    ``40``, a label ``40``, an integer ``40``: all ``"00040"``); any other identifier
    (``"BraTS2021_00006"``) is kept as given, without surrounding spaces. Folders,
    label files, :class:`~radiogenomics.data.ChunkDataset` and
    :class:`~radiogenomics.inference.PatientAggregator` all compare identifiers
    through it, so ``6`` and ``"00006"`` are one patient.

    Example:
        >>> patient_key(6), patient_key("0040"), patient_key("BraTS2021_00006")
        ('00006', '00040', 'BraTS2021_00006')
    """
    text = str(raw).strip()
    return text.zfill(5) if re.fullmatch(r"[0-9]{1,5}", text) else text


def keyed_labels(labels: Mapping[str, int] | Mapping[int, int]) -> dict[str, int]:
    """``labels`` keyed by :func:`patient_key` (``{6: 1}`` gives ``{"00006": 1}``).

    Raises:
        LabelError: Two keys name one patient with different labels.
    """
    keyed: dict[str, int] = {}
    for raw, value in labels.items():
        key = patient_key(raw)
        if key in keyed and keyed[key] != value:
            raise LabelError(
                f"patient {key} is given two labels ({keyed[key]} and {value}, as "
                f"{raw!r} and another spelling of the same number); keep one.",
                patient_id=key,
            )
        keyed[key] = value
    return keyed


def read_labels(path: str | Path) -> dict[str, int]:
    """Read ``train_labels.csv`` (``BraTS21ID,MGMT_value``) keeping IDs as strings.

    Identifiers stay zero-padded strings (``"00006"``): reading them as integers (as
    ``pandas.read_csv`` does by default) loses the padding that names the folders.

    Args:
        path: The CSV file.

    Returns:
        Patient identifier to MGMT value (0 or 1), in file order.

    Raises:
        InputNotFoundError: The file does not exist.
        LabelError: A missing column, a missing, duplicate or non-numeric identifier, or
            a value other than 0/1 (the message names the line); or the file is not
            UTF-8 CSV text.
    """
    return _read_patient_values(path, "MGMT_value", _label_value, what="label file")


def read_folds(path: str | Path) -> dict[str, int]:
    """Read a fold assignment: a CSV with the columns ``BraTS21ID`` and ``fold``.

    The seed's released ``train_stratifiedgroupkfold.csv`` is one; other columns (such
    as ``MGMT_value``) are ignored. Fold numbers are whole numbers, kept as written
    (0 to 4, or 1 to 5).

    Args:
        path: The CSV file.

    Returns:
        Patient identifier (zero-padded) to fold, in file order.

    Raises:
        InputNotFoundError: The file does not exist.
        LabelError: A missing column, a missing, duplicate or non-numeric identifier, or
            a fold that is not a whole number (the message names the line); or the file
            is not UTF-8 CSV text.
    """
    return _read_patient_values(path, "fold", _fold_value, what="fold file")


def _label_value(value: str, patient: str, line: int, path: Path) -> int:
    if value not in {"0", "1"}:
        raise LabelError(
            f"line {line}: MGMT_value {value!r} for patient {patient} is not 0 or 1.",
            path=path,
        )
    return int(value)


def _fold_value(value: str, patient: str, line: int, path: Path) -> int:
    if not re.fullmatch(r"-?[0-9]+", value):
        raise LabelError(
            f"line {line}: fold {value!r} for patient {patient} is not a whole number.",
            path=path,
        )
    return int(value)


def _read_patient_values(
    path: str | Path,
    column: str,
    parse: Callable[[str, str, int, Path], int],
    *,
    what: str,
) -> dict[str, int]:
    """``BraTS21ID -> parse(column)`` of a CSV file, refusing what is not readable."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"the {what} does not exist.", path=path)
    try:
        return _parse_patient_values(path, column, parse)
    except UnicodeDecodeError as error:
        raise LabelError(
            f"the {what} is not UTF-8 text (byte {error.start}: {error.reason}); save it "
            "as UTF-8 CSV.",
            path=path,
        ) from None
    except csv.Error as error:
        raise LabelError(f"the {what} is not valid CSV ({error}).", path=path) from None


def _parse_patient_values(
    path: Path, column: str, parse: Callable[[str, str, int, Path], int]
) -> dict[str, int]:
    values: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "BraTS21ID" not in fields or column not in fields:
            raise LabelError(
                f"expected columns BraTS21ID,{column}; got {fields}.",
                path=path,
            )
        for row in reader:
            line = reader.line_num  # the file's line (blank lines are skipped, not counted)
            raw_id = (row.get("BraTS21ID") or "").strip()
            if not raw_id:
                raise LabelError(f"line {line}: the BraTS21ID is empty.", path=path)
            try:
                patient = normalize_patient_id(raw_id)
            except LabelError as error:
                raise LabelError(f"line {line}: {error.message}", path=path) from None
            if patient in values:
                raise LabelError(
                    f"line {line}: patient {patient} appears more than once; keep one row "
                    "per patient.",
                    path=path,
                )
            values[patient] = parse((row.get(column) or "").strip(), patient, line, path)
    return values


def task2_patient_ids(source: str | Path) -> frozenset[str]:
    """The Task 2 patient identifiers named by a label file or held by a folder.

    Args:
        source: ``train_labels.csv`` (or any CSV with a ``BraTS21ID`` column), or a
            folder whose sub-folders are named by 5-digit identifiers.

    Raises:
        InputNotFoundError: ``source`` does not exist.
        LabelError: The CSV is malformed.
    """
    source = Path(source)
    if source.is_dir():
        return frozenset(p.name for p in source.iterdir() if p.is_dir() and p.name.isdigit())
    return frozenset(read_labels(source))


def exclude_task2_overlap(
    cases: Iterable[BratsCase], task2_ids: Collection[str]
) -> tuple[list[BratsCase], list[BratsCase]]:
    """The leakage guard: split Task 1 cases into those kept and those also in Task 2.

    Task 1 case ``BraTS2021_00006`` is Task 2 patient ``00006``: training the
    segmentation model on it and then classifying the same patient leaks information.

    Args:
        cases: Task 1 cases.
        task2_ids: Zero-padded Task 2 identifiers (see :func:`task2_patient_ids`).

    Returns:
        ``(kept, removed)``, each in input order.
    """
    ids = {normalize_patient_id(i) for i in task2_ids}
    kept: list[BratsCase] = []
    removed: list[BratsCase] = []
    for case in cases:
        (removed if case.patient_number in ids else kept).append(case)
    return kept, removed


def is_known_bad(
    patient_id: str, mri_type: str, exclude: Collection[tuple[str, str]] = KNOWN_BAD_SERIES
) -> bool:
    """Whether a series is in the exclusion list (by default :data:`KNOWN_BAD_SERIES`)."""
    return (normalize_patient_id(patient_id), mri_type) in exclude


def drop_known_bad(
    patients: Mapping[str, Mapping[str, Path]],
    *,
    exclude: Collection[tuple[str, str]] = KNOWN_BAD_SERIES,
) -> tuple[dict[str, dict[str, Path]], list[tuple[str, str]]]:
    """Remove excluded series from a Task 2 listing, and say which were removed.

    Args:
        patients: Patient id to {MRI type: series folder}, as
            :func:`~radiogenomics.io.find_task2_patients` returns.
        exclude: ``(patient_id, mri_type)`` pairs to drop; :data:`KNOWN_BAD_SERIES` by
            default, ``()`` to keep everything.

    Returns:
        ``(kept, removed)``: the listing without the excluded series (a patient keeps its
        other series), and the removed pairs, sorted, for the caller to report.

    Example:
        >>> from pathlib import Path
        >>> kept, removed = drop_known_bad({"00109": {"FLAIR": Path("a"), "T2w": Path("b")}})
        >>> sorted(kept["00109"]), removed
        (['T2w'], [('00109', 'FLAIR')])
    """
    excluded = {(normalize_patient_id(p), m) for p, m in exclude}
    kept: dict[str, dict[str, Path]] = {}
    removed: list[tuple[str, str]] = []
    for patient, series in patients.items():
        kept[patient] = {}
        for mri_type, folder in series.items():
            if (normalize_patient_id(patient), mri_type) in excluded:
                removed.append((patient, mri_type))
            else:
                kept[patient][mri_type] = folder
    return kept, sorted(removed)
