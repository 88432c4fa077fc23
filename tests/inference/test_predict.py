"""The whole inference chain: frames as in preparation, chunks, TTA, one row per patient."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from radiogenomics.data import ClassificationPrepConfig, chunk_starts, prepare_classification
from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.inference import read_submission, run_prediction, write_submission
from radiogenomics.inference.predict import predict_patients
from radiogenomics.models.sequence import SequenceClassifier
from radiogenomics.presets import classification_preset
from radiogenomics.testing.synthetic_dicom import write_task2_cohort

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass(frozen=True)
class Info:
    mri_type: str
    prep_config: dict[str, Any]
    image_size: int | None = 32
    sequence_length: int = 4
    stride: int = 2
    last: str = "pad"
    segmentation_model: dict[str, Any] = field(default_factory=dict)


def make_loader(
    prep: ClassificationPrepConfig | None = None, *, stage1_sha256: str | None = None
) -> Any:
    """A stand-in for load_classification_model: run folder name = MRI type."""
    config = {} if prep is None else prep.to_dict()
    record = {} if stage1_sha256 is None else {"sha256": stage1_sha256}

    def load(path: Path, *, which: str = "best", device: str = "cpu") -> tuple[Any, Info]:
        torch.manual_seed(len(path.name))
        model = SequenceClassifier(backbone="test_resnet", hidden_size=8, sequence_length=4)
        return model.eval(), Info(mri_type=path.name, prep_config=config, segmentation_model=record)

    return load


@pytest.fixture(scope="module")
def test_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task2")
    write_task2_cohort(root, n_patients=3, seed=7, size=40, n_slices=9, split="test")
    return root / "test"


RUNS = [Path("runs/FLAIR"), Path("runs/T1wCE")]


def test_every_patient_gets_one_row(seg_run: Path, test_dir: Path, tmp_path: Path) -> None:
    prep = ClassificationPrepConfig()
    result = run_prediction(
        test_dir, segmentation_run=seg_run, classification_runs=RUNS, loader=make_loader(prep)
    )
    patients = sorted(p.name for p in test_dir.iterdir())
    assert list(result.probabilities) == patients
    assert all(0.0 <= v <= 1.0 for v in result.probabilities.values())
    assert result.fallback_patients == []
    assert result.failed == []
    assert {m for _, m in result.chunks} == {"FLAIR", "T1wCE"}
    path = write_submission(result.probabilities, tmp_path / "submission.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["BraTS21ID", "MGMT_value"]
    assert [r[0] for r in rows[1:]] == patients
    assert read_submission(path, expected=patients) == result.probabilities


def test_frames_and_chunks_match_preparation(seg_run: Path, test_dir: Path, tmp_path: Path) -> None:
    prep = classification_preset("released-code", mri_types=("FLAIR", "T1wCE"))
    store = tmp_path / "store"
    assert prepare_classification(test_dir, store, segmentation_run=seg_run, config=prep).ok
    result = run_prediction(
        test_dir,
        segmentation_run=seg_run,
        classification_runs=RUNS,
        loader=make_loader(prep),
        tta=None,
    )
    with (store / "series.csv").open(newline="") as handle:
        kept = {(r["patient_id"], r["mri_type"]): int(r["n_kept"]) for r in csv.DictReader(handle)}
    expected = {k: len(chunk_starts(n, length=4, stride=2)) for k, n in kept.items() if n}
    assert result.chunks == expected


def test_no_surviving_frame_gets_the_fallback(seg_run: Path, test_dir: Path) -> None:
    prep = ClassificationPrepConfig(min_ratio=1e6)
    result = run_prediction(
        test_dir, segmentation_run=seg_run, classification_runs=RUNS, loader=make_loader(prep)
    )
    patients = sorted(p.name for p in test_dir.iterdir())
    assert result.probabilities == dict.fromkeys(patients, 0.5)
    assert result.fallback_patients == patients
    assert result.chunks == {}


def test_single_patient_folder(seg_run: Path, test_dir: Path) -> None:
    patient = sorted(test_dir.iterdir())[1]
    probabilities = predict_patients(
        patient,
        segmentation_run=seg_run,
        classification_runs=[Path("runs/T2w")],
        loader=make_loader(ClassificationPrepConfig()),
    )
    assert list(probabilities) == [patient.name]


def test_a_folder_of_two_series_is_a_failed_series_not_a_prediction(
    seg_run: Path, test_dir: Path, tmp_path: Path
) -> None:
    """The FLAIR folder gets a second series: its FLAIR fails alone, T1wCE still predicts."""
    import numpy as np

    from radiogenomics.io import read_dicom_series
    from radiogenomics.testing import write_dicom_series

    split = tmp_path / "test"
    shutil.copytree(test_dir, split)
    patient = sorted(p.name for p in split.iterdir())[0]
    folder = split / patient / "FLAIR"
    series = read_dicom_series(folder)
    shifted = np.array(series.affine)
    shifted[:3, 3] += shifted[:3, 2] / 2  # interleaved, half a slice apart
    numbers = range(series.shape[0] + 1, 2 * series.shape[0] + 1)
    write_dicom_series(series.pixels[::-1], shifted, folder, append=True, numbers=numbers)

    result = run_prediction(
        split,
        segmentation_run=seg_run,
        classification_runs=RUNS,
        loader=make_loader(ClassificationPrepConfig()),
    )
    assert [(p, m) for p, m, _ in result.failed] == [(patient, "FLAIR")]
    assert "the folder holds 2 series" in result.failed[0][2]
    assert f"SKIPPED {patient} FLAIR" in result.summary()
    assert list(result.probabilities) == sorted(p.name for p in split.iterdir())
    assert (patient, "FLAIR") not in result.chunks
    assert (patient, "T1wCE") in result.chunks


def test_runs_without_settings_are_refused(seg_run: Path, test_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"prep-config\.json"):
        predict_patients(
            test_dir, segmentation_run=seg_run, classification_runs=RUNS, loader=make_loader()
        )
    with pytest.raises(ConfigurationError, match="at least one run"):
        predict_patients(test_dir, segmentation_run=seg_run, classification_runs=[])


def test_timings_split_the_work(seg_run: Path, test_dir: Path) -> None:
    result = run_prediction(
        test_dir,
        segmentation_run=seg_run,
        classification_runs=RUNS,
        loader=make_loader(ClassificationPrepConfig()),
    )
    assert set(result.timings) == {"load", "decode", "segmentation", "classification"}
    assert all(seconds > 0.0 for seconds in result.timings.values())


def test_speed_options_keep_the_probabilities(seg_run: Path, test_dir: Path) -> None:
    def predict(**options: Any) -> dict[str, float]:
        return predict_patients(
            test_dir,
            segmentation_run=seg_run,
            classification_runs=RUNS,
            loader=make_loader(ClassificationPrepConfig()),
            **options,
        )

    default = predict()
    assert predict(amp="off", channels_last=False) == default  # CPU defaults: plain float32
    channels_last = predict(channels_last=True)
    bf16 = predict(amp="bf16", channels_last=True)
    for patient, probability in default.items():
        assert channels_last[patient] == pytest.approx(probability, abs=1e-5)
        assert bf16[patient] == pytest.approx(probability, abs=2e-2)
    with pytest.raises(ConfigurationError, match="needs CUDA"):
        predict(amp="fp16")


@pytest.fixture
def predict_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[dict[str, Any]]]:
    """``radiogenomics predict``'s arguments, with ``run_prediction`` replaced by a recorder.

    Returns ``(base_args, calls)``: the options of each ``run_prediction`` call land in
    ``calls``.
    """
    from radiogenomics.inference import PredictionResult, predict

    calls: list[dict[str, Any]] = []

    def fake_run_prediction(task2_dir: Path, **options: Any) -> PredictionResult:
        calls.append(options)
        return PredictionResult(probabilities={"00001": 0.25})

    monkeypatch.setattr(predict, "run_prediction", fake_run_prediction)
    base = [
        "predict",
        "--task2-dir", str(tmp_path),
        "--segmentation-model", "seg",
        "--classification-models", "cls",
        "--out", str(tmp_path / "submission.csv"),
    ]  # fmt: skip
    return base, calls


def test_predict_command_forwards_the_speed_flags(
    predict_command: tuple[list[str], list[dict[str, Any]]],
) -> None:
    from radiogenomics.cli import main

    base, calls = predict_command
    assert main(base) == 0
    assert main([*base, "--amp", "bf16", "--channels-last", "--compile"]) == 0
    assert main([*base, "--amp", "off", "--no-channels-last"]) == 0
    chosen = [(c["amp"], c["channels_last"], c["compile"]) for c in calls]
    assert chosen == [("auto", None, False), ("bf16", True, True), ("off", False, False)]
    assert main([*base, "--allow-other-segmentation-model"]) == 0
    allowed = [c["allow_other_segmentation_model"] for c in calls]
    assert allowed == [False, False, False, True]


def test_predict_command_takes_its_settings_from_the_preset(
    predict_command: tuple[list[str], list[dict[str, Any]]],
) -> None:
    from radiogenomics.cli import main

    base, calls = predict_command
    assert main(base) == 0
    assert main([*base, "--preset", "tiny", "--fallback", "0.3"]) == 0
    assert main([*base, "--preset", "tiny", "--batch-size", "2", "--no-tta"]) == 0
    reference, tiny, changed = calls
    assert (reference["batch_size"], reference["mask_batch_size"], reference["fallback"]) == (
        4,
        32,
        0.5,
    )
    assert reference["tta"].views == (1.2,)
    assert (tiny["batch_size"], tiny["mask_batch_size"], tiny["fallback"]) == (8, 64, 0.3)
    assert (changed["batch_size"], changed["tta"]) == (2, None)


def test_prediction_refuses_another_stage1_model(seg_run: Path, test_dir: Path) -> None:
    # It used to predict with any stage 1 model: other masks, other frames, another
    # probability (0.515 instead of 0.531 for one patient), and exit 0.
    from radiogenomics._files import file_digest

    prep = ClassificationPrepConfig()
    other = make_loader(prep, stage1_sha256="0" * 64)
    with pytest.raises(ConfigurationError, match="another stage 1 model") as info:
        run_prediction(test_dir, segmentation_run=seg_run, classification_runs=RUNS, loader=other)
    assert "--allow-other-segmentation-model" in str(info.value)
    allowed = run_prediction(
        test_dir,
        segmentation_run=seg_run,
        classification_runs=RUNS[:1],
        loader=other,
        allow_other_segmentation_model=True,
    )
    assert len(allowed.notes) == 1
    assert "accepted" in allowed.notes[0]
    assert "NOTE" in allowed.summary()
    same = make_loader(prep, stage1_sha256=file_digest(seg_run / "best.safetensors"))
    matched = run_prediction(
        test_dir, segmentation_run=seg_run, classification_runs=RUNS[:1], loader=same
    )
    assert matched.notes == []
    assert matched.probabilities == allowed.probabilities
    unrecorded = run_prediction(
        test_dir, segmentation_run=seg_run, classification_runs=RUNS[:1], loader=make_loader(prep)
    )
    assert ["does not record its stage 1 model" in n for n in unrecorded.notes] == [True]


class MaxOfSeries:
    """A user's aggregator: the highest chunk probability of each patient (0.5 if none)."""

    def __init__(self) -> None:
        self.best: dict[str, float] = {}

    def update(self, patient_ids: Any, mri_types: Any, probabilities: Any) -> None:
        for patient, value in zip(
            patient_ids, torch.as_tensor(probabilities).tolist(), strict=True
        ):
            self.best[patient] = max(self.best.get(patient, 0.0), float(value))

    def aggregate(self, patients: Any = None) -> dict[str, float]:
        return {p: self.best.get(p, 0.5) for p in (patients or self.best)}


