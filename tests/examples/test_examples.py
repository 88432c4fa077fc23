"""Every example runs, on small settings, and its outputs are checked (not just exit 0)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_montage(path: Path, size: int) -> None:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, "the montage must be a readable PNG"
    assert image.shape[0] % size == 0
    assert image.shape[1] == 8 * size
    # Contours are drawn in pure green (WT) and red (ET), labels in cyan.
    assert np.any((image[..., 1] == 200) & (image[..., 0] == 0) & (image[..., 2] == 0))
    assert np.any((image[..., 2] == 230) & (image[..., 0] == 0) & (image[..., 1] == 0))
    assert np.any((image[..., 0] == 255) & (image[..., 1] == 255) & (image[..., 2] == 0))


def test_slice_pipeline_example_on_synthetic_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _load("slice_pipeline")
    out = tmp_path / "montage.png"
    assert example.main(["--out", str(out), "--size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "montage of" in printed
    assert "axial:" in printed
    _check_montage(out, 64)


def test_slice_pipeline_example_on_real_case(
    tmp_path: Path, real_case_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _load("slice_pipeline")
    out = tmp_path / "montage.png"
    assert example.main(["--case", str(real_case_dir), "--out", str(out), "--size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "montage of 24 slices" in printed
    _check_montage(out, 64)
