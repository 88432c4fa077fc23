"""The prepare-classification and predict commands."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from radiogenomics.cli import main
from radiogenomics.testing.synthetic_dicom import write_task2_cohort

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(seg_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    write_task2_cohort(root / "data", n_patients=2, seed=5, size=40, n_slices=8)
    return root / "data", seg_run


def test_prepare_classification_command(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, seg = setup
    argv = [
        "prepare-classification",
        "--task2-dir", str(data / "train"),
        "--labels", str(data / "train_labels.csv"),
        "--segmentation-model", str(seg),
        "--out", str(tmp_path / "out"),
        "--preset", "released-code",
        "--mri-types", "FLAIR", "T2w",
        "--max-contours", "4",
        "--workers", "2",
        "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "2 patients written" in capsys.readouterr().out
    config = json.loads((tmp_path / "out" / "prepare-config.json").read_text())
    assert config["area"] == "largest_contour"
    assert config["max_contours"] == 4
    with (tmp_path / "out" / "series.csv").open(newline="") as handle:
        assert {r["mri_type"] for r in csv.DictReader(handle)} == {"FLAIR", "T2w"}
    # Other settings in the same folder: a configuration error (exit 2).
    assert main([*argv[:-5], "--min-ratio", "0.2", "--no-progress"]) == 2
    assert "other settings" in capsys.readouterr().err
    missing = [*argv[:6], str(tmp_path / "nothing"), *argv[7:]]
    assert main(missing) == 1


def test_prepare_classification_cleanup_is_recorded_and_applied(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    # The run's model marks the centre of every slice: one component across the series.
    data, seg = setup
    base = [
        "prepare-classification",
        "--task2-dir", str(data / "train"),
        "--segmentation-model", str(seg),
        "--mri-types", "FLAIR",
        "--no-progress",
    ]  # fmt: skip
    kept = {}
    for name, extra in (
        ("plain", []),
        ("3d", ["--cleanup-below", "100"]),
        ("huge", ["--cleanup-below", "100000000", "--cleanup-dims", "2d"]),
    ):
        out = tmp_path / name
        assert main([*base, "--out", str(out), *extra]) == 0
        config = json.loads((out / "prepare-config.json").read_text())
        with (out / "series.csv").open(newline="") as handle:
            kept[name] = sum(int(r["n_kept"]) for r in csv.DictReader(handle))
        if name == "plain":
            assert "cleanup_drop_below" not in config
        else:
            assert config["cleanup_drop_below"] == int(extra[1])
            assert config.get("cleanup_dims", "3d") == ("2d" if name == "huge" else "3d")
    assert kept["plain"] == kept["3d"] > 0  # the column is large: kept
    assert kept["huge"] == 0  # every component dropped: no frame shows a tumor


@dataclass(frozen=True)
class Info:
    mri_type: str
    prep_config: dict[str, Any]
    image_size: int = 32
    sequence_length: int = 4
    stride: int = 2
    last: str = "pad"


def test_predict_command(
    setup: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from radiogenomics.data import ClassificationPrepConfig
    from radiogenomics.models.sequence import SequenceClassifier
    from radiogenomics.training import classification

    def load(path: Path, *, which: str = "best", device: str = "cpu") -> tuple[Any, Info]:
        model = SequenceClassifier(backbone="test_resnet", hidden_size=8, sequence_length=4)
        return model.eval(), Info(path.name, ClassificationPrepConfig().to_dict())

    monkeypatch.setattr(classification, "load_classification_model", load)
    data, seg = setup
    out = tmp_path / "sub" / "submission.csv"
    argv = [
        "predict",
        "--task2-dir", str(data / "train"),
        "--segmentation-model", str(seg),
        "--classification-models", str(tmp_path / "FLAIR"), str(tmp_path / "T2w"),
        "--out", str(out),
        "--no-tta",
        "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["BraTS21ID", "MGMT_value"]
    assert [r[0] for r in rows[1:]] == sorted(p.name for p in (data / "train").iterdir())
