"""`radiogenomics train-segmentation` end to end, on a tiny synthetic cohort."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radiogenomics.cli import main
from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
from radiogenomics.io import find_brats_cases


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared-cli") / "out"
    config = SegmentationPrepConfig(size=64, modalities=("t1ce",), planes=("axial",))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config).ok
    return out


def _args(prepared: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train-segmentation",
        "--data", str(prepared),
        "--out", str(out),
        "--architecture", "Unet",
        "--encoder", "tu-test_resnet",
        "--image-size", "64",
        "--batch-size", "8",
        "--lr", "0.002",
        "--warmup-epochs", "0",
        "--patience", "5",
        "--loss", "bce-dice",
        "--folds", "2",
        "--fold", "1",
        "--amp", "off",
        "--workers", "0",
        "--seed", "3",
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def test_train_then_resume(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_args(prepared, out, "--epochs", "1")) == 0
    assert "best epoch 1" in capsys.readouterr().out
    assert main(_args(prepared, out, "--epochs", "2", "--resume")) == 0
    printed = capsys.readouterr().out
    assert "after 2 epochs" in printed
    assert "dice_WT" in printed
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    config = json.loads((out / "config.json").read_text())["train_config"]
    assert config["loss"] == "bce-dice"
    assert (config["n_folds"], config["fold"]) == (2, 1)
    # Rerunning without --resume is a usage error (exit 2), not a silent overwrite.
    assert main(_args(prepared, out, "--epochs", "2")) == 2
    assert "--resume" in capsys.readouterr().err


def test_hub_weights_by_name_exit_2(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(_args(prepared, tmp_path / "x", "--encoder-weights", "imagenet"))
    assert status == 2
    assert "never downloads" in capsys.readouterr().err
