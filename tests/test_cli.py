"""The command line: each command end to end, exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radiogenomics.cli import main
from radiogenomics.data import read_manifest


def test_prepare_segmentation_command(
    synthetic_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prepared"
    argv = (
        f"prepare-segmentation --task1-dir {synthetic_cohort} --out {out} --preset released-code "
        "--size 32 --planes axial coronal --no-progress"
    ).split()
    assert main(argv) == 0
    rows = read_manifest(out / "manifest.csv")
    assert {r["plane"] for r in rows} == {"axial", "coronal"}
    assert "4 cases written" in capsys.readouterr().out
    # Rerun: nothing to do, same output.
    assert main(argv) == 0
    assert "4 already prepared" in capsys.readouterr().out
    assert read_manifest(out / "manifest.csv") == rows


def test_prepare_segmentation_reports_failures_and_exits_1(
    synthetic_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    task1 = tmp_path / "task1"
    shutil.copytree(synthetic_cohort, task1)
    (task1 / "BraTS2021_00001" / "BraTS2021_00001_t2.nii.gz").unlink()
    code = main(
        [
            "prepare-segmentation",
            "--task1-dir",
            str(task1),
            "--out",
            str(tmp_path / "o"),
            "--size",
            "32",
            "--no-progress",
        ]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "FAILED BraTS2021_00001" in out
    assert "BraTS2021_00001_t2.nii.gz" in out
    assert "3 cases written" in out


def test_prepare_segmentation_leakage_guard_flag(
    synthetic_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task2 = tmp_path / "task2"
    (task2 / "00001").mkdir(parents=True)
    code = main(
        [
            "prepare-segmentation",
            "--task1-dir",
            str(synthetic_cohort),
            "--out",
            str(tmp_path / "o"),
            "--size",
            "32",
            "--task2-dir",
            str(task2),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "leakage guard: 1 cases" in capsys.readouterr().out
    assert "BraTS2021_00001" not in {
        r["patient_id"] for r in read_manifest(tmp_path / "o" / "manifest.csv")
    }


def test_configuration_errors_exit_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "prepare-segmentation",
            "--task1-dir",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "does not exist" in capsys.readouterr().err
    code = main(
        [
            "prepare-segmentation",
            "--task1-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--min-ratio",
            "-1",
        ]
    )
    assert code == 2
    assert "min_ratio=-1.0 is out of range" in capsys.readouterr().err


def test_dicom_to_nifti_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import nibabel as nib

    from radiogenomics.io import read_dicom_series
    from radiogenomics.testing import write_task2_cohort

    root = write_task2_cohort(tmp_path / "kaggle", n_patients=1, seed=3, size=32)
    series_dir = next(p for p in (root / "train").rglob("T1wCE") if p.is_dir())
    out = tmp_path / "t1wce.nii.gz"
    assert main(["dicom-to-nifti", str(series_dir), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    image = nib.load(str(out))
    series = read_dicom_series(series_dir)
    np.testing.assert_allclose(image.affine, series.affine, atol=1e-4)
    np.testing.assert_allclose(np.asanyarray(image.dataobj), series.to_nifti_array(), atol=1e-3)


def test_dicom_to_nifti_refuses_two_series_and_takes_series_uid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import nibabel as nib
    import pydicom

    from radiogenomics.testing import standard_series_affine, write_dicom_series

    folder = tmp_path / "FLAIR"
    affine = standard_series_affine("axial", shape=(4, 6, 6), spacing=(1.0, 1.0, 2.0))
    first = write_dicom_series(np.full((4, 6, 6), 100.0, np.float32), affine, folder)
    affine[2, 3] += 1.0  # interleaved, half a slice apart
    bright = np.full((4, 6, 6), 900.0, np.float32)
    second = write_dicom_series(bright, affine, folder, append=True, numbers=range(5, 9), seed=1)
    out = tmp_path / "flair.nii.gz"
    assert main(["dicom-to-nifti", str(folder), str(out)]) == 1
    printed = capsys.readouterr()
    assert "the folder holds 2 series" in printed.err
    assert "--series-uid" in printed.err
    assert "Traceback" not in printed.err
    assert not out.exists()
    uid = str(pydicom.dcmread(second[0]).SeriesInstanceUID)
    assert uid in printed.err
    assert str(pydicom.dcmread(first[0]).SeriesInstanceUID) in printed.err
    assert main(["dicom-to-nifti", str(folder), str(out), "--series-uid", uid]) == 0
    assert "4 slices" in capsys.readouterr().out
    np.testing.assert_array_equal(np.asarray(nib.load(out).dataobj), 900.0)


def test_presets_command_prints_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "released-code"]) == 0
    text = capsys.readouterr().out
    assert '"sampler": "stride"' in text
    assert '"reference": "slice"' in text
    assert text.startswith("# released-code: ")
    assert '"hidden_size": 128' in text
    assert '"count_holes": true' in text
    assert '"area": "largest_contour"' in text


def test_demo_command_runs_on_synthetic_and_real_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], real_case_dir: Path
) -> None:
    code = main(
        [
            "demo",
            "--out",
            str(tmp_path / "demo"),
            "--cases",
            "2",
            "--workers",
            "1",
            "--real-case",
            str(real_case_dir),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "[synthetic / preset writeup] 2 cases written" in out
    assert "[real / preset released-code] 1 cases written" in out
    assert "synthetic Task 2: 2 DICOM patients" in out
    assert len(list((tmp_path / "demo" / "synthetic-task2").glob("*.nii.gz"))) == 1
    rows = read_manifest(tmp_path / "demo" / "prepared-real-released-code" / "manifest.csv")
    assert len(rows) == 120
    # A montage per preparation: 32 kept slices, 8 per row, 128-pixel tiles.
    for name in ("synthetic-writeup", "real-released-code"):
        montage = tmp_path / "demo" / f"montage-{name}.png"
        assert "montage of 32 kept slices of BraTS2021_" in out
        assert str(montage) in out
        import cv2

        assert cv2.imread(str(montage)).shape == (4 * 128, 8 * 128, 3)


def test_module_entry_point_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "radiogenomics.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("radiogenomics ")


def test_import_is_light() -> None:
    code = (
        "import sys, radiogenomics, radiogenomics.io, radiogenomics.slicing, radiogenomics.filters;"
        "names = ('torch', 'timm', 'segmentation_models_pytorch', 'pydicom', 'cv2');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks a machine without a GPU"
)
@pytest.mark.parametrize("command", ["segment", "predict", "prepare-classification"])
def test_device_cuda_without_a_gpu_is_one_clear_error(
    command: str, seg_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.cli import main
    from radiogenomics.testing.synthetic_dicom import write_task2_cohort

    root = write_task2_cohort(tmp_path / "task2", n_patients=1, seed=0, size=16, n_slices=4)
    patient = next((root / "train").iterdir())
    out = str(tmp_path / "out.csv")
    argv = {
        "segment": ["segment", "--model", str(seg_run), str(patient / "FLAIR"), out + ".nii.gz"],
        "predict": ["predict", "--task2-dir", str(patient), "--segmentation-model",
                    str(seg_run), "--classification-models", str(seg_run), "--out", out],
        "prepare-classification": ["prepare-classification", "--task2-dir",
                                   str(root / "train"), "--segmentation-model", str(seg_run),
                                   "--out", str(tmp_path / "f"), "--no-progress"],
    }[command]  # fmt: skip
    assert main([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err
    assert "Traceback" not in err
    assert not (tmp_path / "f").exists()
