"""The Kaggle submission file: ``BraTS21ID,MGMT_value``, one row per patient.

Written rows are sorted by patient, each patient exactly once, with the identifier
zero-padded to 5 digits (``00012``) and the probability written in full precision
(``repr`` of the float), so that :func:`read_submission` gives back the same values.
The file is written to a temporary name and renamed into place: a crash never leaves a
half-written submission.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Mapping
from pathlib import Path

from radiogenomics._atomic import atomic_target
from radiogenomics.errors import InputNotFoundError, InvalidInputError, LabelError
from radiogenomics.io.labels import normalize_patient_id

__all__ = ["SUBMISSION_HEADER", "read_submission", "write_submission"]

SUBMISSION_HEADER: tuple[str, str] = ("BraTS21ID", "MGMT_value")
"""The two columns of a submission."""


def _probability(value: object, patient_id: str, path: Path) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise InvalidInputError(
            f"MGMT_value {value!r} is not a probability in [0, 1].",
            patient_id=patient_id,
            path=path,
        )
    return number


def _check_expected(found: Collection[str], expected: Collection[str] | None, path: Path) -> None:
    if expected is None:
        return
    wanted = {normalize_patient_id(p, path=path) for p in expected}
    missing, extra = sorted(wanted - set(found)), sorted(set(found) - wanted)
    if missing or extra:
        raise LabelError(
            f"the submission's patients differ from those expected: {len(missing)} missing "
            f"{missing[:5]}, {len(extra)} unexpected {extra[:5]}. Every test patient needs "
            "exactly one row (PatientAggregator gives a fallback to patients without chunks).",
            path=path,
        )


def write_submission(
    probabilities: Mapping[str, float],
    path: str | Path,
    *,
    expected: Collection[str] | None = None,
) -> Path:
    """Write a Kaggle submission, one row per patient, sorted by identifier.

    Args:
        probabilities: ``patient_id -> P(MGMT methylated)``; identifiers like ``"12"`` or
            ``"00012"`` (written as ``00012``).
        path: The CSV file to write (its folder must exist; an existing file is replaced).
        expected: When given, the patients that must appear, no more and no fewer.

    Returns:
        The path written.

    Raises:
        LabelError: An identifier is not a number of at most 5 digits, two identifiers
            name the same patient (``"12"`` and ``"00012"``), or the patients differ
            from ``expected``.
        InvalidInputError: A value is not a probability in [0, 1], or there is no patient.
        InputNotFoundError: The folder of ``path`` does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "submission.csv"
        >>> _ = write_submission({"12": 0.25, "3": 0.5}, out)
        >>> print(out.read_text(), end="")
        BraTS21ID,MGMT_value
        00003,0.5
        00012,0.25
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputNotFoundError(
            "the submission's folder does not exist; create it first.", path=path.parent
        )
    rows: dict[str, float] = {}
    for raw, value in probabilities.items():
        patient_id = normalize_patient_id(raw, path=path)
        if patient_id in rows:
            raise LabelError(
                f"identifiers {raw!r} and another key both name patient {patient_id}; give "
                "each patient exactly once.",
                patient_id=patient_id,
                path=path,
            )
        rows[patient_id] = _probability(value, patient_id, path)
    if not rows:
        raise InvalidInputError("no patient to write; a submission needs at least one row.")
    _check_expected(rows, expected, path)
    with (
        atomic_target(path) as temporary,
        temporary.open("w", newline="", encoding="utf-8") as stream,
    ):
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(SUBMISSION_HEADER)
        for patient_id in sorted(rows):
            writer.writerow((patient_id, repr(rows[patient_id])))
    return path


def read_submission(
    path: str | Path, *, expected: Collection[str] | None = None
) -> dict[str, float]:
    """Read and validate a submission file.

    Identifiers are read as zero-padded strings (``12`` and ``00012`` both give
    ``"00012"``).

    Args:
        path: The CSV file.
        expected: When given, the patients that must appear, no more and no fewer.

    Returns:
        ``patient_id -> probability``, in file order.

    Raises:
        InputNotFoundError: The file does not exist.
        InvalidInputError: The header is not ``BraTS21ID,MGMT_value``, a row does not have
            two fields, or a value is not a probability in [0, 1].
        LabelError: An identifier is invalid or repeated, or the patients differ from
            ``expected``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("submission file not found.", path=path)
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != SUBMISSION_HEADER:
            raise InvalidInputError(
                f"header {header!r} is not {','.join(SUBMISSION_HEADER)!r}.", path=path
            )
        rows: dict[str, float] = {}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise InvalidInputError(
                    f"line {line} has {len(row)} fields {row!r}; expected 2.", path=path
                )
            patient_id = normalize_patient_id(row[0], path=path)
            if patient_id in rows:
                raise LabelError(
                    f"line {line}: patient {patient_id} appears more than once.",
                    patient_id=patient_id,
                    path=path,
                )
            rows[patient_id] = _probability(row[1].strip(), patient_id, path)
    _check_expected(rows, expected, path)
    return rows
