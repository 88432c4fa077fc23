"""``radiogenomics segment``: NIfTI and DICOM inputs, output geometry, label encoding, errors.

The stage 1 loader is replaced by a stub that returns a deterministic brightness model,
so these tests need no trained run.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch

from radiogenomics.cli import main
from radiogenomics.inference import ET_LABEL, WT_LABEL, masks_to_label_map, save_label_map
from radiogenomics.io import read_dicom_series
from radiogenomics.testing import standard_series_affine, write_dicom_series, write_task2_cohort

MEAN, STD = 0.485, 0.229


class BrightnessModel(torch.nn.Module):
    """WT logit +10 where the un-normalised red channel is > 0.5, ET where > 0.8."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, 0] * STD + MEAN
        wt = (red > 0.5).float() * 20.0 - 10.0
        et = (red > 0.8).float() * 20.0 - 10.0
        return torch.stack([wt, et], dim=1)


@pytest.fixture
def loader(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stub ``radiogenomics.models.load_segmentation_model``; returns the calls made."""
    calls: list[dict[str, Any]] = []

    def load_segmentation_model(
        run_dir: Path, which: str = "best", device: str = "cpu"
    ) -> tuple[torch.nn.Module, Any]:
        calls.append({"run_dir": Path(run_dir), "which": which, "device": device})
        return BrightnessModel(), types.SimpleNamespace(image_size=64)

    try:
        module = importlib.import_module("radiogenomics.models")
    except ImportError:  # the models package is not there yet
        module = types.ModuleType("radiogenomics.models")
        monkeypatch.setitem(sys.modules, "radiogenomics.models", module)
    monkeypatch.setattr(module, "load_segmentation_model", load_segmentation_model, raising=False)
    return calls


def _blob(shape: tuple[int, int, int], centre: tuple[float, float, float]) -> Any:
    grid = np.indices(shape, dtype=np.float64)
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
    return distance


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * float(np.count_nonzero(a & b)) / float(a.sum() + b.sum())


def test_segment_nifti(
    tmp_path: Path, loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    shape = (40, 48, 36)
    distance = _blob(shape, (18.0, 26.0, 17.0))
    volume = np.full(shape, 50, dtype=np.int16)
    volume[distance <= 9] = 300
    volume[distance <= 5] = 500
    volume[0, 0, 0] = 0
    affine = np.array([[-1.0, 0, 0, 90.0], [0, -1.2, 0, 120.0], [0, 0, 1.5, -60.0], [0, 0, 0, 1.0]])
    source = tmp_path / "case_flair.nii.gz"
    nib.save(nib.Nifti1Image(volume, affine), source)
    out = tmp_path / "out" / "masks.nii.gz"
    code = main(
        ["segment", "--model", str(tmp_path / "run"), str(source), str(out), "--batch-size", "5"]
    )
    assert code == 0
    assert loader == [{"run_dir": tmp_path / "run", "which": "best", "device": "cpu"}]
    assert "wrote" in capsys.readouterr().out
    image = nib.load(out)
    labels = np.asarray(image.dataobj)
    assert labels.dtype == np.uint8
    assert labels.shape == shape
    np.testing.assert_allclose(image.affine, affine)
    assert set(np.unique(labels)) == {0, WT_LABEL, ET_LABEL}
    assert _dice(labels >= 1, distance <= 9) > 0.9
    assert _dice(labels == ET_LABEL, distance <= 5) > 0.85
    assert labels[18, 26, 17] == ET_LABEL
    assert labels[18, 26, 24] == WT_LABEL


def test_segment_slices_niftis_as_the_run_was_trained(
    tmp_path: Path, loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    shape = (36, 40, 30)
    volume = np.where(_blob(shape, (18.0, 26.0, 17.0)) <= 8, 400, 50).astype(np.int16)
    source = tmp_path / "flair.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), source)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"prepare_config": {"orientation": "radiological"}})
    )
    outputs = {}
    for extra in ([], ["--orientation", "native"]):
        out = tmp_path / f"masks{len(extra)}.nii.gz"
        assert main(["segment", "--model", str(run), str(source), str(out), *extra]) == 0
        outputs[len(extra)] = np.asarray(nib.load(out).dataobj)
    printed = capsys.readouterr().out
    assert "(radiological layout)" in printed
    assert "(native layout)" in printed
    # The brightness model is equivariant, so both layouts map back to the same voxels.
    np.testing.assert_array_equal(outputs[0], outputs[2])


def test_segment_dicom_series(tmp_path: Path, loader: list[dict[str, Any]]) -> None:
    n_slices, rows, columns = 14, 40, 44
    distance = _blob((n_slices, rows, columns), (7.0, 15.0, 27.0))
    pixels = np.full((n_slices, rows, columns), 110.0, dtype=np.float32)
    pixels[distance <= 7] = 1210.0
    pixels[distance <= 4] = 2010.0
    pixels[0, 0, 0] = -10.0
    affine = standard_series_affine(
        "coronal", shape=(n_slices, rows, columns), spacing=(1.0, 1.0, 2.0)
    )
    write_dicom_series(pixels, affine, tmp_path / "T1wCE")
    out = tmp_path / "masks.nii.gz"
    assert main(["segment", "--model", "run", str(tmp_path / "T1wCE"), str(out)]) == 0
    image = nib.load(out)
    labels = np.asarray(image.dataobj)
    series = read_dicom_series(tmp_path / "T1wCE")
    assert labels.shape == (columns, rows, n_slices)  # the series' NIfTI layout
    np.testing.assert_allclose(image.affine, series.affine, atol=1e-6)
    wt_display = labels.transpose(2, 1, 0) >= 1  # back to (S, R, C)
    assert _dice(wt_display, distance <= 7) > 0.9
    assert labels[27, 15, 7] == ET_LABEL

    # Another plane than the acquisition plane: same layout and geometry.
    other = tmp_path / "axial.nii.gz"
    assert (
        main(["segment", "--model", "run", str(tmp_path / "T1wCE"), str(other), "--plane", "axial"])
        == 0
    )
    assert np.asarray(nib.load(other).dataobj).shape == (columns, rows, n_slices)


def test_segment_synthetic_task2_patient(tmp_path: Path, loader: list[dict[str, Any]]) -> None:
    root = write_task2_cohort(tmp_path / "cohort", n_patients=1, seed=3, size=32, n_slices=10)
    folder = next((root / "train").iterdir()) / "FLAIR"
    out = tmp_path / "flair_masks.nii"
    assert main(["segment", "--model", "run", str(folder), str(out), "--zoom", "1.0"]) == 0
    series = read_dicom_series(folder)
    image = nib.load(out)
    assert image.shape == series.to_nifti_array().shape
    np.testing.assert_allclose(image.affine, series.affine, atol=1e-6)


def test_segment_refuses_a_tilted_series_before_loading_the_model(
    tmp_path: Path, loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A mask on a grid that disagrees with ImagePositionPatient is never written."""
    shape = (8, 16, 16)
    affine = standard_series_affine("axial", shape=shape, spacing=(1.0, 1.0, 3.0))
    folder = tmp_path / "FLAIR"
    write_dicom_series(np.full(shape, 90.0, np.float32), affine, folder, gantry_tilt=12.0)
    out = tmp_path / "masks.nii.gz"
    assert main(["segment", "--model", "run", str(folder), str(out)]) == 1
    printed = capsys.readouterr()
    assert "radiogenomics segment: error:" in printed.err
    assert "not stacked along their normal" in printed.err
    assert "12.00 degrees" in printed.err
    assert "Traceback" not in printed.err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [folder]
    assert loader == []
    # --series-uid picks a series of a folder only.
    source = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), dtype=np.float32), np.eye(4)), source)
    assert main(["segment", "--model", "run", str(source), str(out), "--series-uid", "1.2"]) == 2
    assert "--series-uid '1.2' picks a series of a DICOM folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["IN", "out.txt"], 2, "must name a file ending in '.nii.gz'"),
        (["missing.nii.gz", "out.nii.gz"], 1, "does not exist"),
        (["notes.txt", "out.nii.gz"], 2, "input="),
        (["IN", "out.nii.gz", "--zoom", "0.5"], 2, "zoom=0.5"),
        (["IN", "out.nii.gz", "--batch-size", "0"], 2, "batch_size=0"),
    ],
)
def test_segment_errors(
    tmp_path: Path,
    loader: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    source = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), dtype=np.float32), np.eye(4)), source)
    (tmp_path / "notes.txt").write_text("not an image")
    resolved = [
        str(source) if a == "IN" else str(tmp_path / a) if a.endswith((".gz", ".txt")) else a
        for a in args
    ]
    assert main(["segment", "--model", "run", *resolved]) == code
    assert message in capsys.readouterr().err
    if code == 2 and "zoom" not in message and "batch" not in message:
        assert loader == []  # path errors are found before the model is loaded


