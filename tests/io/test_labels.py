"""Kaggle Task 2 labels, the known-bad series and the Task 1/Task 2 leakage guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import InputNotFoundError, LabelError
from radiogenomics.io import (
    KNOWN_BAD_SERIES,
    BratsCase,
    exclude_task2_overlap,
    is_known_bad,
    normalize_patient_id,
    read_labels,
    task2_patient_ids,
)


def write_csv(tmp_path: Path, text: str, name: str = "train_labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def brats_case(case_id: str) -> BratsCase:
    return BratsCase(
        case_id=case_id, folder=Path(case_id), images={}, label=None, convention="brats2021"
    )


# --- normalize_patient_id -----------------------------------------------------------


@given(number=st.integers(0, 99_999))
def test_normalize_pads_to_five_digits(number: int) -> None:
    expected = f"{number:05d}"
    assert normalize_patient_id(number) == expected
    assert normalize_patient_id(str(number)) == expected
    assert normalize_patient_id(expected) == expected


def test_normalize_strips_whitespace() -> None:
    assert normalize_patient_id(" 6 ") == "00006"


@pytest.mark.parametrize("raw", ["", "abc", "123456", "-1", "1.0", "6a", -6])
def test_normalize_rejects_non_identifiers(raw: str | int) -> None:
    with pytest.raises(LabelError, match="not a number of at most 5 digits") as info:
        normalize_patient_id(raw, path="labels.csv")
    assert "labels.csv" in str(info.value)


# --- read_labels --------------------------------------------------------------------


def test_read_labels_keeps_zero_padded_strings(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "BraTS21ID,MGMT_value\n6,1\n00012,0\n109,1\n")
    labels = read_labels(path)
    assert labels == {"00006": 1, "00012": 0, "00109": 1}
    assert list(labels) == ["00006", "00012", "00109"]  # file order


def test_read_labels_tolerates_bom_extra_columns_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes("\ufeffMGMT_value,BraTS21ID,site\n 1 , 00006 ,a\r\n0,7,b\r\n".encode())
    assert read_labels(path) == {"00006": 1, "00007": 0}


def test_read_labels_of_a_header_only_file(tmp_path: Path) -> None:
    assert read_labels(write_csv(tmp_path, "BraTS21ID,MGMT_value\n")) == {}


def test_read_labels_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist") as info:
        read_labels(tmp_path / "train_labels.csv")
    assert info.value.path == tmp_path / "train_labels.csv"


@pytest.mark.parametrize(
    "text",
    ["BraTS21ID,MGMT\n6,1\n", "ID,MGMT_value\n6,1\n", ""],
    ids=["no-value-column", "no-id-column", "empty-file"],
)
def test_read_labels_missing_column(tmp_path: Path, text: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(LabelError, match="expected columns BraTS21ID,MGMT_value") as info:
        read_labels(path)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("6,1\n,0\n", r"line 3: the BraTS21ID is empty"),
        ("6,1\n7,0\n00006,1\n", r"line 4: patient 00006 appears more than once"),
        ("6,1\nabc,0\n", r"line 3: patient identifier 'abc' is not a number"),
        ("6,1\n7,2\n", r"line 3: MGMT_value '2' for patient 00007 is not 0 or 1"),
        ("6,\n", r"line 2: MGMT_value '' for patient 00006 is not 0 or 1"),
        ("6,1.0\n", r"line 2: MGMT_value '1.0'"),
    ],
    ids=["empty-id", "duplicate-id", "non-numeric-id", "value-2", "empty-value", "float-value"],
)
def test_read_labels_errors_name_the_line(tmp_path: Path, rows: str, match: str) -> None:
    path = write_csv(tmp_path, "BraTS21ID,MGMT_value\n" + rows)
    with pytest.raises(LabelError, match=match) as info:
        read_labels(path)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"BraTS21ID,MGMT_value\n\xff\xfe6,1\n", "not UTF-8 text"),
        (b"BraTS21ID,MGMT_value\n6," + b"1" * 200_000 + b"\n", "not valid CSV"),
        ("BraTS21ID,MGMT_value\n\u0666,1\n".encode(), "not a number of at most 5 digits"),
    ],
    ids=["latin-1-bytes", "field-too-large", "arabic-digit"],
)
def test_read_labels_rejects_what_is_not_a_label_csv(
    tmp_path: Path, data: bytes, match: str
) -> None:
    path = tmp_path / "train_labels.csv"
    path.write_bytes(data)
    with pytest.raises(LabelError, match=match) as info:
        read_labels(path)
    assert info.value.path == path


@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_property_any_text_gives_labels_or_a_label_error(text: str) -> None:
    """Whatever follows the header, read_labels returns 0/1 labels or raises LabelError."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.csv"
        path.write_text("BraTS21ID,MGMT_value\n" + text, encoding="utf-8")
        try:
            labels = read_labels(path)
        except LabelError as error:
            assert error.path == path  # noqa: PT017
        else:
            assert all(len(k) == 5 and k.isascii() for k in labels)
            assert set(labels.values()) <= {0, 1}


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    # The csv reader skips blank lines; the message must still name the file's line.
    path = write_csv(tmp_path, "BraTS21ID,MGMT_value\n6,1\n\n\n7,x\n")
    with pytest.raises(LabelError, match=r"line 5: MGMT_value 'x'"):
        read_labels(path)


