"""`radiogenomics train-classification` end to end, on a tiny synthetic frame store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radiogenomics.cli import main
from radiogenomics.testing import write_synthetic_frame_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-store") / "store"
    return write_synthetic_frame_store(
        root, n_patients=8, mri_types=("FLAIR", "T1wCE"), size=32, frames=(3, 8)
    )


def _args(store: Path, out: Path, mri_type: str, *extra: str) -> list[str]:
    return [
        "train-classification",
        "--data", str(store),
        "--mri-type", mri_type,
        "--out", str(out),
        "--backbone", "test_resnet",
        "--hidden-size", "8",
        "--num-layers", "1",
        "--head", "pooled",
        "--dropout", "0.1",
        "--sequence-length", "4",
        "--stride", "2",
        "--last", "shift",
        "--image-size", "32",
        "--batch-size", "4",
        "--lr", "0.002",
        "--weight-decay", "0.01",
        "--warmup-epochs", "1",
        "--patience", "5",
        "--val-fraction", "0.25",
        "--amp", "off",
        "--workers", "0",
        "--seed", "2",
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def test_train_then_resume(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(_args(store, out, "T1wCE", "--epochs", "1")) == 0
    assert "T1wCE: finished after 1 epochs; best epoch 1" in capsys.readouterr().out
    assert main(_args(store, out, "T1wCE", "--epochs", "2", "--resume")) == 0
    printed = capsys.readouterr().out
    assert "after 2 epochs" in printed
    assert "val loss" in printed
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2]
    assert "patient_auc" in lines[0]
    config = json.loads((out / "config.json").read_text())["train_config"]
    assert (config["mri_type"], config["head"], config["last"]) == ("T1wCE", "pooled", "shift")
    assert (config["sequence_length"], config["stride"], config["dropout"]) == (4, 2, 0.1)
    # Rerunning without --resume is a usage error (exit 2), not a silent overwrite.
    assert main(_args(store, out, "T1wCE", "--epochs", "2")) == 2
    assert "--resume" in capsys.readouterr().err


def test_all_types_and_errors(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all"
    assert main(_args(store, out, "all", "--epochs", "1", "--no-augment")) == 0
    printed = capsys.readouterr().out
    assert "FLAIR:" in printed
    assert "T1wCE:" in printed
    assert (out / "FLAIR" / "best.safetensors").is_file()
    assert (out / "T1wCE" / "best.safetensors").is_file()
    assert main(_args(store, tmp_path / "t2", "T2w", "--epochs", "1")) == 1
    assert "no T2w series" in capsys.readouterr().err
    status = main(_args(store, tmp_path / "w", "FLAIR", "--backbone-weights", "imagenet"))
    assert status == 2
    assert "never downloads" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_args(store, tmp_path / "x", "flair"))
