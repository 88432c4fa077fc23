"""Training curves from metrics.jsonl of both stages; matplotlib is optional."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest

from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    InputNotFoundError,
    InvalidInputError,
    MissingDependencyError,
)
from radiogenomics.viz import best_epoch, plot_training_curves, read_history


def _stage1(epochs: int = 6) -> list[dict[str, Any]]:
    """Lines as train_segmentation writes them (keys of SegmentationMetrics.compute)."""
    lines = []
    for epoch in range(1, epochs + 1):
        scores = {
            f"{name}_{channel}": 0.5 + 0.05 * epoch
            for name in ("dice", "iou")
            for channel in ("WT", "ET", "pooled")
        }
        lines.append(
            {
                "epoch": epoch,
                "lr": 1e-4,
                "encoder_frozen": epoch <= 2,
                "train_loss": 1 / epoch,
                "val_loss": abs(epoch - 4) + 0.5,
                **scores,
                "best": epoch <= 4,
                "seconds": 1.5,
            }
        )
    return lines


def _stage2() -> list[dict[str, Any]]:
    """Lines as train_classification writes them (AUCs may be null)."""
    return [
        {
            "epoch": 1,
            "lr": 1e-6,
            "backbone_frozen": True,
            "train_loss": 0.7,
            "val_loss": 0.69,
            "chunk_auc": None,
            "patient_auc": None,
            "best": True,
            "seconds": 3.0,
        },
        {
            "epoch": 2,
            "lr": 1e-6,
            "backbone_frozen": False,
            "train_loss": 0.68,
            "val_loss": 0.7,
            "chunk_auc": 0.6,
            "patient_auc": float("nan"),
            "best": False,
            "seconds": 3.0,
            "something_new": "text",
        },
    ]


def _write(folder: Path, lines: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (folder / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder


def _size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    return image.shape[0], image.shape[1]


def test_stage1_run_folder(tmp_path: Path) -> None:
    run = _write(tmp_path / "seg", _stage1())
    path = plot_training_curves(run, run / "curves.png")
    assert path == run / "curves.png"
    assert _size(path) == (420, 1100)  # two panels: losses and scores
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.jsonl"]


def test_stage2_history_with_nulls_nans_and_extra_keys(tmp_path: Path) -> None:
    run = _write(tmp_path / "cls", _stage2())
    assert _size(plot_training_curves(run / "metrics.jsonl", tmp_path / "a.png")) == (420, 1100)
    assert _size(plot_training_curves(_stage2(), tmp_path / "b.png")) == (420, 1100)


def test_losses_only_gives_one_panel(tmp_path: Path) -> None:
    lines = [{"epoch": 1, "train_loss": 1.0, "val_loss": None}, {"train_loss": 0.5}]
    assert _size(plot_training_curves(lines, tmp_path / "c.png", title="x")) == (420, 600)


@pytest.mark.parametrize("suffix", [".pdf", ".svg"])
def test_other_formats(tmp_path: Path, suffix: str) -> None:
    path = plot_training_curves(_stage1(), tmp_path / f"curves{suffix}")
    head = path.read_bytes()[:200]
    assert (b"%PDF" in head) if suffix == ".pdf" else (b"<svg" in path.read_bytes())


def test_best_epoch() -> None:
    assert best_epoch(_stage1()) == 4  # the last epoch flagged best
    assert best_epoch(_stage2()) == 1
    unflagged = [{"epoch": e, "val_loss": v} for e, v in [(1, 0.5), (2, 0.3), (3, 0.3)]]
    assert best_epoch(unflagged) == 2  # first of the lowest (strict improvement)
    assert best_epoch([{"epoch": 1, "val_loss": None}]) is None
    # Repeated epochs (a resumed run's file edited by hand) keep their last line.
    assert best_epoch([{"epoch": 1, "val_loss": 0.1}, {"epoch": 1, "val_loss": math.nan}]) is None


def test_read_history_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match=r"metrics\.jsonl"):
        read_history(tmp_path)
    bad = tmp_path / "metrics.jsonl"
    bad.write_text('{"epoch": 1}\n\n{oops\n', encoding="utf-8")
    with pytest.raises(CorruptFileError, match="line 3 is not JSON"):
        read_history(tmp_path)
    bad.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="line 1 is list"):
        read_history(bad)


def test_nothing_to_plot(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no finite"):
        plot_training_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "x.png")
    with pytest.raises(InvalidInputError, match="expected a mapping"):
        plot_training_curves([1.0], tmp_path / "x.png")  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match=r"\.png, \.pdf, \.svg"):
        plot_training_curves(_stage1(), tmp_path / "x.jpg")
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        MissingDependencyError, match=r'pip install "radiogenomics\[plots\]"'
    ) as info:
        plot_training_curves(_stage1(), tmp_path / "curves.png")
    assert isinstance(info.value, ImportError)
    assert info.value.name == "matplotlib"
    assert not list(tmp_path.iterdir())


def test_false_positive_slice_rates_are_validation_scores(tmp_path: Path) -> None:
    lines = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "fp_slice_rate_WT": 0.5 / e}
        for e in (1, 2, 3)
    ]
    run = _write(tmp_path / "seg", lines)
    assert _size(plot_training_curves(run, tmp_path / "fp.png")) == (420, 1100)  # two panels
    losses_only = _write(
        tmp_path / "plain", [{k: v for k, v in x.items() if "fp" not in k} for x in lines]
    )
    assert _size(plot_training_curves(losses_only, tmp_path / "plain.png")) == (420, 600)
