"""The solution examples (two stages, masks, one patient, local weights) on small settings.

Outputs are checked, not just the exit code: files exist and parse, shapes match the
input, printed metrics are in range, and the examples agree with each other (the
probability of a patient classified alone equals its row of the submission).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = [
    "--task1-cases", "3",
    "--patients", "8",
    "--test-patients", "4",
    "--seg-epochs", "1",
    "--cls-epochs", "1",
    "--mri-types", "FLAIR", "T1wCE",
    "--workers", "1",
]  # fmt: skip


def _example(name: str) -> ModuleType:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


@contextlib.contextmanager
def _torch_threads_kept() -> Iterator[None]:
    """The two-stage example sets torch's thread count; give the session its own back."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run(name: str, argv: list[str]) -> str:
    printed = io.StringIO()
    with _torch_threads_kept(), contextlib.redirect_stdout(printed):
        assert _example(name).main(argv) == 0
    return printed.getvalue()


def _readable_png(path: Path) -> tuple[int, ...]:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, f"{path} must be a readable PNG"
    return tuple(image.shape)


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The two-stage example run once on synthetic data: ``(out folder, printed text)``."""
    out = tmp_path_factory.mktemp("two-stage") / "out"
    return out, _run("two_stage_solution", ["--out", str(out), *SMALL])


@pytest.mark.slow
def test_two_stage_solution_writes_a_submission_and_scores(two_stage: tuple[Path, str]) -> None:
    from radiogenomics.inference import read_submission
    from radiogenomics.io import read_labels

    out, printed = two_stage
    test_labels = read_labels(out / "data" / "test_labels.csv")
    submission = read_submission(out / "submission.csv", expected=test_labels)
    assert len(submission) == 4
    assert all(0.0 <= p <= 1.0 for p in submission.values())

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["preset"] == "tiny"
    assert set(summary["stage1_heldout"]) >= {"dice_WT", "dice_ET", "iou_WT", "iou_ET"}
    assert all(0.0 <= v <= 1.0 for v in summary["stage1_heldout"].values())
    test = summary["test"]
    assert test["patients"] == 4
    assert test["positives"] == 2
    assert test["ci95"][0] <= test["auc"] <= test["ci95"][1]
    assert set(test["auc_per_mri_type"]) == {"FLAIR", "T1wCE"}
    assert json.loads((out / "preset.json").read_text(encoding="utf-8"))["name"] == "tiny"

    dice = re.search(r"held-out stage 1 patients: dice_WT ([0-9.]+), dice_ET ([0-9.]+)", printed)
    assert dice is not None
    assert all(0.0 <= float(v) <= 1.0 for v in dice.groups())
    auc = re.search(
        r"held-out test patients: AUC ([0-9.]+) \(95 % CI ([0-9.]+)-([0-9.]+)\)", printed
    )
    assert auc is not None
    value, low, high = map(float, auc.groups())
    assert 0.0 <= low <= value <= high <= 1.0

    # Both runs and the pictures: frames (always), curves and ROC (with matplotlib).
    assert (out / "stage1-run" / "best.safetensors").is_file()
    assert {p.name for p in (out / "stage2-runs").iterdir()} == {"FLAIR", "T1wCE"}
    assert _readable_png(out / "stage2-frames.png")[2] == 3
    pictures = {Path(p).name for p in summary["pictures"]}
    if importlib.util.find_spec("matplotlib") is not None:
        assert {"stage1-curves.png", "stage2-curves-FLAIR.png", "roc.png"} <= pictures
    for name in pictures:
        _readable_png(out / name)


@pytest.mark.slow
def test_two_stage_solution_resumes_without_redoing_work(two_stage: tuple[Path, str]) -> None:
    from radiogenomics.inference import read_submission

    out, _ = two_stage
    before = read_submission(out / "submission.csv")
    printed = _run("two_stage_solution", ["--out", str(out), *SMALL, "--resume"])
    assert "0 cases written, 3 already prepared" in printed
    assert "0 patients written, 8 already prepared" in printed
    assert read_submission(out / "submission.csv") == before


@pytest.mark.slow
def test_classify_patient_agrees_with_the_submission(two_stage: tuple[Path, str]) -> None:
    from radiogenomics.inference import read_submission

    out, _ = two_stage
    submission = read_submission(out / "submission.csv")
    patient = sorted(submission)[0]
    runs = [str(out / "stage2-runs" / t) for t in ("FLAIR", "T1wCE")]
    printed = _run(
        "classify_patient",
        [
            "--patient", str(out / "data" / "test" / patient),
            "--segmentation-model", str(out / "stage1-run"),
            "--classification-models", *runs,
        ],
    )  # fmt: skip
    for mri_type in ("FLAIR", "T1wCE"):
        line = re.search(rf"{mri_type}: P\(MGMT methylated\) = (\S+)", printed)
        assert line is not None
        assert line.group(1) == "no" or 0.0 <= float(line.group(1)) <= 1.0
    combined = re.search(rf"patient {patient}: P\(MGMT methylated\) = ([0-9.]+)", printed)
    assert combined is not None
    assert float(combined.group(1)) == pytest.approx(submission[patient], abs=5e-4)


@pytest.mark.slow
def test_classify_patient_on_a_synthetic_patient(
    two_stage: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = two_stage
    printed = _run("classify_patient", ["--runs", str(out), "--work", str(tmp_path)])
    assert sorted(p.name for p in (tmp_path / "patient" / "00777").iterdir()) == [
        "FLAIR",
        "T1wCE",
    ]
    combined = re.search(
        r"patient 00777: P\(MGMT methylated\) = ([0-9.]+) \(true label 1\)", printed
    )
    assert combined is not None
    assert 0.0 <= float(combined.group(1)) <= 1.0


@pytest.mark.slow
def test_two_stage_solution_on_real_data_layout(real_case_dir: Path, tmp_path: Path) -> None:
    """The real-data form: a BraTS folder (the real case among synthetic ones), a Kaggle
    train folder with labels, a test folder; labelled patients held out and scored."""
    from radiogenomics.inference import read_submission
    from radiogenomics.io import read_labels, task2_patient_ids
    from radiogenomics.testing import write_brats_cohort, write_task2_cohort

    task1 = tmp_path / "BraTS2021_Training_Data"
    write_brats_cohort(task1, n_cases=2, seed=5, first_id=3000)
    (task1 / real_case_dir.name).symlink_to(real_case_dir, target_is_directory=True)
    kaggle = tmp_path / "rsna-miccai"
    write_task2_cohort(kaggle, n_patients=8, seed=1, mri_types=("FLAIR",), split="train")
    write_task2_cohort(kaggle, n_patients=3, seed=2, mri_types=("FLAIR",), split="test")
    out = tmp_path / "out"
    argv = [
        "--task1-dir", str(task1),
        "--task2-dir", str(kaggle / "train"),
        "--labels", str(kaggle / "train_labels.csv"),
        "--test-dir", str(kaggle / "test"),
        "--preset", "tiny", "--device", "cpu", "--holdout-fraction", "0.25",
        "--seg-epochs", "1", "--cls-epochs", "1", "--mri-types", "FLAIR", "--workers", "1",
        "--out", str(out),
    ]  # fmt: skip
    printed = _run("two_stage_solution", argv)

    held_out = read_labels(out / "split" / "heldout_labels.csv")
    assert sorted(held_out.values()) == [0, 1]  # a quarter of each class of 8
    assert set(read_submission(out / "heldout-predictions.csv")) == set(held_out)
    test_ids = task2_patient_ids(kaggle / "test")
    assert set(read_submission(out / "submission.csv", expected=test_ids)) == test_ids
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["test"]["patients"] == 2
    assert "held-out test patients: AUC" in printed
    # The real case trained stage 1 unless the leakage guard removed it.
    guarded = "00006" in task2_patient_ids(kaggle / "train_labels.csv") | test_ids
    assert (out / "stage1-slices" / real_case_dir.name).is_dir() != guarded


def test_two_stage_solution_refuses_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _example("two_stage_solution")
    with pytest.raises(SystemExit):
        example.main(["--task1-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert "needs all of --task1-dir, --task2-dir and --labels" in capsys.readouterr().err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x", encoding="utf-8")
    with pytest.raises(SystemExit):
        example.main(["--out", str(tmp_path / "used")])
    assert "pass --resume to continue" in capsys.readouterr().err


def test_two_stage_solution_holds_out_labelled_patients(tmp_path: Path) -> None:
    example = _example("two_stage_solution")
    train = tmp_path / "train"
    labels = {f"{i:05d}": i % 2 for i in range(1, 21)}
    for patient in labels:
        (train / patient / "FLAIR").mkdir(parents=True)
    rows = [f"{p},{v}" for p, v in labels.items()] + ["00099,1"]  # 00099 has no folder
    (tmp_path / "train_labels.csv").write_text(
        "BraTS21ID,MGMT_value\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    inputs = example.Inputs(tmp_path / "t1", train, tmp_path / "train_labels.csv", None, None)

    split = example.hold_out_patients(inputs, tmp_path / "split", 0.2, seed=0)

    from radiogenomics.io import read_labels

    kept, held = read_labels(split.labels), read_labels(split.test_labels)
    assert set(kept) | set(held) == set(labels)
    assert not set(kept) & set(held)
    assert sorted(held.values()) == [0, 0, 1, 1]  # stratified: 20 % of each class
    assert {p.name for p in split.test_dir.iterdir()} == set(held)
    assert (split.task2_dir / next(iter(kept)) / "FLAIR").is_dir()  # links to the originals


def test_predict_masks_on_a_dicom_series(seg_run: Path, tmp_path: Path) -> None:
    from radiogenomics.io import read_dicom_series, read_nifti

    out = tmp_path / "masks.nii.gz"
    printed = _run(
        "predict_masks", ["--model", str(seg_run), "--out", str(out), "--work", str(tmp_path)]
    )
    series = read_dicom_series(tmp_path / "series" / "FLAIR")
    labels, affine = read_nifti(out)
    assert labels.shape == series.to_nifti_array().shape
    np.testing.assert_allclose(affine, series.affine, atol=1e-4)
    assert set(np.unique(labels).tolist()) <= {0, 1, 2}
    counts = re.search(r"WT (\d+) voxels, ET (\d+) voxels", printed)
    assert counts is not None
    assert int(counts.group(1)) == np.count_nonzero(labels) > 0
    assert int(counts.group(2)) == np.count_nonzero(labels == 2)
    dice = re.search(r"Dice against the true masks: WT ([0-9.]+), ET ([0-9.]+)", printed)
    assert dice is not None
    assert all(0.0 <= float(v) <= 1.0 for v in dice.groups())
    assert _readable_png(tmp_path / "masks-montage.png")[2] == 3


def test_predict_masks_on_a_nifti_volume(seg_run: Path, tmp_path: Path) -> None:
    from radiogenomics.io import read_nifti
    from radiogenomics.testing import make_brats_case

    flair = make_brats_case(seed=1, shape=(48, 40, 32)).write(tmp_path).images["flair"]
    out = tmp_path / "flair-masks.nii.gz"
    printed = _run(
        "predict_masks",
        ["--model", str(seg_run), "--input", str(flair), "--out", str(out), "--plane", "coronal"],
    )
    labels, affine = read_nifti(out)
    volume, volume_affine = read_nifti(flair)
    assert labels.shape == volume.shape == (48, 40, 32)
    np.testing.assert_allclose(affine, volume_affine, atol=1e-6)
    assert "coronal slices" in printed
    assert "Dice" not in printed  # no true masks for a given input


@pytest.mark.slow
def test_predict_masks_trains_a_tiny_model_when_none_is_given(tmp_path: Path) -> None:
    out = tmp_path / "masks.nii.gz"
    printed = _run("predict_masks", ["--out", str(out), "--train-cases", "2", "--epochs", "1"])
    assert (tmp_path / "masks-work" / "model" / "run" / "best.safetensors").is_file()
    assert out.is_file()
    assert "Dice against the true masks" in printed


def test_local_pretrained_weights(tmp_path: Path) -> None:
    printed = _run("local_pretrained_weights", ["--out", str(tmp_path)])
    loaded = re.findall(r"(\d+) of (\d+) (?:encoder|backbone) tensors", printed)
    assert len(loaded) == 2
    assert all(a == b and int(a) > 0 for a, b in loaded)
    assert (tmp_path / "resnet10t.safetensors").is_file()
    assert "a file of another network: ConfigurationError" in printed
    assert "a hub name: ConfigurationError" in printed
    assert "never downloads" in printed
    assert "a missing file: InputNotFoundError" in printed


def test_custom_components_run_end_to_end(tmp_path: Path) -> None:
    # One part of the user's own per stage: a filter, a backbone, an aggregation.
    out = tmp_path / "custom"
    argv = ["--out", str(out), "--task1-cases", "3", "--patients", "8", "--test-patients", "4"]
    small = ["--seg-epochs", "1", "--cls-epochs", "1", "--mri-types", "FLAIR"]
    printed = _run("custom_components", [*argv, *small])
    recorded = json.loads((out / "slices" / "prepare-config.json").read_text())
    assert "BrainCoverageFilter(min_fraction=0.2)" in recorded["pipeline"]
    metadata = json.loads((out / "cls" / "FLAIR" / "config.json").read_text())
    assert metadata["val_patients"]
    from safetensors import safe_open

    with safe_open(str(out / "cls" / "FLAIR" / "best.safetensors"), framework="pt") as handle:
        user_model = (handle.metadata() or {}).get("user_model", "")
    assert user_model.endswith("SequenceClassifier(backbone=SmallCNN)")
    match = re.search(r"test patients: (\d+), AUC ([0-9.]+|nan)", printed)
    assert match, printed
    assert int(match.group(1)) == 4
    example = _example("custom_components")
    aggregator = example.TrimmedMeanAggregator(fallback=0.25)
    aggregator.update(["1", "1", "1", "1"], ["FLAIR"] * 4, [0.0, 0.2, 0.4, 1.0])
    assert aggregator.aggregate(["1", "2"]) == pytest.approx({"1": 0.3, "2": 0.25})


def test_two_stage_solution_cross_validates_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "cv"
    argv = ["--out", str(out), *SMALL, "--folds", "2", "--patients", "12"]
    printed = _run("two_stage_solution", argv)
    summary = json.loads((out / "summary.json").read_text())
    cv = summary["stage2_cross_validation"]
    assert "out-of-fold ROC AUC over 2 folds" in printed
    assert (out / "stage2-cv" / "oof.csv").is_file()
    combined = next(g for g in cv["groups"] if g["mri_type"] == "combined")
    assert 0.0 <= combined["auc"] <= 1.0