# --- task2_patient_ids / exclude_task2_overlap --------------------------------------


def test_task2_ids_from_a_label_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "BraTS21ID,MGMT_value\n6,1\n12,0\n")
    assert task2_patient_ids(path) == frozenset({"00006", "00012"})


def test_task2_ids_from_a_folder(tmp_path: Path) -> None:
    for name in ("00006", "00012", "extra", ".cache"):
        (tmp_path / name).mkdir()
    (tmp_path / "00013").write_text("a file, not a patient folder")
    assert task2_patient_ids(tmp_path) == frozenset({"00006", "00012"})


def test_task2_ids_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        task2_patient_ids(tmp_path / "missing.csv")


def test_exclude_task2_overlap_removes_the_same_patient() -> None:
    cases = [brats_case("BraTS2021_00006"), brats_case("BraTS2021_00007")]
    kept, removed = exclude_task2_overlap(cases, {"00006"})
    assert [c.case_id for c in kept] == ["BraTS2021_00007"]
    assert [c.case_id for c in removed] == ["BraTS2021_00006"]


def test_exclude_task2_overlap_normalises_ids_and_keeps_order() -> None:
    cases = [
        brats_case("BraTS-GLI-00008-000"),
        brats_case("BraTS2021_00006"),
        brats_case("Synth_case"),  # no patient number: never removed
        brats_case("BraTS2021_00009"),
    ]
    kept, removed = exclude_task2_overlap(cases, ["8", "00006", "12"])
    assert [c.case_id for c in removed] == ["BraTS-GLI-00008-000", "BraTS2021_00006"]
    assert [c.case_id for c in kept] == ["Synth_case", "BraTS2021_00009"]


def test_exclude_task2_overlap_with_nothing_to_exclude() -> None:
    cases = [brats_case("BraTS2021_00006")]
    assert exclude_task2_overlap(cases, ()) == (cases, [])
    assert exclude_task2_overlap([], {"00006"}) == ([], [])


# --- known-bad series ---------------------------------------------------------------


def test_known_bad_series() -> None:
    expected = {("00109", "FLAIR"), ("00123", "T1w"), ("00709", "FLAIR")}
    assert isinstance(KNOWN_BAD_SERIES, frozenset)
    assert set(KNOWN_BAD_SERIES) == expected


@pytest.mark.parametrize(
    ("patient", "mri_type", "bad"),
    [
        ("00109", "FLAIR", True),
        ("109", "FLAIR", True),
        ("00123", "T1w", True),
        ("709", "FLAIR", True),
        ("00109", "T1w", False),
        ("00123", "FLAIR", False),
        ("00006", "FLAIR", False),
    ],
)
def test_is_known_bad(patient: str, mri_type: str, bad: bool) -> None:
    assert is_known_bad(patient, mri_type) is bad


def test_is_known_bad_with_a_custom_list() -> None:
    assert not is_known_bad("00109", "FLAIR", exclude=())
    assert is_known_bad("6", "T2w", exclude={("00006", "T2w")})


def test_drop_known_bad_removes_the_hosts_series_by_default_and_reports_them() -> None:
    from radiogenomics.io import drop_known_bad

    listing = {
        "00109": {"FLAIR": Path("a/FLAIR"), "T1w": Path("a/T1w")},
        "00123": {"T1w": Path("b/T1w")},
        "00006": {"FLAIR": Path("c/FLAIR")},
    }
    kept, removed = drop_known_bad(listing)
    assert removed == [("00109", "FLAIR"), ("00123", "T1w")]
    assert kept == {
        "00109": {"T1w": Path("a/T1w")},
        "00123": {},
        "00006": {"FLAIR": Path("c/FLAIR")},
    }
    assert listing["00109"] == {"FLAIR": Path("a/FLAIR"), "T1w": Path("a/T1w")}, "input unchanged"
    assert drop_known_bad(listing, exclude=()) == (listing, [])
    assert drop_known_bad(listing, exclude=[("6", "FLAIR")])[1] == [("00006", "FLAIR")]
