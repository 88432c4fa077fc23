"""Stage 2 training on CPU: one step, a short run that learns, exact resume, loading."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from radiogenomics.data import ChunkDataset, FrameStore
from radiogenomics.errors import (
    ConfigurationError,
    InputNotFoundError,
    InvalidInputError,
    LabelError,
)
from radiogenomics.testing import write_synthetic_frame_store
from radiogenomics.training import (
    ClassificationTrainConfig,
    load_classification_model,
    train_classification,
    train_classification_all,
)

CONFIG = ClassificationTrainConfig(
    backbone="test_resnet",
    hidden_size=16,
    sequence_length=6,
    stride=2,
    image_size=32,
    batch_size=8,
    lr=3e-3,
    warmup_epochs=1,
    epochs=3,
    val_fraction=0.25,
    seed=3,
    device="cpu",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cls-store") / "store"
    return write_synthetic_frame_store(root, n_patients=16, size=32, frames=(4, 10), n_empty=1)


@pytest.fixture(scope="module")
def full_run(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cls-run") / "full"
    train_classification(store, out, config=CONFIG, progress=False)
    return out


def _history(run: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_one_training_step_on_cpu(store: Path) -> None:
    torch.manual_seed(0)
    frame_store = FrameStore(store)
    dataset = ChunkDataset(
        frame_store.frames_by_series(mri_type="FLAIR"), frame_store.labels, length=6, stride=2
    )
    batch = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    model = CONFIG.create_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    logits = model(batch["frames"], batch["valid"])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["label"])
    loss.backward()
    optimizer.step()
    assert logits.shape == (4,)
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_short_run_learns_and_writes_its_files(store: Path, full_run: Path) -> None:
    history = _history(full_run)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert [h["backbone_frozen"] for h in history] == [True, False, False]
    for key in ("lr", "train_loss", "val_loss", "chunk_auc", "patient_auc", "seconds"):
        assert key in history[0]
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # type: ignore[operator]
    assert history[-1]["patient_auc"] >= 0.9  # type: ignore[operator]
    assert history[-1]["patient_auc"] > history[0]["patient_auc"]  # type: ignore[operator]
    for name in (
        "best.safetensors",
        "last.safetensors",
        "last.state.pt",
        "config.json",
        "prep-config.json",
    ):
        assert (full_run / name).is_file()
    assert not list(full_run.glob(".*.tmp"))
    assert json.loads((full_run / "prep-config.json").read_text()) == FrameStore(store).prep_config
    state = torch.load(full_run / "last.state.pt", weights_only=True)
    assert state["epoch"] == 3


def test_validation_patients_are_held_out_and_stratified(store: Path, full_run: Path) -> None:
    config = json.loads((full_run / "config.json").read_text())
    train, val = set(config["train_patients"]), set(config["val_patients"])
    labels = FrameStore(store).labels
    assert not train & val
    assert train | val == set(labels)
    assert {labels[p] for p in val} == {0, 1}
    assert len(val) == 4  # 25 % of 8 patients per class


def test_given_validation_patients(store: Path, full_run: Path, tmp_path: Path) -> None:
    assert json.loads((full_run / "config.json").read_text())["split"] == "stratified"
    config = dataclasses.replace(CONFIG, epochs=1)
    held = ["00000", "00001", "00002", "00015"]  # 00015 kept no frame: no chunk, the prior
    out = tmp_path / "given"
    result = train_classification(store, out, config=config, progress=False, val_patients=held)
    assert result.val_patients == tuple(held)
    assert set(result.train_patients) == set(FrameStore(store).labels) - set(held)
    record = json.loads((out / "config.json").read_text())
    assert (record["split"], record["val_patients"]) == ("given", held)
    # A resumed run must hold out the same patients.
    other = [*held[:-1], "00004"]
    with pytest.raises(ConfigurationError, match="split differs"):
        train_classification(store, out, config=config, resume=True, val_patients=other)
    # Unknown or no patients are refused before training.
    with pytest.raises(InvalidInputError, match="unknown"):
        train_classification(store, tmp_path / "x", config=config, val_patients=["99999"])
    with pytest.raises(InvalidInputError, match="hold out none"):
        train_classification(store, tmp_path / "y", config=config, val_patients=[])


def test_resume_ends_with_the_same_weights(store: Path, full_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    train_classification(store, out, config=dataclasses.replace(CONFIG, epochs=1), progress=False)
    result = train_classification(store, out, config=CONFIG, resume=True, progress=False)
    assert result.epochs_completed == 3
    expected = load_file(str(full_run / "last.safetensors"))
    got = load_file(str(out / "last.safetensors"))
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    assert [h["val_loss"] for h in _history(out)] == [h["val_loss"] for h in _history(full_run)]


def test_existing_run_needs_resume_and_same_settings(store: Path, full_run: Path) -> None:
    with pytest.raises(ConfigurationError, match="--resume"):
        train_classification(store, full_run, config=CONFIG, progress=False)
    changed = dataclasses.replace(CONFIG, lr=1e-2)
    with pytest.raises(ConfigurationError, match=r"lr: 0\.003 -> 0\.01"):
        train_classification(store, full_run, config=changed, resume=True, progress=False)


def test_load_classification_model(store: Path, full_run: Path, tmp_path: Path) -> None:
    model, info = load_classification_model(full_run)
    assert not model.training
    assert (info.mri_type, info.image_size, info.sequence_length, info.stride, info.last) == (
        "FLAIR",
        32,
        6,
        2,
        "pad",
    )
    assert info.prep_config == FrameStore(store).prep_config
    config = json.loads((full_run / "config.json").read_text())
    assert list(info.val_patients) == config["val_patients"]
    assert info.train_config == CONFIG
    history = _history(full_run)
    assert info.epoch == max(h["epoch"] for h in history if h["best"])  # type: ignore[type-var]
    with torch.no_grad():
        assert model(torch.zeros(2, 6, 3, 32, 32)).shape == (2,)
    last, last_info = load_classification_model(full_run / "last.safetensors")
    assert last_info.epoch == 3
    assert isinstance(last, torch.nn.Module)
    with pytest.raises(InputNotFoundError):
        load_classification_model(tmp_path / "missing")
    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(1)}, str(other), metadata={"format": "something-else"})
    with pytest.raises(InvalidInputError, match="not a stage 2"):
        load_classification_model(other)


def test_train_all_types_into_subfolders(tmp_path: Path) -> None:
    store = write_synthetic_frame_store(
        tmp_path / "store", n_patients=8, mri_types=("FLAIR", "T2w"), size=32, frames=(2, 6)
    )
    config = dataclasses.replace(CONFIG, epochs=1, head="pooled", last="shift")
    results = train_classification_all(store, tmp_path / "runs", config=config, progress=False)
    assert list(results) == ["FLAIR", "T2w"]
    for mri_type, result in results.items():
        assert result.run_dir == tmp_path / "runs" / mri_type
        assert load_classification_model(result.run_dir)[1].mri_type == mri_type
    with pytest.raises(InputNotFoundError, match="one run per MRI type"):
        load_classification_model(tmp_path / "runs")
    with pytest.raises(InvalidInputError, match="no series of"):
        train_classification_all(store, tmp_path / "x", config=config, mri_types=["T1w"])


def test_data_errors(store: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no T1w series"):
        train_classification(
            store, tmp_path / "a", config=dataclasses.replace(CONFIG, mri_type="T1w")
        )
    unlabelled = write_synthetic_frame_store(tmp_path / "u", n_patients=4, size=16)
    (unlabelled / "labels.csv").write_text("BraTS21ID,MGMT_value\n00000,1\n")
    with pytest.raises(LabelError, match="no label"):
        train_classification(unlabelled, tmp_path / "b", config=CONFIG)


def test_train_config_validation() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'FLAIR'"):
        ClassificationTrainConfig(mri_type="FLAIRR")
    with pytest.raises(ConfigurationError, match="stride"):
        ClassificationTrainConfig(sequence_length=4, stride=5)
    with pytest.raises(ConfigurationError, match="patience"):
        ClassificationTrainConfig(patience=0)
    with pytest.raises(TypeError):
        ClassificationTrainConfig("T1w")  # type: ignore[misc]
    assert repr(ClassificationTrainConfig(epochs=5)) == "ClassificationTrainConfig(epochs=5)"
    assert ClassificationTrainConfig.from_dict(CONFIG.to_dict()) == CONFIG
    with pytest.raises(ConfigurationError, match="unknown"):
        ClassificationTrainConfig.from_dict({"learning_rate": 1.0})
    weights = ClassificationTrainConfig(backbone_weights=Path("w.safetensors"))  # type: ignore[arg-type]
    assert weights.backbone_weights == "w.safetensors"


def test_early_stopping_and_resuming_a_stopped_run(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from radiogenomics.training import classification

    def flat(*args: object, **kwargs: object) -> tuple[float, dict[str, float]]:
        return 0.5, {"chunk_auc": 0.5, "patient_auc": 0.5}  # never improves after epoch 1

    monkeypatch.setattr(classification, "_evaluate", flat)
    config = dataclasses.replace(CONFIG, epochs=6, patience=2, warmup_epochs=0)
    out = tmp_path / "stop"
    result = train_classification(store, out, config=config, progress=False)
    assert result.stopped_early
    assert result.epochs_completed == 3
    assert [h["best"] for h in result.history] == [True, False, False]
    again = train_classification(store, out, config=config, resume=True, progress=False)
    assert again.epochs_completed == 3
    assert len(_history(out)) == 3


def test_fast_path_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="compile='yes'"):
        ClassificationTrainConfig(compile="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="augment_on"):
        ClassificationTrainConfig(augment_on="gpu")  # type: ignore[arg-type]
    fast = dataclasses.replace(CONFIG, channels_last=False, compile=True, augment_on="device")
    assert ClassificationTrainConfig.from_dict(fast.to_dict()) == fast
    assert "augment_on='device'" in repr(fast)


@pytest.mark.slow
def test_device_augmentation_resumes_exactly(store: Path, full_run: Path, tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, epochs=2, augment_on="device")
    once = train_classification(store, tmp_path / "once", config=config, progress=False)
    out = tmp_path / "twice"
    train_classification(store, out, config=dataclasses.replace(config, epochs=1), progress=False)
    train_classification(store, out, config=config, resume=True, progress=False)
    expected = load_file(str(tmp_path / "once" / "last.safetensors"))
    got = load_file(str(out / "last.safetensors"))
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    # Other draws than the loader's: the first epoch already trains on other frames.
    assert once.history[0]["train_loss"] != _history(full_run)[0]["train_loss"]
    frames_per_second = once.history[0]["train_images_per_second"]
    assert isinstance(frames_per_second, float)
    assert frames_per_second > 0


def test_a_run_records_the_stage1_model_of_its_frames(store: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(store, tmp_path / "store"))
    record = {"checkpoint": "/runs/seg/best.safetensors", "sha256": "ab" * 32}
    (copy / "segmentation-model.json").write_text(json.dumps(record))
    out = tmp_path / "run"
    config = dataclasses.replace(CONFIG, epochs=1)
    train_classification(copy, out, config=config, progress=False)
    assert json.loads((out / "segmentation-model.json").read_text()) == record
    _, info = load_classification_model(out)
    assert info.segmentation_model == record


# -- the user's own model ---------------------------------------------------------------


class MeanOfFrames(torch.nn.Module):
    """A user's classifier: a small CNN per frame, the mean over valid frames, a logit."""

    def __init__(self) -> None:
        super().__init__()
        self.frame = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )
        self.head = torch.nn.Linear(4, 1)

    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        batch, length = frames.shape[:2]
        features = self.frame(frames.flatten(0, 1)).view(batch, length, -1)
        weights = valid.float().unsqueeze(-1)
        pooled = (features * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)  # type: ignore[no-any-return]


def test_a_users_classifier_trains_and_loads_back(store: Path, tmp_path: Path) -> None:
    from radiogenomics.models import load_weights

    config = dataclasses.replace(CONFIG, warmup_epochs=0, epochs=2)
    torch.manual_seed(0)
    run = tmp_path / "run"
    result = train_classification(store, run, config=config, model=MeanOfFrames(), progress=False)
    assert result.epochs_completed == 2
    assert all(h["val_loss"] == h["val_loss"] for h in result.history)  # finite, not NaN
    with pytest.raises(ConfigurationError, match="built by the user") as info:
        load_classification_model(run)
    assert f"{__name__}.MeanOfFrames" in str(info.value)
    again = MeanOfFrames()
    load_weights(again, run / "best.safetensors")
    assert again(torch.zeros(1, 6, 3, 32, 32), torch.ones(1, 6)).shape == (1,)


def test_warmup_needs_a_backbone_to_freeze(store: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="warmup_epochs=1 freezes the backbone"):
        train_classification(store, tmp_path / "run", config=CONFIG, model=MeanOfFrames())