def test_label_map_encoding_and_writer(tmp_path: Path) -> None:
    masks = np.zeros((2, 4, 4, 4), dtype=np.uint8)
    masks[0, :2] = 1
    masks[1, 1:3] = 1  # ET partly outside WT: ET overrides
    labels = masks_to_label_map(masks)
    assert labels[0].max() == WT_LABEL
    assert (labels[1:3] == ET_LABEL).all()
    assert labels[3].max() == 0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    path = save_label_map(labels, affine, tmp_path / "sub" / "labels.nii.gz")
    image = nib.load(path)
    np.testing.assert_array_equal(np.asarray(image.dataobj), labels)
    np.testing.assert_allclose(image.affine, affine)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_cli_parser_does_not_import_torch() -> None:
    code = (
        "import sys, radiogenomics.cli as c; c.build_parser();"
        "print(','.join(m for m in ('torch', 'segmentation_models_pytorch') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_segment_speed_flags(
    tmp_path: Path, loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    shape = (24, 28, 12)
    distance = _blob(shape, (12.0, 14.0, 6.0))
    volume = np.where(distance <= 6, 400, 50).astype(np.int16)
    source = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), source)
    outputs = {}
    for name, flags in (
        ("default", []),
        ("fast", ["--amp", "bf16", "--channels-last"]),
        ("plain", ["--amp", "off", "--no-channels-last"]),
    ):
        out = tmp_path / f"{name}.nii.gz"
        assert main(["segment", "--model", "run", str(source), str(out), *flags]) == 0
        outputs[name] = np.asarray(nib.load(out).dataobj)
    # The stub's logits are +-10: bf16 cannot move a voxel across the threshold.
    np.testing.assert_array_equal(outputs["fast"], outputs["default"])
    np.testing.assert_array_equal(outputs["plain"], outputs["default"])
    assert _dice(outputs["default"] >= 1, distance <= 6) > 0.9
    capsys.readouterr()
    code = main(
        ["segment", "--model", "run", str(source), str(tmp_path / "x.nii.gz"), "--amp", "fp16"]
    )
    assert code == 2
    assert "needs CUDA" in capsys.readouterr().err