def test_prediction_takes_the_parts(seg_run: Path, test_dir: Path) -> None:
    from radiogenomics.inference import Aggregator, load_classification_runs

    prep = ClassificationPrepConfig()
    runs = load_classification_runs(RUNS, segmentation_run=seg_run, loader=make_loader(prep))
    assert [r.mri_type for r in runs] == ["FLAIR", "T1wCE"]
    assert runs[0].recipe is runs[1].recipe  # one recipe per setting: frames made once
    by_folders = run_prediction(
        test_dir, segmentation_run=seg_run, classification_runs=RUNS, loader=make_loader(prep)
    )
    by_parts = run_prediction(test_dir, classifiers=runs)
    assert by_parts.probabilities == by_folders.probabilities
    maximum = MaxOfSeries()
    assert isinstance(maximum, Aggregator)
    custom = run_prediction(test_dir, classifiers=runs, aggregator=maximum)
    assert list(custom.probabilities) == list(by_parts.probabilities)  # one row per patient
    assert custom.probabilities == {p: maximum.best.get(p, 0.5) for p in custom.probabilities}
    assert custom.fallback_patients == by_parts.fallback_patients
    with pytest.raises(ConfigurationError, match="one of the two"):
        run_prediction(test_dir, classifiers=runs, classification_runs=RUNS)
    with pytest.raises(ConfigurationError, match="one of the two"):
        run_prediction(test_dir, segmentation_run=seg_run)


def test_prediction_cleans_masks_as_the_runs_frames_were(seg_run: Path) -> None:
    from radiogenomics.inference import MaskCleanup, load_classification_runs

    cleaned = ClassificationPrepConfig(cleanup_drop_below=30, cleanup_dims="2d")
    plain = ClassificationPrepConfig()
    flair = load_classification_runs(
        RUNS[:1], segmentation_run=seg_run, loader=make_loader(cleaned)
    )
    other = load_classification_runs(RUNS[:1], segmentation_run=seg_run, loader=make_loader(plain))
    masks = flair[0].recipe.masks
    assert getattr(masks, "cleanup", None) == MaskCleanup(drop_below=30, dims="2d")
    assert flair[0].recipe.record() == cleaned.to_dict()
    assert getattr(other[0].recipe.masks, "cleanup", "unset") is None
