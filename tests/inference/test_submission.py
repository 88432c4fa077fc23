"""The Kaggle submission file: format, zero padding, uniqueness, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiogenomics.errors import InputNotFoundError, InvalidInputError, LabelError
from radiogenomics.inference.submission import read_submission, write_submission


def test_round_trip_with_zero_padding_and_sorting(tmp_path: Path) -> None:
    probabilities = {"109": 0.1 + 0.2, "00002": 0.5, "7": 1.0, "12345": 0.0}
    path = write_submission(probabilities, tmp_path / "submission.csv")
    lines = path.read_text().splitlines()
    assert lines == [
        "BraTS21ID,MGMT_value",
        "00002,0.5",
        "00007,1.0",
        "00109,0.30000000000000004",
        "12345,0.0",
    ]
    back = read_submission(path)
    assert back == {"00002": 0.5, "00007": 1.0, "00109": 0.1 + 0.2, "12345": 0.0}


def test_expected_patients_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_submission({"1": 0.5, "2": 0.5}, path, expected=["00001", "2"])
    with pytest.raises(LabelError, match=r"1 missing \['00003'\]"):
        write_submission({"1": 0.5, "2": 0.5}, path, expected=["1", "2", "3"])
    with pytest.raises(LabelError, match=r"1 unexpected \['00002'\]"):
        read_submission(path, expected=["1"])


def test_duplicates_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="exactly once"):
        write_submission({"12": 0.5, "00012": 0.4}, tmp_path / "s.csv")
    path = tmp_path / "dup.csv"
    path.write_text("BraTS21ID,MGMT_value\n00012,0.5\n12,0.4\n")
    with pytest.raises(LabelError, match="more than once"):
        read_submission(path)


@pytest.mark.parametrize(
    ("probabilities", "error"),
    [
        ({"abc": 0.5}, LabelError),
        ({"123456": 0.5}, LabelError),
        ({"1": 1.5}, InvalidInputError),
        ({"1": float("nan")}, InvalidInputError),
        ({}, InvalidInputError),
    ],
)
def test_bad_values_are_refused(
    tmp_path: Path, probabilities: dict[str, float], error: type[Exception]
) -> None:
    with pytest.raises(error):
        write_submission(probabilities, tmp_path / "s.csv")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_write_replaces_atomically_and_needs_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_submission({"1": 0.1}, path)
    write_submission({"2": 0.2}, path)
    assert read_submission(path) == {"00002": 0.2}
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]
    with pytest.raises(InputNotFoundError):
        write_submission({"1": 0.1}, tmp_path / "missing" / "s.csv")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("id,value\n00001,0.5\n", "header"),
        ("", "header"),
        ("BraTS21ID,MGMT_value\n00001,0.5,3\n", "line 2 has 3 fields"),
        ("BraTS21ID,MGMT_value\n00001,high\n", "not a probability"),
        ("BraTS21ID,MGMT_value\n1e3,0.5\n", "5 digits"),
    ],
)
def test_read_validates(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises((InvalidInputError, LabelError), match=match):
        read_submission(path)


def test_read_accepts_unpadded_ids_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\ufeffBraTS21ID,MGMT_value\n1,0.25\n\n")
    assert read_submission(path) == {"00001": 0.25}
    with pytest.raises(InputNotFoundError):
        read_submission(tmp_path / "none.csv")
