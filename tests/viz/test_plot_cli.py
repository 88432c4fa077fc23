"""`radiogenomics plot ...` and the training commands' --plots, end to end on tiny data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from radiogenomics.cli import main
from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
from radiogenomics.data.frame_store import FrameStore
from radiogenomics.inference import roc_auc, write_submission
from radiogenomics.io import find_brats_cases
from radiogenomics.viz import frame_montage, read_case_slices, slice_montage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    return image


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plot-prepared") / "out"
    config = SegmentationPrepConfig(size=64, modalities=("t1ce",), planes=("axial", "coronal"))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config).ok
    return out


@pytest.mark.slow
def test_train_segmentation_plots(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seg"
    args = [
        "train-segmentation",
        "--data", str(prepared),
        "--out", str(out),
        "--architecture", "Unet",
        "--encoder", "tu-test_resnet",
        "--image-size", "64",
        "--batch-size", "16",
        "--warmup-epochs", "1",
        "--epochs", "2",
        "--amp", "off",
        "--device", "cpu",
        "--no-progress",
        "--plots",
    ]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"training curves -> {out / 'curves.png'}" in printed
    assert _image(out / "curves.png").shape == (420, 1100, 3)
    assert not (out / "roc.png").exists()
    # Redrawn by the plot command, to another file.
    assert main(["plot", "curves", str(out), "--out", str(tmp_path / "c.svg")]) == 0
    assert (tmp_path / "c.svg").read_bytes().lstrip().startswith(b"<?xml")


@pytest.mark.slow
def test_train_classification_plots(stage2_runs: tuple[Path, str]) -> None:
    out, printed = stage2_runs
    for mri_type in ("FLAIR", "T1wCE"):
        run = out / mri_type
        assert f"training curves -> {run / 'curves.png'}" in printed
        assert f"held-out ROC -> {run / 'roc.png'}" in printed
        assert _image(run / "curves.png").shape == (420, 1100, 3)
        assert _image(run / "roc.png").shape == (520, 520, 3)


@pytest.mark.slow
def test_plot_curves_and_roc_of_a_run(
    stage2_runs: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = stage2_runs[0] / "FLAIR"
    assert main(["plot", "curves", str(run), "--out", str(tmp_path / "curves.png")]) == 0
    assert _image(tmp_path / "curves.png").shape == (420, 1100, 3)
    roc = tmp_path / "roc.png"
    assert main(["plot", "roc", "--run", str(run), "--out", str(roc), "--n-boot", "50"]) == 0
    best = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    auc = [x for x in best if x["best"]][-1]["patient_auc"]
    assert f"2 patients, AUC {auc:.4f}" in capsys.readouterr().out
    assert _image(roc).shape == (520, 520, 3)


def test_plot_roc_of_a_submission(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probabilities = {f"{i:05d}": (i % 5) / 5 for i in range(1, 21)}
    labels = {p: int(v > 0.3) ^ (int(p) % 7 == 0) for p, v in probabilities.items()}
    submission = write_submission(probabilities, tmp_path / "submission.csv")
    label_file = tmp_path / "train_labels.csv"
    rows = [f"{int(p)},{v}" for p, v in labels.items()] + ["999,1"]  # unpadded, one extra
    label_file.write_text("BraTS21ID,MGMT_value\n" + "\n".join(rows) + "\n")
    out = tmp_path / "roc.png"
    argv = ["plot", "roc", "--predictions", str(submission), "--labels", str(label_file)]
    assert main([*argv, "--out", str(out), "--title", "validation"]) == 0
    expected = roc_auc(list(labels.values()), list(probabilities.values()))
    assert f"wrote {out}: 20 patients, AUC {expected:.4f}" in capsys.readouterr().out
    assert _image(out).shape == (520, 520, 3)
    # A predicted patient without a label, and a missing --labels.
    label_file.write_text("BraTS21ID,MGMT_value\n1,0\n2,1\n")
    assert main([*argv, "--out", str(out)]) == 1
    assert "18 of the 20 predicted patients have no label" in capsys.readouterr().err
    assert main(["plot", "roc", "--predictions", str(submission), "--out", str(out)]) == 2
    assert "--labels" in capsys.readouterr().err


def test_plot_montage_of_a_prepared_case(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "montage.png"
    argv = ["plot", "montage", "--prepared", str(prepared), "--out", str(out)]
    assert main([*argv, "--case", "BraTS2021_00001", "--plane", "axial", "--limit", "6"]) == 0
    assert "wrote" in capsys.readouterr().out
    slices = read_case_slices(prepared, case_id="BraTS2021_00001", plane="axial", limit=6)
    np.testing.assert_array_equal(_image(out), slice_montage(slices))
    assert main([*argv, "--columns", "4", "--size", "32", "--limit", "0"]) == 0
    every = read_case_slices(prepared)
    assert _image(out).shape == (-(-len(every) // 4) * 32, 128, 3)
    assert main([*argv, "--case", "BraTS2021_00042"]) == 1
    assert "BraTS2021_00042" in capsys.readouterr().err


def test_plot_montage_of_a_frame_series(
    frame_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FrameStore(frame_store)
    key = next(k for k in store.series_keys() if store.num_frames(k) >= 4)
    out = tmp_path / "frames.png"
    series = f"{int(key[0])}/{key[1]}"  # unpadded identifiers are accepted
    argv = ["plot", "montage", "--frames", str(frame_store), "--out", str(out)]
    assert main([*argv, "--series", series, "--limit", "3", "--columns", "3"]) == 0
    frames = store.frames(key)
    chosen = sorted({round(i * (len(frames) - 1) / 2) for i in range(3)})
    expected = frame_montage(
        np.asarray(frames[chosen]), columns=3, labels=[f"#{i}" for i in chosen]
    )
    np.testing.assert_array_equal(_image(out), expected)
    assert f"3 of {len(frames)} frames of {key[0]}/{key[1]}" in capsys.readouterr().out
    assert main(argv) == 0  # the first series with frames
    assert main([*argv, "--series", "00001"]) == 2
    assert "PATIENT/MRI_TYPE" in capsys.readouterr().err
    assert main([*argv, "--series", "00001/T2w"]) == 1


def test_plots_flag_without_matplotlib_stops_before_training(
    prepared: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "seg"
    argv = ["train-segmentation", "--data", str(prepared), "--out", str(out), "--plots"]
    assert main(argv) == 1
    assert 'pip install "radiogenomics[plots]"' in capsys.readouterr().err
    assert not out.exists()
    assert main(["plot", "curves", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 1
    # Montages need no matplotlib.
    montage = tmp_path / "m.png"
    assert main(["plot", "montage", "--prepared", str(prepared), "--out", str(montage)]) == 0
    assert montage.is_file()
