"""ROC curves with AUC and bootstrap interval; held-out predictions of a stage 2 run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from radiogenomics.errors import (
    ConfigurationError,
    InputNotFoundError,
    InvalidInputError,
    LabelError,
    MissingDependencyError,
)
from radiogenomics.inference import roc_auc
from radiogenomics.viz import held_out_predictions, plot_roc


def _scores(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    truth = np.arange(n) % 2
    return truth, np.clip(0.3 * truth + 0.7 * rng.random(n), 0, 1)


def test_writes_a_square_png(tmp_path: Path) -> None:
    truth, scores = _scores()
    path = plot_roc(truth, scores, tmp_path / "roc.png", n_boot=200, title="held out")
    image = cv2.imread(str(path))
    assert image is not None
    assert image.shape == (520, 520, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roc.png"]


def test_lists_and_tiny_samples(tmp_path: Path) -> None:
    # Two patients and 10 resamples: too few hold both classes, so no interval; no error.
    assert plot_roc([0, 1], [0.2, 0.7], tmp_path / "a.png", n_boot=10).is_file()
    assert plot_roc([1, 0, 1], [0.9, 0.1, 0.5], tmp_path / "b.svg", n_boot=0).is_file()


def test_errors(tmp_path: Path) -> None:
    truth, scores = _scores()
    with pytest.raises(LabelError, match="both classes"):
        plot_roc([1, 1, 1], [0.1, 0.2, 0.3], tmp_path / "x.png")
    with pytest.raises(LabelError, match="0/1"):
        plot_roc([0, 2], [0.1, 0.2], tmp_path / "x.png")
    with pytest.raises(InvalidInputError, match="one score per label"):
        plot_roc(truth, scores[:-1], tmp_path / "x.png")
    with pytest.raises(ConfigurationError, match="n_boot=-1"):
        plot_roc(truth, scores, tmp_path / "x.png", n_boot=-1)
    with pytest.raises(ConfigurationError, match="at least 10"):
        plot_roc(truth, scores, tmp_path / "x.png", n_boot=5)
    with pytest.raises(ConfigurationError, match="suffix"):
        plot_roc(truth, scores, tmp_path / "x.bmp")
    assert not list(tmp_path.iterdir())


def test_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"radiogenomics\[plots\]") as info:
        plot_roc([0, 1], [0.2, 0.7], tmp_path / "roc.png")
    assert isinstance(info.value, MissingDependencyError)


@pytest.mark.slow
def test_held_out_predictions_match_the_training_loop(stage2_runs: tuple[Path, str]) -> None:
    out, _ = stage2_runs
    for mri_type in ("FLAIR", "T1wCE"):
        run = out / mri_type
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        best = [x for x in lines if x["best"]][-1]
        config = json.loads((run / "config.json").read_text())
        scored = held_out_predictions(run, batch_size=3)
        assert scored.mri_type == mri_type
        assert scored.epoch == best["epoch"]
        assert scored.patients == tuple(config["val_patients"])
        assert scored.scores.shape == scored.truth.shape == (len(scored.patients),)
        assert ((scored.scores >= 0) & (scored.scores <= 1)).all()
        assert roc_auc(scored.truth, scored.scores) == pytest.approx(best["patient_auc"])
        last = held_out_predictions(run, which="last", data_dir=config["data_dir"])
        assert last.epoch == lines[-1]["epoch"]


def test_held_out_predictions_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match=r"config\.json"):
        held_out_predictions(tmp_path)
    (tmp_path / "config.json").write_text('{"data_dir": "x"}')
    with pytest.raises(InvalidInputError, match="val_patients"):
        held_out_predictions(tmp_path)
    with pytest.raises(ConfigurationError, match="batch_size=0"):
        held_out_predictions(tmp_path, batch_size=0)
