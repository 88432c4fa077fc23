"""Stage 2 preparation: the frame store, filters, order, known-bad, resume, failures."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radiogenomics._outputs import MARKER_NAME
from radiogenomics.data import (
    FRAME_MANIFEST_FIELDS,
    SERIES_FIELDS,
    ClassificationPrepConfig,
    prepare_classification,
    series_frames,
)
from radiogenomics.errors import (
    ConfigurationError,
    GeometryError,
    InvalidInputError,
    StorageError,
)
from radiogenomics.io.dicom import read_dicom_series, series_to_nifti
from radiogenomics.presets import classification_preset, segmentation_preset
from radiogenomics.slicing import to_uint8
from radiogenomics.testing.synthetic_dicom import (
    make_task2_patient,
    write_dicom_series,
    write_task2_cohort,
)

SIZE = 48


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write_patient(split: Path, patient_id: str, *, seed: int) -> None:
    patient = make_task2_patient(patient_id, label=1, seed=seed, size=SIZE, n_slices=10)
    for mri_type, series in patient.series.items():
        write_dicom_series(
            series.pixels,
            series.affine,
            split / patient_id / mri_type,
            rescale_slope=series.rescale_slope,
            rescale_intercept=series.rescale_intercept,
            patient_id=patient_id,
            mri_type=mri_type,
        )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_task2_cohort(
        tmp_path_factory.mktemp("task2"), n_patients=3, seed=3, size=SIZE, n_slices=10
    )
    # 00109 has a known-bad FLAIR series (and no label).
    _write_patient(root / "train", "00109", seed=11)
    return root


@pytest.fixture(scope="module")
def prepared(cohort: Path, seg_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("frames") / "out"
    report = prepare_classification(
        cohort / "train", out, labels=cohort / "train_labels.csv", segmentation_run=seg_run
    )
    assert report.ok, report.summary()
    assert report.unlabelled == ["00109"]
    return out


def test_store_files_and_columns(prepared: Path, cohort: Path) -> None:
    manifest = _rows(prepared / "manifest.csv")
    series = _rows(prepared / "series.csv")
    assert manifest
    assert tuple(manifest[0]) == FRAME_MANIFEST_FIELDS
    assert tuple(series[0]) == SERIES_FIELDS
    patients = sorted(p.name for p in (cohort / "train").iterdir())
    assert [r["patient_id"] for r in series] == [p for p in patients for _ in range(4)]
    assert [r["mri_type"] for r in series[:4]] == ["FLAIR", "T1w", "T1wCE", "T2w"]
    # Sorted by patient, then MRI type in the Kaggle order.
    order = {"FLAIR": 0, "T1w": 1, "T1wCE": 2, "T2w": 3}
    keys = [(r["patient_id"], order[r["mri_type"]]) for r in manifest]
    assert keys == sorted(keys)
    labels = _rows(prepared / "labels.csv")
    expected = [r for r in _rows(cohort / "train_labels.csv")]
    assert labels == expected
    assert all(len(r["BraTS21ID"]) == 5 for r in labels)
    config = ClassificationPrepConfig.load(prepared / "prepare-config.json")
    assert config == ClassificationPrepConfig()
    assert not (prepared / "failures.csv").exists()
    for patient in patients:
        rows = _rows(prepared / patient / "frames.csv")
        assert rows == [r for r in manifest if r["patient_id"] == patient]


def test_frames_are_the_kept_slices_with_their_masks(prepared: Path, cohort: Path) -> None:
    manifest = _rows(prepared / "manifest.csv")
    config = ClassificationPrepConfig()
    for row in _rows(prepared / "series.csv"):
        if row["status"] != "ok":
            continue
        patient, mri_type = row["patient_id"], row["mri_type"]
        frames = np.load(prepared / patient / f"{mri_type}.npy")
        kept = [r for r in manifest if (r["patient_id"], r["mri_type"]) == (patient, mri_type)]
        assert frames.dtype == np.uint8
        assert frames.shape == (int(row["n_kept"]), SIZE, SIZE, 3) == (len(kept), SIZE, SIZE, 3)
        assert [int(r["row"]) for r in kept] == list(range(len(kept)))
        assert set(np.unique(frames[..., 1:])) <= {0, 255}
        series = read_dicom_series(cohort / "train" / patient / mri_type)
        assert int(row["n_slices"]) == series.pixels.shape[0]
        positions = np.array([float(r["position"]) for r in kept])
        assert np.all(np.diff(positions) > 0), "frames keep geometric order"
        index = [int(np.argmin(np.abs(series.positions - p))) for p in positions]
        np.testing.assert_allclose(series.positions[index], positions, atol=1e-5)
        np.testing.assert_array_equal(frames[..., 0], to_uint8(series.pixels)[index])
        for r in kept:
            assert float(r["tumor_ratio"]) > config.min_ratio
            assert 1 <= int(r["n_contours"]) <= config.max_contours


def test_known_bad_series_is_skipped_and_listed(prepared: Path) -> None:
    rows = {(r["patient_id"], r["mri_type"]): r for r in _rows(prepared / "series.csv")}
    assert rows[("00109", "FLAIR")]["status"] == "known-bad"
    assert not (prepared / "00109" / "FLAIR.npy").exists()
    assert rows[("00109", "T2w")]["status"] == "ok"
    manifest = _rows(prepared / "manifest.csv")
    assert ("00109", "FLAIR") not in {(r["patient_id"], r["mri_type"]) for r in manifest}


def test_resume_rebuilds_identical_bytes(
    prepared: Path, cohort: Path, seg_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    before = _digest(out)
    patient = sorted(p.name for p in (cohort / "train").iterdir())[0]
    shutil.rmtree(out / patient)
    (out / "manifest.csv").unlink()
    report = prepare_classification(
        cohort / "train", out, labels=cohort / "train_labels.csv", segmentation_run=seg_run
    )
    assert [o.status for o in report.outcomes].count("written") == 1
    assert [o.status for o in report.outcomes].count("skipped") == 3
    assert _digest(out) == before


def test_other_settings_or_model_are_refused(
    prepared: Path,
    cohort: Path,
    seg_run: Path,
    make_segmentation_run: Callable[..., Path],
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    with pytest.raises(ConfigurationError, match="min_ratio"):
        prepare_classification(
            cohort / "train",
            out,
            segmentation_run=seg_run,
            config=ClassificationPrepConfig(min_ratio=0.05),
        )
    other = make_segmentation_run(tmp_path / "other", bias=3.0)
    with pytest.raises(ConfigurationError, match="another stage 1 model"):
        prepare_classification(cohort / "train", out, segmentation_run=other)


def test_no_surviving_frame_and_single_patient_folder(
    cohort: Path, seg_run: Path, tmp_path: Path
) -> None:
    patient = cohort / "train" / "00109"
    config = ClassificationPrepConfig(min_ratio=1e6, mri_types=("T1w", "T2w"))
    report = prepare_classification(
        patient, tmp_path / "out", segmentation_run=seg_run, config=config
    )
    assert report.ok
    rows = _rows(tmp_path / "out" / "series.csv")
    assert [(r["patient_id"], r["mri_type"], r["status"], r["n_kept"]) for r in rows] == [
        ("00109", "T1w", "no-frames", "0"),
        ("00109", "T2w", "no-frames", "0"),
    ]
    assert _rows(tmp_path / "out" / "manifest.csv") == []
    assert not (tmp_path / "out" / "labels.csv").exists()


def test_a_failed_series_is_reported_and_retried(
    cohort: Path, seg_run: Path, tmp_path: Path
) -> None:
    split = tmp_path / "train"
    source = sorted((cohort / "train").iterdir())[0]
    shutil.copytree(source, split / source.name)
    broken = sorted((split / source.name / "T1w").iterdir())[0]
    broken.write_bytes(b"not a dicom file")
    shutil.rmtree(split / source.name / "T2w")
    out = tmp_path / "out"
    report = prepare_classification(split, out, segmentation_run=seg_run)
    assert not report.ok
    assert {s.mri_type for s in report.failed} == {"T1w", "T2w"}
    assert "FAILED" in report.summary()
    status = {r["mri_type"]: r["status"] for r in _rows(out / "series.csv")}
    assert status == {"FLAIR": "ok", "T1w": "failed", "T1wCE": "ok", "T2w": "failed"}
    failures = _rows(out / "failures.csv")
    assert [f["mri_type"] for f in failures] == ["T1w", "T2w"]
    assert (out / source.name / "FLAIR.npy").is_file()
    # A rerun redoes the patient (its failed series may have been fixed).
    shutil.copytree(source / "T2w", split / source.name / "T2w")
    report = prepare_classification(split, out, segmentation_run=seg_run)
    assert [o.status for o in report.outcomes] == ["failed"]
    assert {s.mri_type for s in report.failed} == {"T1w"}
    assert {r["mri_type"]: r["status"] for r in _rows(out / "series.csv")}["T2w"] == "ok"


def _cli_args(cohort: Path, seg_run: Path, out: Path) -> list[str]:
    return ["prepare-classification", "--task2-dir", str(cohort / "train"),
            "--labels", str(cohort / "train_labels.csv"), "--segmentation-model", str(seg_run),
            "--out", str(out), "--no-progress"]  # fmt: skip


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_output(
    prepared: Path, cohort: Path, seg_run: Path, tmp_path: Path, run_killed: Callable[..., int]
) -> None:
    from radiogenomics.cli import main

    out = tmp_path / "out"
    argv = _cli_args(cohort, seg_run, out)
    first = sorted(p.name for p in (cohort / "train").iterdir())[0]
    # Killed from outside once the first patient is written; resumed and killed again
    # while writing the second array of the next patient (half a file left); finished.
    assert run_killed(argv, when=lambda: (out / first / "series.csv").is_file()) == -9
    assert (out / first / "series.csv").is_file()
    assert run_killed(argv, at=("numpy:save", 2)) == -signal.SIGKILL
    assert any((out / ".partial").iterdir()), "the kill left a half-written patient"
    assert main(argv) == 0
    assert _digest(out) == _digest(prepared)


@pytest.fixture(scope="module")
def random_run(
    make_segmentation_run: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A stage 1 model with random weights: masks that depend on every pixel."""
    return make_segmentation_run(tmp_path_factory.mktemp("seg-random") / "run", bias=None)


