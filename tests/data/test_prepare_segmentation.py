"""Stage 1 preparation: outputs, resumability, atomicity, failures, presets, real data."""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import json
import math
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from radiogenomics._outputs import MARKER_NAME
from radiogenomics.data import (
    MANIFEST_FIELDS,
    PreparedSlices,
    SegmentationPrepConfig,
    build_segmentation_pipeline,
    prepare_segmentation,
    read_manifest,
)
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    InputNotFoundError,
    StorageError,
)
from radiogenomics.io import BratsCase, find_brats_cases
from radiogenomics.presets import segmentation_preset

SMALL = SegmentationPrepConfig(size=32)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "out"
    report = prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=SMALL)
    assert report.ok, report.summary()
    return out


def test_manifest_lists_every_stored_slice(prepared: Path) -> None:
    rows = read_manifest(prepared / "manifest.csv")
    assert rows, "the synthetic tumors must leave slices"
    assert list(rows[0]) == list(MANIFEST_FIELDS)
    assert {r["patient_id"] for r in rows} == {f"BraTS2021_{i:05d}" for i in range(1, 5)}
    assert {r["modality"] for r in rows} == {"flair", "t1", "t1ce", "t2"}
    assert {r["plane"] for r in rows} == {"axial", "coronal", "sagittal"}
    assert all(float(r["tumor_ratio"]) > SMALL.min_ratio for r in rows)
    store = PreparedSlices(prepared)
    assert len(store) == len(rows)
    for item in store:
        assert item.image.shape == (32, 32)
        assert item.image.dtype == np.uint8
        assert item.masks.shape == (2, 32, 32)
        assert set(np.unique(item.masks)) <= {0, 1}
        # ET is inside WT, and each kept slice shows tumor.
        assert not np.any(item.masks[1] & ~item.masks[0])
        assert item.masks[0].any()


