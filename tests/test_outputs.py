"""Outputs never overwrite or delete inputs, nor folders the library did not write.

Each scenario here lost data before output folders were marked and checked: ``--out``
equal to the input replaced every case folder, ``--overwrite`` deleted whatever
``--out`` named, and ``segment``/``dicom-to-nifti`` wrote over or into their input.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics._outputs import (
    MARKER_NAME,
    check_apart,
    check_replaceable,
    claim_folder,
    folder_kind,
)
from radiogenomics.cli import main
from radiogenomics.errors import ConfigurationError, CorruptFileError, StorageError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def task1(synthetic_cohort: Path, tmp_path: Path) -> Path:
    """A writable copy of the synthetic Task 1 cohort (the tests try to damage it)."""
    return Path(shutil.copytree(synthetic_cohort, tmp_path / "task1"))


@pytest.fixture(scope="module")
def task2_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from radiogenomics.testing.synthetic_dicom import write_task2_cohort

    return write_task2_cohort(
        tmp_path_factory.mktemp("task2"), n_patients=2, seed=1, size=24, n_slices=6
    )


@pytest.fixture
def task2(task2_source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(task2_source, tmp_path / "task2"))


# -- the pure checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "problem"),
    [("in", "is"), ("in/sub/out", "lies inside"), (".", "contains"), ("in-link", "is")],
)
def test_check_apart_refuses_overlap(tmp_path: Path, out: str, problem: str) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in-link").symlink_to(tmp_path / "in")
    with pytest.raises(ConfigurationError, match=f"{problem} the input --data"):
        check_apart(tmp_path / out, [("--data", tmp_path / "in")])


def test_check_apart_accepts_siblings_and_prefix_names(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    check_apart(tmp_path / "in-out", [("--data", tmp_path / "in"), ("--labels", None)])
    check_apart(tmp_path / "out", [("--data", tmp_path / "in")])


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4))
def test_check_apart_refuses_every_ancestor_and_descendant(parts: list[str]) -> None:
    root = Path("/never/created")
    source = root.joinpath(*parts)
    for k in range(len(parts) + 1):
        with pytest.raises(ConfigurationError):
            check_apart(root.joinpath(*parts[:k]), [("input", source)])
    with pytest.raises(ConfigurationError):
        check_apart(source / "x", [("input", source)])


def test_claim_folder_creates_and_marks(tmp_path: Path) -> None:
    out = claim_folder(tmp_path / "new", kind="prepared-slices")
    assert folder_kind(out) == "prepared-slices"
    assert json.loads((out / MARKER_NAME).read_text())["kind"] == "prepared-slices"
    claim_folder(out, kind="prepared-slices")  # ours: accepted again
    with pytest.raises(ConfigurationError, match="not a frame-store"):
        claim_folder(out, kind="frame-store")


def test_claim_folder_refuses_foreign_folders_and_never_deletes_them(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8 precious")
    before = _tree(foreign)
    for overwrite in (False, True):
        with pytest.raises(ConfigurationError, match="did not write") as info:
            claim_folder(foreign, kind="frame-store", overwrite=overwrite)
        assert "holiday.jpg" in str(info.value)
    assert _tree(foreign) == before
    assert not (foreign / MARKER_NAME).exists()


def test_claim_folder_overwrite_deletes_only_its_own_folder(tmp_path: Path) -> None:
    out = claim_folder(tmp_path / "out", kind="frame-store")
    (out / "00001").mkdir()
    claim_folder(out, kind="frame-store", overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME]


def test_claim_folder_refuses_a_file_and_a_damaged_marker(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="is a file"):
        claim_folder(tmp_path / "file", kind="frame-store")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MARKER_NAME).write_text("{not json")
    with pytest.raises(CorruptFileError):
        claim_folder(tmp_path / "bad", kind="frame-store", overwrite=True)
    assert (tmp_path / "bad" / MARKER_NAME).exists()


def test_claim_folder_adopts_a_folder_written_before_markers(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "prepare-config.json").write_text("{}")
    claim_folder(old, kind="prepared-slices", adopt=lambda f: True)
    assert folder_kind(old) == "prepared-slices"
    assert (old / "prepare-config.json").exists()


def test_check_replaceable(tmp_path: Path) -> None:
    check_replaceable(tmp_path / "absent", "slices.csv")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "slices.csv").write_text("")
    check_replaceable(tmp_path / "ours", "slices.csv")
    (tmp_path / "theirs").mkdir()
    with pytest.raises(ConfigurationError, match="not written by radiogenomics"):
        check_replaceable(tmp_path / "theirs", "slices.csv")


# -- stage 1 preparation -----------------------------------------------------------------


def _prepare1(task1: Path, out: Path, *extra: str) -> int:
    args = ["prepare-segmentation", "--task1-dir", str(task1), "--out", str(out)]
    return main([*args, "--size", "32", "--planes", "axial", "--no-progress", *extra])


@pytest.mark.parametrize("where", ["same", "inside", "parent", "case"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_prepare_segmentation_refuses_out_overlapping_the_input(
    task1: Path, where: str, overwrite: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    out = {
        "same": task1,
        "inside": task1 / "prepared",
        "parent": task1.parent,
        "case": task1 / "BraTS2021_00001",
    }[where]
    before = _tree(task1.parent)
    assert _prepare1(task1, out, *(["--overwrite"] if overwrite else [])) == 2
    assert "input" in capsys.readouterr().err
    assert _tree(task1.parent) == before  # nothing deleted, nothing written


@pytest.mark.parametrize("overwrite", [False, True])
def test_prepare_segmentation_never_writes_into_or_deletes_a_foreign_folder(
    task1: Path, tmp_path: Path, overwrite: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("chapter 1")
    before = _tree(foreign)
    assert _prepare1(task1, foreign, *(["--overwrite"] if overwrite else [])) == 2
    assert "did not write" in capsys.readouterr().err
    assert _tree(foreign) == before


def test_prepare_segmentation_overwrite_rebuilds_its_own_folder(
    task1: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prepared"
    assert _prepare1(task1, out) == 0
    first = _tree(out)
    assert _prepare1(task1, out, "--overwrite") == 0
    assert _tree(out) == first


def test_prepare_segmentation_keeps_a_foreign_case_folder(task1: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    assert _prepare1(task1, out) == 0
    case = out / "BraTS2021_00002"
    shutil.rmtree(case)
    case.mkdir()
    (case / "mine.txt").write_text("do not touch")
    assert _prepare1(task1, out) == 1  # that case fails; the others are kept
    assert (case / "mine.txt").read_text() == "do not touch"
    failures = (out / "failures.csv").read_text()
    assert "BraTS2021_00002" in failures
    assert "not written by radiogenomics" in failures


def test_prepare_segmentation_resumes_a_folder_written_before_markers(
    task1: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prepared"
    assert _prepare1(task1, out) == 0
    first = _tree(out)
    (out / MARKER_NAME).unlink()  # as an older version left it
    assert _prepare1(task1, out) == 0
    assert _tree(out) == first


# -- stage 2 preparation -----------------------------------------------------------------


def _first_patient(task2: Path) -> Path:
    return min((task2 / "train").iterdir())


def _prepare2(task2: Path, out: Path, seg_run: Path, *extra: str) -> int:
    args = ["prepare-classification", "--task2-dir", str(task2), "--out", str(out)]
    return main([*args, "--segmentation-model", str(seg_run), "--no-progress", *extra])


@pytest.mark.parametrize(
    "where", ["same", "inside", "parent", "patient", "series", "model", "labels"]
)
def test_prepare_classification_refuses_out_overlapping_an_input(
    task2: Path, seg_run: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    split = task2 / "train"
    out = {
        "same": split,
        "inside": split / "frames",
        "parent": task2,
        "patient": _first_patient(task2),
        "series": _first_patient(task2) / "FLAIR",
        "model": seg_run,
        "labels": task2 / "train_labels.csv",
    }[where]
    before = _tree(task2)
    extra = ["--labels", str(task2 / "train_labels.csv"), "--overwrite"]
    assert _prepare2(split, out, seg_run, *extra) == 2
    assert "input" in capsys.readouterr().err
    assert _tree(task2) == before
    assert (seg_run / "best.safetensors").is_file()


def test_prepare_classification_overwrite_refuses_a_foreign_folder(
    task2: Path, seg_run: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "table.csv").write_text("a,b\n")
    assert _prepare2(task2 / "train", foreign, seg_run, "--overwrite") == 2
    assert (foreign / "table.csv").read_text() == "a,b\n"


def test_prepare_classification_keeps_a_foreign_patient_folder(
    task2: Path, seg_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frames"
    first, second = sorted(p.name for p in (task2 / "train").iterdir())
    claim_folder(out, kind="frame-store")
    (out / first).mkdir()
    (out / first / "notes.txt").write_text("mine")
    assert _prepare2(task2 / "train", out, seg_run) == 1
    assert (out / first / "notes.txt").read_text() == "mine"
    assert "not written by radiogenomics" in (out / "failures.csv").read_text()
    assert (out / second / "series.csv").is_file()  # the other patient is prepared


# -- single-file outputs -----------------------------------------------------------------


def test_segment_refuses_to_write_over_its_input(
    synthetic_cohort: Path, seg_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "flair.nii.gz"
    shutil.copy(next(synthetic_cohort.rglob("*_flair.nii.gz")), source)
    before = source.read_bytes()
    link = tmp_path / "link.nii.gz"
    link.symlink_to(source)
    for out in (source, link):
        assert main(["segment", "--model", str(seg_run), str(source), str(out)]) == 2
        assert "is the input INPUT" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_segment_and_dicom_to_nifti_refuse_an_output_inside_the_series(
    task2: Path, seg_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.io.dicom import read_dicom_series, series_to_nifti

    series = _first_patient(task2) / "T1wCE"
    before = _tree(series)
    out = series / "x.nii.gz"
    assert main(["dicom-to-nifti", str(series), str(out)]) == 2
    assert "lies inside the input series folder" in capsys.readouterr().err
    assert main(["segment", "--model", str(seg_run), str(series), str(out)]) == 2
    with pytest.raises(ConfigurationError, match="inside the input series folder"):
        series_to_nifti(series, out)
    assert _tree(series) == before
    assert read_dicom_series(series).pixels.shape[0] == 6  # still readable


def test_predict_refuses_a_submission_inside_an_input(
    task2: Path, seg_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["predict", "--task2-dir", str(task2 / "train"), "--segmentation-model", str(seg_run)]
    args += ["--classification-models", str(seg_run)]
    assert main([*args, "--out", str(_first_patient(task2) / "FLAIR" / "s.csv")]) == 2
    assert "lies inside the input FLAIR series of patient" in capsys.readouterr().err


# -- training run folders ----------------------------------------------------------------


def test_training_refuses_out_inside_data_and_a_file_out(tmp_path: Path) -> None:
    from radiogenomics.training._common import open_run_folder

    data = tmp_path / "prepared"
    data.mkdir()
    with pytest.raises(ConfigurationError, match="is the input --data"):
        open_run_folder(data, resume=False, data_dir=data)
    with pytest.raises(ConfigurationError, match="lies inside the input --data"):
        open_run_folder(data / "run", resume=False, data_dir=data)
    (tmp_path / "run.txt").write_text("x")
    with pytest.raises(ConfigurationError, match="names a file"):
        open_run_folder(tmp_path / "run.txt", resume=False, data_dir=data)


def test_training_checks_the_run_folder_is_writable_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from radiogenomics.training import _common

    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    with pytest.raises(StorageError, match="while writing the run folder") as info:
        _common.open_run_folder(tmp_path / "run", resume=False)
    assert "Choose a writable --out" in str(info.value)
    (tmp_path / "file").write_text("x")
    monkeypatch.undo()
    with pytest.raises(StorageError):  # a parent that is a file
        _common.open_run_folder(tmp_path / "file" / "run", resume=False)


def test_a_name_that_is_not_utf8_fails_alone(
    task1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A non-UTF-8 byte in a case file name used to abort the whole batch with a raw
    # UnicodeEncodeError, before failures.csv was written.
    import os

    folder = task1 / os.fsdecode(b"odd\xff")
    folder.mkdir()
    for path in (task1 / "BraTS2021_00004").iterdir():
        name = path.name.replace("BraTS2021_00004", "BraTS2021_00099").encode()
        shutil.copy(path, folder / os.fsdecode(name.replace(b"00099", b"00099\xff")))
    out = tmp_path / "prepared"
    assert _prepare1(task1, out) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        *(f"BraTS2021_0000{i}" for i in range(1, 5)),
        "manifest.csv",
        "prepare-config.json",
    ]
    err = capsys.readouterr().err
    assert err.count("not valid UTF-8") == 5  # four modalities and the label map
    assert "odd\\xff" in err
