"""Cross-validation of stage 2 on synthetic frame stores: a learnable label and random labels.

The two stores hold the same patients, labels and frame counts; in the second, each
patient's frames show a label drawn at random, so no model can beat chance on it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError
from radiogenomics.metrics.oof import COMBINED, compare_oof, read_oof
from radiogenomics.testing import write_synthetic_frame_store
from radiogenomics.training import (
    ClassificationTrainConfig,
    CrossValidationResult,
    cross_validate_classification,
)

CONFIG = ClassificationTrainConfig(
    backbone="test_resnet",
    hidden_size=8,
    head="pooled",
    sequence_length=6,
    stride=2,
    image_size=32,
    batch_size=8,
    lr=3e-3,
    warmup_epochs=0,
    epochs=3,
    seed=1,
    amp="off",
    device="cpu",
)
OPTIONS = {"n_folds": 2, "n_boot": 500, "n_permutations": 999}


def _cross_validate(root: Path, *, random_labels: bool) -> CrossValidationResult:
    store = write_synthetic_frame_store(
        root / "store",
        n_patients=20,
        size=32,
        frames=(4, 10),
        n_empty=1,
        random_labels=random_labels,
    )
    return cross_validate_classification(
        store, root / "cv", config=CONFIG, progress=False, **OPTIONS
    )


@pytest.fixture(scope="module")
def learned(
    tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> CrossValidationResult:
    return _cross_validate(tmp_path_factory.mktemp("cv-learnable"), random_labels=False)


@pytest.fixture(scope="module")
def chance(
    tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> CrossValidationResult:
    return _cross_validate(tmp_path_factory.mktemp("cv-random"), random_labels=True)


def test_every_patient_is_validated_exactly_once(learned: CrossValidationResult) -> None:
    out = learned.out_dir
    patients = sorted(learned.folds)
    assert len(patients) == 20
    assert sorted(set(learned.folds.values())) == [0, 1]
    validated = [p for (_, _), run in learned.runs.items() for p in run.val_patients]
    assert sorted(validated) == patients  # once each: the folds partition the patients
    for (fold, mri_type), run in learned.runs.items():
        assert run.run_dir == out / f"fold-{fold}" / mri_type
        assert (run.run_dir / "best.safetensors").is_file()
        assert {learned.folds[p] for p in run.val_patients} == {fold}
        assert not set(run.train_patients) & set(run.val_patients)
    folds_csv = (out / "folds.csv").read_text().splitlines()
    assert folds_csv[0] == "BraTS21ID,fold,MGMT_value"
    assert len(folds_csv) == 21


def test_oof_rows_and_patients_without_frames(learned: CrossValidationResult) -> None:
    rows = read_oof(learned.out_dir / "oof.csv")
    assert sorted(rows, key=repr) == sorted(learned.oof, key=repr)
    flair = {r.patient_id: r for r in rows if r.mri_type == "FLAIR"}
    combined = {r.patient_id: r for r in rows if r.mri_type == COMBINED}
    # 00019 kept no frame: no FLAIR row, the fallback as its combined probability.
    assert learned.fallback_patients == ("00019",)
    assert "00019" not in flair
    assert combined["00019"].probability == 0.5
    assert sorted(combined) == sorted(learned.folds)
    for patient, row in flair.items():  # one type: combined = that type's probability
        assert combined[patient].probability == pytest.approx(row.probability)
        assert row.fold == learned.folds[patient]


def test_a_learnable_label_is_found(learned: CrossValidationResult) -> None:
    assert learned.summary is not None
    for group in learned.summary.groups:
        assert group.report is not None
        assert group.report.auc > 0.8, group
        assert group.report.p_value < 0.01, group
    record = json.loads((learned.out_dir / "summary.json").read_text())
    assert record["patients"] == 20
    assert record["folds"] == {"source": "stratified-group-k-fold", "n_folds": 2, "fold_seed": 0}
    assert record["fallback_patients"] == ["00019"]
    assert [g["mri_type"] for g in record["auc"]["groups"]] == ["FLAIR", COMBINED]
    assert len(record["runs"]) == 2


def test_random_labels_are_not_learnt(chance: CrossValidationResult) -> None:
    assert chance.summary is not None
    for group in chance.summary.groups:
        assert group.report is not None
        assert group.report.low <= 0.5 <= group.report.high, group


def test_compare_settings_on_the_same_folds(
    learned: CrossValidationResult, chance: CrossValidationResult
) -> None:
    assert learned.folds == chance.folds  # same patients and labels: the same folds
    same = compare_oof(learned.oof, learned.oof, n_boot=200)
    assert all(c is not None and (c.delta, c.p_value) == (0.0, 1.0) for _, c in same.groups)
    designed = dict(compare_oof(learned.oof, chance.oof, n_boot=200).groups)
    combined = designed[COMBINED]
    assert combined is not None
    assert combined.delta > 0.2
    assert combined.p_value < 0.05


def test_a_killed_cross_validation_resumes(learned: CrossValidationResult, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    shutil.copytree(learned.out_dir, out)
    store = learned.out_dir.parent / "store"
    finished = out / "fold-0" / "FLAIR" / "last.state.pt"
    stamp = finished.stat().st_mtime_ns
    # Killed while training fold 1, before the tables were written.
    shutil.rmtree(out / "fold-1")
    (out / "oof.csv").unlink()
    (out / "summary.json").unlink()
    with pytest.raises(ConfigurationError, match="--resume"):
        cross_validate_classification(store, out, config=CONFIG, progress=False, **OPTIONS)
    with pytest.raises(ConfigurationError, match="folds differ"):
        cross_validate_classification(
            store, out, config=CONFIG, resume=True, progress=False, fold_seed=5, **OPTIONS
        )
    resumed = cross_validate_classification(
        store, out, config=CONFIG, resume=True, progress=False, **OPTIONS
    )
    assert finished.stat().st_mtime_ns == stamp  # the finished run was not trained again
    assert (out / "fold-1" / "FLAIR" / "best.safetensors").is_file()
    assert resumed.runs[(1, "FLAIR")].epochs_completed == CONFIG.epochs
    before = {(r.patient_id, r.mri_type): r.probability for r in learned.oof}
    for row in resumed.oof:  # on the CPU, the retrained fold gives the same predictions
        assert row.probability == pytest.approx(before[(row.patient_id, row.mri_type)], abs=1e-6)


def test_refusals_before_any_training(learned: CrossValidationResult, tmp_path: Path) -> None:
    store = learned.out_dir.parent / "store"
    with pytest.raises(ConfigurationError, match="inside the frame store"):
        cross_validate_classification(store, store / "cv", config=CONFIG)
    with pytest.raises(InvalidInputError, match="fewer than the 20 folds"):
        cross_validate_classification(store, tmp_path / "a", config=CONFIG, n_folds=20)
    with pytest.raises(LabelError, match="no fold"):
        cross_validate_classification(store, tmp_path / "b", config=CONFIG, folds={"00000": 0})
    one_fold = dict.fromkeys(learned.folds, 3)
    with pytest.raises(InvalidInputError, match="one fold"):
        cross_validate_classification(store, tmp_path / "c", config=CONFIG, folds=one_fold)
    with pytest.raises(InvalidInputError, match="no series of"):
        cross_validate_classification(store, tmp_path / "d", config=CONFIG, mri_types=["T2w"])
    with pytest.raises(ConfigurationError, match="fallback"):
        cross_validate_classification(store, tmp_path / "e", config=CONFIG, fallback=2.0)
    assert not any((tmp_path / name).exists() for name in "abcde")