@pytest.fixture(scope="module")
def random_store(cohort: Path, random_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("random-frames") / "out"
    report = prepare_classification(cohort / "train", out, segmentation_run=random_run)
    assert report.ok
    assert len(_rows(out / "manifest.csv")) > 20, "the random model must keep some frames"
    return out


@pytest.mark.slow
def test_two_runs_and_thread_counts_give_identical_bytes(
    random_store: Path, cohort: Path, random_run: Path, tmp_path: Path
) -> None:
    import torch

    torch.set_num_threads(2)  # the module's fixture restores one thread afterwards
    try:
        prepare_classification(cohort / "train", tmp_path / "out", segmentation_run=random_run)
    finally:
        torch.set_num_threads(1)
    assert _digest(tmp_path / "out") == _digest(random_store)


@pytest.mark.slow
def test_two_workers_give_identical_bytes(
    random_store: Path, cohort: Path, random_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = prepare_classification(cohort / "train", out, segmentation_run=random_run, workers=2)
    assert report.ok
    assert _digest(out) == _digest(random_store)


def test_a_full_disk_stops_the_batch_keeps_finished_patients_and_resumes(
    prepared: Path, cohort: Path, seg_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_save = np.save

    def save(path: object, array: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] > 4:  # the first patient has 4 series
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_save(path, array, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "save", save)
    out = tmp_path / "out"
    patients = sorted(p.name for p in (cohort / "train").iterdir())
    kwargs = {"labels": cohort / "train_labels.csv", "segmentation_run": seg_run}
    with pytest.raises(StorageError) as info:
        prepare_classification(cohort / "train", out, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert f"patient {patients[1]}" in message
    assert "no space left on device" in message
    assert "rerun the same command" in message
    assert calls["n"] == 5, "the batch stops at the first full-disk error"
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[0] != ".") == [patients[0]]
    assert not [
        p for p in out.rglob("*") if p.is_file() and "/." in str(p) and p.name != MARKER_NAME
    ]
    reference = _digest(prepared)
    assert {k: v for k, v in _digest(out).items() if k.startswith(patients[0])} == {
        k: v for k, v in reference.items() if k.startswith(patients[0])
    }
    assert {r["patient_id"] for r in _rows(out / "manifest.csv")} == {patients[0]}
    failures = _rows(out / "failures.csv")
    assert {f["patient_id"] for f in failures} == {patients[1]}
    assert all("no space left" in f["error"] for f in failures)
    monkeypatch.undo()
    report = prepare_classification(cohort / "train", out, **kwargs)  # type: ignore[arg-type]
    assert report.ok
    assert _digest(out) == reference


@pytest.mark.parametrize("patient_id", ["..", "../escape", "/tmp/abs", "a/b", "", ".partial",
                                        "manifest.csv", "a\\b"])  # fmt: skip
def test_a_patient_identifier_that_leaves_the_store_is_refused(
    cohort: Path, seg_run: Path, tmp_path: Path, patient_id: str
) -> None:
    from radiogenomics.data import prepare_patient

    out = tmp_path / "store" / "out"
    source = sorted((cohort / "train").iterdir())[0]
    series = {t: source / t for t in ("FLAIR", "T2w")}
    config = ClassificationPrepConfig(mri_types=("FLAIR", "T2w"))
    outcome = prepare_patient(patient_id, series, out, config, predictor=None)
    assert outcome.status == "failed"
    assert [s.status for s in outcome.series] == ["failed", "failed"]
    assert "not a plain folder name" in (outcome.series[0].error or "")
    assert not (tmp_path / "store").exists(), "nothing may be written anywhere"


def test_a_hidden_patient_folder_fails_alone(
    cohort: Path, seg_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.cli import main

    patient = tmp_path / ".hidden"
    shutil.copytree(sorted((cohort / "train").iterdir())[0], patient)
    out = tmp_path / "out"
    argv = ["prepare-classification", "--task2-dir", str(patient), "--segmentation-model",
            str(seg_run), "--out", str(out), "--mri-types", "T2w", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    assert "FAILED .hidden T2w" in capsys.readouterr().out
    assert [f["patient_id"] for f in _rows(out / "failures.csv")] == [".hidden"]
    assert not [p for p in out.iterdir() if p.is_dir()], "nothing is written for it"


def _edit_dicom(path: Path, change: Callable[[Any], None]) -> None:
    import pydicom

    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


def _damage_series(folder: Path, kind: str) -> None:
    """Damage one series folder (or replace it by a NIfTI file) as real data goes wrong."""
    import nibabel as nib

    files = sorted(folder.iterdir())
    if kind == "non-dicom-file":
        (folder / "notes.txt").write_text("not a DICOM file")
    elif kind == "missing-geometry":
        _edit_dicom(files[2], lambda ds: delattr(ds, "ImagePositionPatient"))
    elif kind == "duplicate-position":
        import pydicom

        position = pydicom.dcmread(files[1]).ImagePositionPatient
        _edit_dicom(files[4], lambda ds: setattr(ds, "ImagePositionPatient", position))
    elif kind == "mixed-sizes":
        _edit_dicom(files[3], lambda ds: setattr(ds, "Columns", ds.Columns // 2))
    elif kind == "empty-series":
        for path in files:
            path.unlink()
    elif kind == "truncated-file":
        files[5].write_bytes(files[5].read_bytes()[:300])
    elif kind == "nan-nifti":
        shutil.rmtree(folder)
        volume = np.ones((SIZE, SIZE, 10), np.float32)
        volume[1, 1, 1] = np.nan
        nib.save(nib.Nifti1Image(volume, np.eye(4)), str(folder.parent / f"{folder.name}.nii.gz"))
    elif kind == "missing-series":
        shutil.rmtree(folder)
    elif kind == "two-series":  # a second series interleaved, half a slice apart
        series = read_dicom_series(folder)
        shifted = np.array(series.affine)
        shifted[:3, 3] += shifted[:3, 2] / 2
        n = series.shape[0]
        numbers = range(n + 1, 2 * n + 1)
        write_dicom_series(
            series.pixels[::-1],
            shifted,
            folder,
            append=True,
            numbers=numbers,
            patient_id=str(series.patient_id),
        )
    elif kind == "two-patients":
        _edit_dicom(files[0], lambda ds: setattr(ds, "PatientID", "99999"))
    elif kind == "gantry-tilt":
        series = read_dicom_series(folder)
        shutil.rmtree(folder)
        write_dicom_series(series.pixels, series.affine, folder, gantry_tilt=10.0)
    elif kind == "sheared-orientation":
        for path in files:
            _edit_dicom(
                path,
                lambda ds: setattr(
                    ds, "ImageOrientationPatient", [*ds.ImageOrientationPatient[:3], 0.5, 0.866, 0]
                ),
            )
    elif kind == "zero-slope":
        _edit_dicom(files[4], lambda ds: setattr(ds, "RescaleSlope", "0"))
    else:  # pragma: no cover
        raise AssertionError(kind)


BAD_SERIES = {
    "non-dicom-file": ("10001", "FLAIR", "notes.txt", "not a DICOM file"),
    "missing-geometry": ("10002", "T1w", ".dcm", "ImagePositionPatient is missing"),
    "duplicate-position": ("10003", "T1wCE", "T1wCE", "share a position"),
    "mixed-sizes": ("10004", "T2w", ".dcm", "Rows x Columns"),
    "empty-series": ("10005", "FLAIR", "FLAIR", "holds no files"),
    "truncated-file": ("10006", "T1w", "Image-", "it is truncated"),
    "nan-nifti": ("10007", "T2w", "T2w.nii.gz", "1 NaN, 0 infinite"),
    "missing-series": ("10008", "T1wCE", "", "no T1wCE series"),
    "two-series": ("10010", "FLAIR", "FLAIR", "the folder holds 2 series"),
    "two-patients": ("10011", "T1w", "T1w", "mixes 2 PatientIDs"),
    "gantry-tilt": ("10012", "T1wCE", "T1wCE", "10.00 degrees to the normal"),
    "sheared-orientation": ("10013", "T2w", ".dcm", "degrees apart"),
    "zero-slope": ("10014", "FLAIR", ".dcm", "RescaleSlope = 0"),
}
"""Each damage -> patient, series, what the error names, a piece of its message."""


def test_bad_series_fail_alone_and_valid_series_are_unchanged(
    prepared: Path, cohort: Path, seg_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.cli import main

    split = tmp_path / "train"
    good = sorted(p.name for p in (cohort / "train").iterdir())[0]
    shutil.copytree(cohort / "train" / good, split / good)
    for kind, (patient, mri_type, _, _) in BAD_SERIES.items():
        shutil.copytree(cohort / "train" / good, split / patient)
        _damage_series(split / patient / mri_type, kind)
    blank = split / "10009" / "T2w"  # a blank series is valid: it keeps no frame
    shutil.copytree(cohort / "train" / good, split / "10009")
    write_dicom_series(np.zeros((10, SIZE, SIZE), np.float32), np.eye(4), blank.with_name("x"))
    shutil.rmtree(blank)
    blank.with_name("x").rename(blank)
    out = tmp_path / "out"
    argv = ["prepare-classification", "--task2-dir", str(split), "--segmentation-model",
            str(seg_run), "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    failures = {(f["patient_id"], f["mri_type"]): f["error"] for f in _rows(out / "failures.csv")}
    assert set(failures) == {(p, t) for p, t, _, _ in BAD_SERIES.values()}
    for patient, mri_type, named, reason in BAD_SERIES.values():
        error = failures[(patient, mri_type)]
        assert named in error, error
        assert reason in error, error
    status = {(r["patient_id"], r["mri_type"]): r["status"] for r in _rows(out / "series.csv")}
    assert status[("10009", "T2w")] == "no-frames"
    for patient, mri_type, _, _ in BAD_SERIES.values():
        others = {t: s for (p, t), s in status.items() if p == patient and t != mri_type}
        assert set(others.values()) == {"ok"}, (patient, others)
    # The valid patient is stored exactly as in a clean run.
    assert {k: v for k, v in _digest(out).items() if k.startswith(good)} == {
        k: v for k, v in _digest(prepared).items() if k.startswith(good)
    }


def test_nifti_volumes_give_the_same_frames(
    cohort: Path, seg_run: Path, prepared: Path, tmp_path: Path
) -> None:
    source = cohort / "train" / "00109"
    patient = tmp_path / "train" / "00109"
    series_to_nifti(source / "T2w", patient / "T2w.nii.gz")
    config = ClassificationPrepConfig(mri_types=("T2w",))
    report = prepare_classification(
        tmp_path / "train", tmp_path / "out", segmentation_run=seg_run, config=config
    )
    assert report.ok, report.summary()
    np.testing.assert_array_equal(
        np.load(tmp_path / "out" / "00109" / "T2w.npy"), np.load(prepared / "00109" / "T2w.npy")
    )
    got = _rows(tmp_path / "out" / "manifest.csv")
    want = [r for r in _rows(prepared / "manifest.csv") if r["patient_id"] == "00109"]
    want = [r for r in want if r["mri_type"] == "T2w"]
    assert [r["tumor_ratio"] for r in got] == [r["tumor_ratio"] for r in want]


# -- the pure function -----------------------------------------------------------------


def _square(mask: np.ndarray, top: int, left: int, side: int) -> None:
    mask[top : top + side, left : left + side] = 1


def test_series_frames_applies_each_filter_strictly() -> None:
    n, size = 6, 40
    image = np.full((n, size, size), 100, np.uint8)
    image[0] = 0  # blank
    image[0, :2, :2] = 50  # 4 / 1600 non-zero: still blank
    masks = np.zeros((2, n, size, size), np.uint8)
    _square(masks[0, 0], 5, 5, 20)  # blank slice: dropped before anything else
    _square(masks[0, 1], 5, 5, 20)  # kept
    _square(masks[1, 1], 8, 8, 5)
    # slice 2: tumor of 40 pixels, brain 1600: ratio 0.025, not strictly above: dropped
    masks[0, 2, 0, :40] = 1
    for k in range(6):  # slice 3: six regions: dropped
        _square(masks[0, 3], 2 + 6 * k, 2, 3)
    for k in range(5):  # slice 4: five regions, 5 x 9 = 45 pixels > 40: kept
        _square(masks[0, 4], 2 + 6 * k, 2, 3)
    # slice 5: no tumor: dropped
    frozen = (image.copy(), masks.copy())
    frames, kept = series_frames(image, masks, positions=np.arange(n) * 2.5)
    assert [r.index for r in kept] == [1, 4]
    assert [r.position for r in kept] == [2.5, 10.0]
    assert [r.n_contours for r in kept] == [1, 5]
    assert kept[0].tumor_ratio == pytest.approx(400 / 1600)
    assert frames.shape == (2, size, size, 3)
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[0, ..., 0], image[1])
    np.testing.assert_array_equal(frames[0, ..., 1], masks[0, 1] * 255)
    np.testing.assert_array_equal(frames[0, ..., 2], masks[1, 1] * 255)
    np.testing.assert_array_equal(image, frozen[0])
    np.testing.assert_array_equal(masks, frozen[1])


def test_series_frames_released_code_counts_holes() -> None:
    image = np.full((1, 40, 40), 100, np.uint8)
    masks = np.zeros((2, 1, 40, 40), np.uint8)
    _square(masks[0, 0], 2, 2, 30)
    for k in range(5):  # five holes: 6 contours with holes counted
        masks[0, 0, 5 + 5 * k : 7 + 5 * k, 10:12] = 0
    assert len(series_frames(image, masks)[1]) == 1
    assert len(series_frames(image, masks, classification_preset("released-code"))[1]) == 0


def test_series_frames_empty_and_bad_input() -> None:
    frames, kept = series_frames(np.zeros((0, 8, 8), np.uint8), np.zeros((2, 0, 8, 8), np.uint8))
    assert frames.shape == (0, 8, 8, 3)
    assert kept == []
    with pytest.raises(InvalidInputError, match="uint8"):
        series_frames(np.zeros((1, 8, 8), np.float32), np.zeros((2, 1, 8, 8), np.uint8))
    with pytest.raises(GeometryError, match="masks"):
        series_frames(np.zeros((1, 8, 8), np.uint8), np.zeros((1, 1, 8, 8), np.uint8))
    with pytest.raises(InvalidInputError, match="0/1"):
        series_frames(np.zeros((1, 8, 8), np.uint8), np.full((2, 1, 8, 8), 255, np.uint8))


def test_config_presets_and_validation() -> None:
    released = classification_preset("released-code")
    assert (released.area, released.count_holes) == ("largest_contour", True)
    assert classification_preset("writeup") == ClassificationPrepConfig()
    assert classification_preset("writeup", min_ratio=0.05).min_ratio == 0.05
    assert segmentation_preset("released-code").sampler == "stride"
    assert ClassificationPrepConfig.from_json(released.to_json()) == released
    assert json.loads(released.to_json())["mri_types"] == ["FLAIR", "T1w", "T1wCE", "T2w"]
    assert repr(released) == "ClassificationPrepConfig(area='largest_contour', count_holes=True)"
    with pytest.raises(ConfigurationError, match="Did you mean"):
        ClassificationPrepConfig(mri_types=("T1wce",))
    with pytest.raises(ConfigurationError, match="max_contours"):
        ClassificationPrepConfig(max_contours=-1)
    with pytest.raises(ConfigurationError, match="preset"):
        classification_preset("paper")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="setting"):
        classification_preset("writeup", size=3)
    with pytest.raises(ConfigurationError, match="unknown"):
        ClassificationPrepConfig.from_dict({"size": 3})


def test_an_unpadded_patient_folder_is_one_patient_everywhere(
    seg_run: Path, tmp_path: Path
) -> None:
    # A folder `40` used to be prepared as patient "40" while labels.csv said "00040":
    # train-classification then failed with "no label".
    from radiogenomics.data import FrameStore
    from radiogenomics.io import find_task2_patients

    split = tmp_path / "train"
    _write_patient(split, "40", seed=1)
    _write_patient(split, "00041", seed=2)
    labels = tmp_path / "labels.csv"
    labels.write_text("BraTS21ID,MGMT_value\n40,1\n41,0\n")
    assert list(find_task2_patients(split)) == ["00040", "00041"]
    out = tmp_path / "store"
    report = prepare_classification(split, out, labels=labels, segmentation_run=seg_run)
    assert report.ok
    store = FrameStore(out)
    assert store.patient_ids == ("00040", "00041")
    assert store.labels == {"00040": 1, "00041": 0}
    assert all(store.label(p) == store.labels[p] for p in store.patient_ids)
    assert (out / "00040" / "series.csv").is_file()
    _write_patient(split, "040", seed=3)
    with pytest.raises(InvalidInputError, match="both name patient 00040"):
        find_task2_patients(split)