def test_segment_cleanup_drops_small_components(
    tmp_path: Path, loader: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    shape = (36, 40, 30)
    volume = np.where(_blob(shape, (18.0, 20.0, 15.0)) <= 8, 400, 50).astype(np.int16)
    volume[6:8, 30:32, 22:24] = 400  # a speck of 8 voxels, far from the blob
    source = tmp_path / "flair.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), source)
    outputs = {}
    for name, extra in (
        ("plain", []),
        ("3d", ["--cleanup-below", "30"]),
        ("2d", ["--cleanup-below", "30", "--cleanup-dims", "2d"]),
    ):
        out = tmp_path / f"{name}.nii.gz"
        assert main(["segment", "--model", "run", str(source), str(out), *extra]) == 0
        outputs[name] = np.asarray(nib.load(out).dataobj) > 0
    assert outputs["plain"][6:8, 30:32, 22:24].all()
    assert not outputs["3d"][6:8, 30:32, 22:24].any()
    assert not outputs["2d"][6:8, 30:32, 22:24].any()  # 4 pixels per axial slice
    blob = _blob(shape, (18.0, 20.0, 15.0)) <= 8
    assert _dice(outputs["3d"], blob) > _dice(outputs["plain"], blob) > 0.9
    # The blob's end slices hold few pixels: 2D drops them, 3D keeps them with the blob.
    assert np.count_nonzero(outputs["2d"]) < np.count_nonzero(outputs["3d"])
    assert main(["segment", "--model", "run", str(source), str(tmp_path / "x.nii.gz"),
                 "--cleanup-below", "1"]) == 2  # fmt: skip
    assert "would drop nothing" in capsys.readouterr().err