def test_the_store_reads_its_settings_and_names_its_mask_channels(
    prepared: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from radiogenomics.errors import CorruptFileError

    store = PreparedSlices(prepared)
    assert store.prep_config["regions"] == ["WT", "ET"]
    assert store.regions(2) == ("WT", "ET")
    assert store.regions(4) == ("WT", "ET", "TC", "c3")  # saved names that do not fit
    copy = tmp_path / "copy"
    shutil.copytree(prepared, copy)
    (copy / "prepare-config.json").unlink()
    assert PreparedSlices(copy).prep_config == {}
    assert PreparedSlices(copy).regions(2) == ("WT", "ET")
    (copy / "prepare-config.json").write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(CorruptFileError, match="JSON object"):
        PreparedSlices(copy).regions(2)
    (copy / "prepare-config.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        _ = PreparedSlices(copy).prep_config


def test_manifest_is_sorted_by_case_and_matches_case_files(prepared: Path) -> None:
    rows = read_manifest(prepared / "manifest.csv")
    ids = [r["patient_id"] for r in rows]
    assert ids == sorted(ids)
    per_case = [
        row for case in sorted(set(ids)) for row in read_manifest(prepared / case / "slices.csv")
    ]
    assert per_case == rows


def test_slices_keep_geometric_order_within_each_series(prepared: Path) -> None:
    rows = read_manifest(prepared / "manifest.csv")
    series: dict[tuple[str, str, str], list[int]] = {}
    for r in rows:
        series.setdefault((r["patient_id"], r["modality"], r["plane"]), []).append(
            int(r["slice_index"])
        )
    for indices in series.values():
        assert indices == sorted(indices)
        assert len(set(indices)) == len(indices)


def test_rerun_skips_finished_cases_and_finishes_the_rest(
    prepared: Path, synthetic_cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    before = _digest(out)
    shutil.rmtree(out / "BraTS2021_00002")  # as if interrupted before this case
    (out / ".partial" / "BraTS2021_00002-deadbeef").mkdir(parents=True)  # half-written
    report = prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=SMALL)
    statuses = {o.case_id: o.status for o in report.outcomes}
    assert statuses == {
        "BraTS2021_00001": "skipped",
        "BraTS2021_00002": "written",
        "BraTS2021_00003": "skipped",
        "BraTS2021_00004": "skipped",
    }
    assert not (out / ".partial").exists() or not any((out / ".partial").iterdir())
    after = {k: v for k, v in _digest(out).items() if not k.startswith(".partial")}
    assert after == before, "a resumed run must end with exactly the uninterrupted output"


def test_parallel_workers_give_byte_identical_output(
    prepared: Path, synthetic_cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "parallel"
    report = prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=SMALL, workers=2)
    assert report.ok
    assert _digest(out) == _digest(prepared)


def test_other_settings_on_a_prepared_folder_are_refused(
    prepared: Path, synthetic_cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    with pytest.raises(ConfigurationError, match=r"min_ratio: 0\.01 -> 0\.05") as info:
        prepare_segmentation(
            find_brats_cases(synthetic_cohort),
            out,
            config=SegmentationPrepConfig(size=32, min_ratio=0.05),
        )
    assert "--overwrite" in str(info.value)
    report = prepare_segmentation(
        find_brats_cases(synthetic_cohort),
        out,
        config=SegmentationPrepConfig(size=32, min_ratio=0.05),
        overwrite=True,
    )
    rows = read_manifest(out / "manifest.csv")
    assert report.ok
    assert rows
    assert all(float(r["tumor_ratio"]) > 0.05 for r in rows)


def test_a_bad_case_fails_alone_and_nothing_half_written_remains(
    synthetic_cohort: Path, tmp_path: Path
) -> None:
    task1 = tmp_path / "task1"
    shutil.copytree(synthetic_cohort, task1)
    flair = task1 / "BraTS2021_00003" / "BraTS2021_00003_flair.nii.gz"
    flair.write_bytes(flair.read_bytes()[:300])  # truncated download
    out = tmp_path / "out"
    report = prepare_segmentation(find_brats_cases(task1), out, config=SMALL)
    assert not report.ok
    assert [o.case_id for o in report.failed] == ["BraTS2021_00003"]
    assert "BraTS2021_00003_flair.nii.gz" in (report.failed[0].error or "")
    assert not (out / "BraTS2021_00003").exists()
    assert {r["patient_id"] for r in read_manifest(out / "manifest.csv")} == {
        "BraTS2021_00001",
        "BraTS2021_00002",
        "BraTS2021_00004",
    }
    with (out / "failures.csv").open() as handle:
        failures = list(csv.DictReader(handle))
    assert [f["case_id"] for f in failures] == ["BraTS2021_00003"]
    assert "FAILED BraTS2021_00003" in report.summary()
    # Repairing the file and rerunning finishes the job and clears failures.csv.
    shutil.copy(synthetic_cohort / "BraTS2021_00003" / flair.name, flair)
    report = prepare_segmentation(find_brats_cases(task1), out, config=SMALL)
    assert report.ok
    assert not (out / "failures.csv").exists()


def _cli_args(task1: Path, out: Path, *extra: str) -> list[str]:
    return ["prepare-segmentation", "--task1-dir", str(task1), "--out", str(out),
            "--size", "32", "--no-progress", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def cli_prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of the command line (the reference of the kill tests)."""
    from radiogenomics.cli import main

    out = tmp_path_factory.mktemp("cli-prepared") / "out"
    assert main(_cli_args(synthetic_cohort, out)) == 0
    return out


# Where a run is killed (the n-th call, one worker, 4 cases). os.replace: 1 commits the
# output folder's marker, 2 prepare-config.json, 3-6 commit the cases, 7 the manifest.
# numpy.save: 6 per case; the killed call leaves half a file.
KILL_POINTS = [
    pytest.param([("os:replace", 1)], id="before-marker-committed"),
    pytest.param([("os:replace", 2)], id="before-config-committed"),
    pytest.param([("numpy:save", 10)], id="mid-case-3-half-a-file"),
    pytest.param([("os:replace", 7)], id="before-manifest-committed"),
    pytest.param([("numpy:save", 4), ("os:replace", 3)], id="killed-twice"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kills", KILL_POINTS)
def test_a_killed_run_resumes_to_the_uninterrupted_output(
    cli_prepared: Path,
    synthetic_cohort: Path,
    tmp_path: Path,
    run_killed: Callable[..., int],
    kills: list[tuple[str, int]],
) -> None:
    from radiogenomics.cli import main

    out = tmp_path / "out"
    argv = _cli_args(synthetic_cohort, out)
    for kill in kills:
        assert run_killed(argv, at=kill) == -signal.SIGKILL
    assert not (out / "manifest.csv").exists()
    assert main(argv) == 0
    assert _digest(out) == _digest(cli_prepared)
    assert not [p for p in out.rglob(".*") if p.is_file() and p.name != MARKER_NAME]


@pytest.mark.slow
def test_a_run_killed_from_outside_resumes_to_the_uninterrupted_output(
    cli_prepared: Path, synthetic_cohort: Path, tmp_path: Path, run_killed: Callable[..., int]
) -> None:
    from radiogenomics.cli import main

    out = tmp_path / "out"
    argv = _cli_args(synthetic_cohort, out)

    def first_case_done() -> bool:
        return (out / "BraTS2021_00001" / "slices.csv").is_file()

    assert run_killed(argv, when=first_case_done) == -signal.SIGKILL
    assert not (out / "BraTS2021_00004").exists()
    assert main(argv) == 0
    assert _digest(out) == _digest(cli_prepared)


def _full_disk_after(
    monkeypatch: pytest.MonkeyPatch, saves: int, *, csv_too: bool = False
) -> dict[str, int]:
    """Make ``numpy.save`` raise ENOSPC from its ``saves + 1``-th call on (a full disk)."""
    import radiogenomics.data.store as store

    calls = {"n": 0}
    real_save = np.save

    def save(path: object, array: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] > saves:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_save(path, array, *args, **kwargs)  # type: ignore[arg-type]

    def write_csv(path: Path, rows: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store.np, "save", save)
    if csv_too:
        monkeypatch.setattr(store, "_write_csv", write_csv)
    return calls


@pytest.mark.parametrize("csv_too", [False, True], ids=["disk-full", "still-full-at-manifest"])
def test_a_full_disk_stops_the_batch_keeps_finished_cases_and_resumes(
    prepared: Path,
    synthetic_cohort: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    csv_too: bool,
) -> None:
    out = tmp_path / "out"
    cases = find_brats_cases(synthetic_cohort)
    # Each case saves 6 arrays (image and mask of 3 planes): the disk fills up on case 3.
    calls = _full_disk_after(monkeypatch, 12)
    if csv_too:
        # Cases 1 and 2 are written first; then the disk is full for CSV files too.
        prepare_segmentation(cases[:2], out, config=SMALL)
        calls["n"] = 0
        _full_disk_after(monkeypatch, 0, csv_too=True)
    with pytest.raises(StorageError) as info:
        prepare_segmentation(cases, out, config=SMALL)
    error = info.value
    assert isinstance(error, OSError)
    assert error.errno == errno.ENOSPC
    message = str(error)
    assert "no space left on device" in message
    assert "BraTS2021_00003" in message
    assert "rerun the same command" in message
    assert "Traceback" not in message
    # The batch stopped at case 3: case 4 was never attempted, nothing half-written remains.
    reference = _digest(prepared)
    got = _digest(out)
    leftovers = [k for k in got if (k.startswith(".") or "/." in k) and k != MARKER_NAME]
    assert not leftovers, sorted(got)
    assert not (out / "BraTS2021_00003").exists()
    assert not (out / "BraTS2021_00004").exists()
    for case in ("BraTS2021_00001", "BraTS2021_00002"):
        finished = {k: v for k, v in reference.items() if k.startswith(case)}
        assert {k: v for k, v in got.items() if k.startswith(case)} == finished
    if csv_too:
        # The manifest could not be rewritten: the previous (complete) one is kept.
        rows = read_manifest(out / "manifest.csv")
        assert {r["patient_id"] for r in rows} == {"BraTS2021_00001", "BraTS2021_00002"}
    else:
        rows = read_manifest(out / "manifest.csv")
        assert rows == [
            r
            for r in read_manifest(prepared / "manifest.csv")
            if r["patient_id"] in {"BraTS2021_00001", "BraTS2021_00002"}
        ]
        with (out / "failures.csv").open() as handle:
            failures = list(csv.DictReader(handle))
        assert [f["case_id"] for f in failures] == ["BraTS2021_00003"]
        assert "no space left" in failures[0]["error"]
    # Space freed: the same call finishes the job with the uninterrupted output.
    monkeypatch.undo()
    report = prepare_segmentation(cases, out, config=SMALL)
    assert report.ok
    assert [o.status for o in report.outcomes] == ["skipped", "skipped", "written", "written"]
    assert _digest(out) == reference


def test_a_full_disk_stops_parallel_workers_too(
    synthetic_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import radiogenomics.data.store as store

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the workers inherit the patched numpy.save only when forked")
    real_save = np.save

    def save(path: object, array: object, *args: object, **kwargs: object) -> None:
        if "BraTS2021_00001" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_save(path, array, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.np, "save", save)
    out = tmp_path / "out"
    with pytest.raises(StorageError, match="BraTS2021_00001"):
        prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=SMALL, workers=2)
    assert not (out / "BraTS2021_00001").exists()
    assert not any((out / ".partial").iterdir())
    # Cases that a worker had already started may have finished; they are complete.
    finished = {r["patient_id"] for r in read_manifest(out / "manifest.csv")}
    assert finished <= {"BraTS2021_00002", "BraTS2021_00003", "BraTS2021_00004"}
    assert finished == {p.name for p in out.iterdir() if (p / "slices.csv").is_file()}


def test_the_cli_reports_a_full_disk_and_exits_1(
    synthetic_cohort: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from radiogenomics.cli import main

    _full_disk_after(monkeypatch, 6)
    out = tmp_path / "out"
    argv = ["prepare-segmentation", "--task1-dir", str(synthetic_cohort), "--out", str(out),
            "--size", "32", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: [patient BraTS2021_00002" in err
    assert "no space left on device" in err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert main(argv) == 0


def _damage(case: BratsCase, kind: str) -> None:
    """Damage one written case in one of the ways a real download or export goes wrong."""
    import nibabel as nib

    flair = case.images["flair"]
    image = nib.load(str(flair))
    affine, shape = image.affine, image.shape
    if kind == "truncated":
        flair.write_bytes(flair.read_bytes()[:200])
    elif kind == "not-nifti":
        flair.write_bytes(np.random.default_rng(0).bytes(4000))
    elif kind == "two-dimensional":
        nib.save(nib.Nifti1Image(np.ones(shape[:2], np.int16), affine), str(flair))
    elif kind == "other-shape":
        nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.int16), affine), str(case.images["t2"]))
    elif kind == "other-affine":
        moved = affine.copy()
        moved[0, 3] += 5.0
        data = np.asarray(nib.load(str(case.images["t1"])).dataobj)
        nib.save(nib.Nifti1Image(data, moved), str(case.images["t1"]))
    elif kind == "nan-voxels":
        data = np.asarray(image.dataobj).astype(np.float32)
        data[shape[0] // 2, :3, 0] = np.nan
        nib.save(nib.Nifti1Image(data, affine), str(flair))
    elif kind == "all-zero-modality":
        nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), affine), str(case.images["t1ce"]))
    elif kind == "unknown-label":
        assert case.label is not None
        labels = np.asarray(nib.load(str(case.label)).dataobj).copy()
        labels[0, 0, 0] = 9
        nib.save(nib.Nifti1Image(labels, affine), str(case.label))
    elif kind == "missing-modality":
        case.images["t2"].unlink()
    else:  # pragma: no cover
        raise AssertionError(kind)


BAD_CASES = {
    "truncated": ("BraTS2021_00101_flair.nii.gz", "truncated or not NIfTI"),
    "not-nifti": ("BraTS2021_00102_flair.nii.gz", "truncated or not NIfTI"),
    "two-dimensional": ("BraTS2021_00103_flair.nii.gz", "expected a 3D volume"),
    "other-shape": ("BraTS2021_00104_t2.nii.gz", "differs from"),
    "other-affine": ("BraTS2021_00105_t1.nii.gz", "affine differs"),
    "nan-voxels": ("BraTS2021_00106_flair.nii.gz", "3 NaN, 0 infinite"),
    "all-zero-modality": ("BraTS2021_00107_t1ce.nii.gz", "is 0: the image is blank"),
    "unknown-label": ("BraTS2021_00108_seg.nii.gz", "unexpected label values [9]"),
    "missing-modality": ("BraTS2021_00109_t2.nii.gz", "missing modalities ['t2']"),
}
"""Each damage -> the file the error must name and a piece of its message."""


def test_bad_inputs_fail_alone_and_valid_cases_are_unchanged(
    prepared: Path, synthetic_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.cli import main
    from radiogenomics.testing import make_brats_case

    task1 = tmp_path / "task1"
    for case in ("BraTS2021_00001", "BraTS2021_00002"):
        shutil.copytree(synthetic_cohort / case, task1 / case)
    for number, kind in enumerate(BAD_CASES, start=101):
        case_id = f"BraTS2021_{number:05d}"
        _damage(
            make_brats_case(seed=number, shape=(24, 24, 16), case_id=case_id).write(task1), kind
        )
    out = tmp_path / "out"
    argv = ["prepare-segmentation", "--task1-dir", str(task1), "--out", str(out), "--size", "32",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    with (out / "failures.csv").open() as handle:
        failures = {f["case_id"]: f["error"] for f in csv.DictReader(handle)}
    assert len(failures) == len(BAD_CASES)
    for number, (name, reason) in enumerate(BAD_CASES.values(), start=101):
        error = failures[f"BraTS2021_{number:05d}"]
        assert name in error, error
        assert reason in error, error
        assert f"FAILED BraTS2021_{number:05d}" in printed.out
    # The valid cases are prepared exactly as in a clean run, and nothing else is.
    good = {k: v for k, v in _digest(out).items() if k.startswith("BraTS2021_0000")}
    reference = _digest(prepared)
    assert good == {
        k: v for k, v in reference.items() if k[:15] in {"BraTS2021_00001", "BraTS2021_00002"}
    }
    assert {r["patient_id"] for r in read_manifest(out / "manifest.csv")} == {
        "BraTS2021_00001",
        "BraTS2021_00002",
    }
    assert not [p for p in out.iterdir() if p.name.startswith("BraTS2021_001")]


@pytest.mark.parametrize(
    "case_id", ["..", "../escape", "<absolute>", "a/b", "", ".partial", "manifest.csv"]
)
def test_a_case_identifier_that_leaves_the_output_folder_fails_alone(
    prepared: Path, synthetic_cohort: Path, tmp_path: Path, case_id: str
) -> None:
    absolute = tmp_path / "absolute"
    case_id = case_id.replace("<absolute>", str(absolute))
    good = find_brats_cases(synthetic_cohort)[0]
    bad = dataclasses.replace(good, case_id=case_id)
    out = tmp_path / "inside" / "out"
    report = prepare_segmentation([bad, good], out, config=SMALL)
    assert [(o.case_id, o.status) for o in report.outcomes] == sorted(
        [(case_id, "failed"), (good.case_id, "written")]
    )
    assert "not a plain folder name" in (report.failed[0].error or "")
    assert sorted(p.name for p in (tmp_path / "inside").iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        good.case_id,
        "failures.csv",
        "manifest.csv",
        "prepare-config.json",
    ]
    assert not absolute.exists()


@pytest.mark.parametrize("damage", ["object-array", "missing-file", "outside", "bad-row"])
def test_damaged_prepared_files_raise_library_errors(
    prepared: Path, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    rows = read_manifest(out / "manifest.csv")
    name = rows[0]["image_file"]
    if damage == "object-array":  # a pickle inside: refused, never unpickled
        np.save(out / name, np.array([object()] * 3, dtype=object), allow_pickle=True)
        error, match = CorruptFileError, "Python objects"
    elif damage == "missing-file":
        (out / name).unlink()
        error, match = InputNotFoundError, "listed in manifest.csv is missing"
    else:
        rows[0] = {**rows[0], **({"image_file": "../../x.npy"} if damage == "outside" else {})}
        if damage == "bad-row":
            rows[0]["row"] = "9999"
        with (out / "manifest.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        error = CorruptFileError
        match = "outside the prepared folder" if damage == "outside" else "holds \\d+ slices"
    with pytest.raises(error, match=match):
        PreparedSlices(out)[0]


def test_leakage_guard_removes_task2_patients(synthetic_cohort: Path, tmp_path: Path) -> None:
    labels = tmp_path / "train_labels.csv"
    labels.write_text("BraTS21ID,MGMT_value\n2,1\n00004,0\n00999,1\n")
    from radiogenomics.io import task2_patient_ids

    out = tmp_path / "out"
    report = prepare_segmentation(
        find_brats_cases(synthetic_cohort), out, config=SMALL, exclude_ids=task2_patient_ids(labels)
    )
    assert report.excluded == ["BraTS2021_00002", "BraTS2021_00004"]
    assert {r["patient_id"] for r in read_manifest(out / "manifest.csv")} == {
        "BraTS2021_00001",
        "BraTS2021_00003",
    }
    assert "leakage guard: 2 cases" in report.summary()
    assert (out / "excluded.csv").read_text().count("leakage guard") == 2


def test_released_code_preset_keeps_every_t_th_passing_slice(synthetic_cohort: Path) -> None:
    """Filter on the whole slice (> 0.01), then keep 0, T, 2T... of the n passing slices."""
    from radiogenomics.io import load_case
    from radiogenomics.masks import tumor_masks

    config = segmentation_preset("released-code", size=None)
    case = find_brats_cases(synthetic_cohort)[0]
    loaded = load_case(case)
    assert loaded.label_map is not None
    wt = tumor_masks(loaded.label_map, regions=("WT",))[0]
    pipeline = build_segmentation_pipeline(config)
    from radiogenomics.records import VolumeRecord

    volume = VolumeRecord(
        patient_id=case.case_id,
        modality="t1ce",
        image=loaded.images["t1ce"],
        affine=loaded.affine,
        masks=tumor_masks(loaded.label_map),
    )
    kept = pipeline(volume)
    for axis, plane in enumerate(("sagittal", "coronal", "axial")):
        ratios = wt.mean(axis=tuple(a for a in range(3) if a != axis))
        passing = [i for i, r in enumerate(ratios) if r > 0.01]
        step = max(round(0.1 * len(passing)), 1)
        expected = passing[::step]
        assert [r.index for r in kept if r.plane == plane] == expected
        assert len(expected) == math.ceil(len(passing) / step)


def test_2023_naming_and_labels_prepare_the_same_masks(tmp_path: Path) -> None:
    from radiogenomics.testing import make_brats_case

    old = make_brats_case(seed=5, shape=(40, 40, 32), case_id="BraTS2021_00005")
    new = make_brats_case(
        seed=5, shape=(40, 40, 32), case_id="BraTS-GLI-00005-000", convention="brats2023"
    )
    old.write(tmp_path / "a")
    new.write(tmp_path / "b")
    config = SegmentationPrepConfig(size=None)
    prepare_segmentation(find_brats_cases(tmp_path / "a"), tmp_path / "pa", config=config)
    prepare_segmentation(find_brats_cases(tmp_path / "b"), tmp_path / "pb", config=config)
    a = PreparedSlices(tmp_path / "pa")
    b = PreparedSlices(tmp_path / "pb")
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.masks, y.masks)
        np.testing.assert_array_equal(x.image, y.image)


def test_config_json_round_trip() -> None:
    config = segmentation_preset("released-code", planes=("axial",), size=None)
    assert SegmentationPrepConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modalities": ("flair", "dwi")}, "did you mean|expected one of"),
        ({"order": "filter-first"}, "expected one of"),
        ({"size": 4}, "too small"),
        ({"min_ratio": -0.1}, "out of range"),
        ({"sampler": "strided"}, "Did you mean 'stride'"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SegmentationPrepConfig(**change)  # type: ignore[arg-type]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("preset", "per_plane"),
    [
        ("released-code", {"sagittal": 40, "coronal": 40, "axial": 40}),
        ("writeup", None),
    ],
)
def test_real_case_preparation(
    real_case_dir: Path, tmp_path: Path, preset: str, per_plane: dict[str, int] | None
) -> None:
    out = tmp_path / preset
    report = prepare_segmentation(
        find_brats_cases(real_case_dir),
        out,
        config=segmentation_preset(preset),  # type: ignore[arg-type]
    )
    assert report.ok, report.summary()
    rows = read_manifest(out / "manifest.csv")
    counts = {p: sum(r["plane"] == p for r in rows) for p in ("sagittal", "coronal", "axial")}
    if per_plane is not None:
        assert counts == per_plane
    assert all(v > 0 for v in counts.values())
    store = PreparedSlices(out)
    assert store[0].image.shape == (224, 224)
    # The stored images are real brain slices: a bright tumor-bearing region and dark background.
    mean_tumor = np.mean([s.image[s.masks[0] > 0].mean() for s in store if s.masks[0].any()])
    assert mean_tumor > 30
    assert all(float(r["tumor_ratio"]) > 0.01 for r in rows)


# -- tumor-free slices (negative_fraction) ----------------------------------------------


@pytest.fixture(scope="module")
def with_negatives(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("negatives") / "out"
    config = dataclasses.replace(SMALL, negative_fraction=1.0)
    report = prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config)
    assert report.ok, report.summary()
    return out


def test_tumor_free_slices_are_stored_with_empty_masks(
    with_negatives: Path, prepared: Path
) -> None:
    store, seed = PreparedSlices(with_negatives), PreparedSlices(prepared)
    assert list(read_manifest(with_negatives / "manifest.csv")[0]) == list(MANIFEST_FIELDS)
    free = store.tumor_free_rows
    assert free
    assert seed.tumor_free_rows == []
    # The tumor slices are the seed's, row for row; the tumor-free ones come on top.
    tumor_rows = [r for i, r in enumerate(store.rows) if i not in set(free)]
    key = ("patient_id", "modality", "plane", "slice_index", "tumor_ratio")
    assert [[r[k] for k in key] for r in tumor_rows] == [[r[k] for k in key] for r in seed.rows]
    for index in free:
        item = store[index]
        assert item.row["tumor_ratio"] == "0.0"
        assert not item.masks.any()
        assert np.count_nonzero(item.image) > 0.1 * item.image.size  # brain, not blank
    # At most one tumor-free slice per tumor slice, per case, modality and plane.
    for group in {(r["patient_id"], r["modality"], r["plane"]) for r in store.rows}:
        rows = [r for r in store.rows if (r["patient_id"], r["modality"], r["plane"]) == group]
        n_free = sum(r["tumor_ratio"] == "0.0" for r in rows)
        assert n_free <= len(rows) - n_free
    assert store.prep_config["negative_fraction"] == 1.0


def test_resume_sees_the_negative_fraction(synthetic_cohort: Path, with_negatives: Path) -> None:
    cases = find_brats_cases(synthetic_cohort)
    again = prepare_segmentation(
        cases, with_negatives, config=dataclasses.replace(SMALL, negative_fraction=1.0)
    )
    assert {o.status for o in again.outcomes} == {"skipped"}
    for fraction in (0.0, 0.5):
        with pytest.raises(ConfigurationError, match="negative_fraction"):
            prepare_segmentation(
                cases, with_negatives, config=dataclasses.replace(SMALL, negative_fraction=fraction)
            )


def test_negative_fraction_zero_changes_nothing(prepared: Path) -> None:
    # Folders prepared before the setting existed hold no key for it: they read back as
    # the same settings, and the settings with 0 write the same bytes.
    written = (prepared / "prepare-config.json").read_text()
    assert "negative_fraction" not in written
    assert SegmentationPrepConfig.from_json(written) == SMALL
    assert dataclasses.replace(SMALL, negative_fraction=0).to_json() == SMALL.to_json()
    steps = [type(step).__name__ for step in build_segmentation_pipeline(SMALL)]
    assert steps == ["SliceExtractor", "DistinctSampler", "TumorAreaFilter", "ResizeSlices"]
    with_negatives = build_segmentation_pipeline(dataclasses.replace(SMALL, negative_fraction=2))
    assert [type(step).__name__ for step in with_negatives] == [
        "SliceExtractor",
        "TumorFreeSlices",
        "ResizeSlices",
    ]
    config = dataclasses.replace(SMALL, negative_fraction=0.5)
    assert json.loads(config.to_json())["negative_fraction"] == 0.5
    assert SegmentationPrepConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigurationError, match="negative_fraction"):
        SegmentationPrepConfig(negative_fraction=-1.0)


def test_cli_negative_fraction(
    synthetic_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.cli import main

    out = tmp_path / "prepared"
    argv = (
        f"prepare-segmentation --task1-dir {synthetic_cohort} --out {out} --size 32 "
        "--planes axial --modalities flair --negative-fraction 0.5 --no-progress"
    ).split()
    assert main(argv) == 0
    store = PreparedSlices(out)
    tumor = len(store) - len(store.tumor_free_rows)
    assert 0 < len(store.tumor_free_rows) <= math.ceil(0.5 * tumor) + 4
    assert json.loads((out / "prepare-config.json").read_text())["negative_fraction"] == 0.5
