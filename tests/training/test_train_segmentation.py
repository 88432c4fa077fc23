"""Stage 1 training on CPU: one step, a short run, checkpoints, exact resume, loading."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from radiogenomics.data import (
    PreparedSlices,
    SegmentationDataset,
    SegmentationPrepConfig,
    prepare_segmentation,
)
from radiogenomics.errors import ConfigurationError, InputNotFoundError
from radiogenomics.io import find_brats_cases
from radiogenomics.metrics import DiceLoss
from radiogenomics.models import (
    SegmentationModelConfig,
    create_segmentation_model,
    load_segmentation_model,
    training_orientation,
)
from radiogenomics.training import (
    SegmentationTrainConfig,
    resolve_amp,
    resolve_device,
    train_segmentation,
)
from radiogenomics.training import (
    load_segmentation_model as load_from_training,
)

MODEL = SegmentationModelConfig(architecture="Unet", encoder="tu-test_resnet", image_size=64)
CONFIG = SegmentationTrainConfig(
    epochs=3,
    batch_size=16,
    lr=3e-3,
    warmup_epochs=1,
    image_size=64,
    device="cpu",
    seed=7,
)


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared-train") / "out"
    config = SegmentationPrepConfig(size=64, modalities=("flair",))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config).ok
    return out


@pytest.fixture(scope="module")
def full_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "full"
    train_segmentation(prepared, out, config=CONFIG, model_config=MODEL, progress=False)
    return out


def _history(run: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_one_training_step_on_cpu(prepared: Path) -> None:
    torch.manual_seed(0)
    model = MODEL.create()
    dataset = SegmentationDataset(PreparedSlices(prepared), range(8), image_size=64, augment=True)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(8)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss = DiceLoss()(model(batch["image"]), batch["mask"])
    loss.backward()
    optimizer.step()
    assert 0 < loss.item() < 1
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_short_run_learns_and_writes_its_files(full_run: Path) -> None:
    history = _history(full_run)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[0]["encoder_frozen"] is True
    assert history[1]["encoder_frozen"] is False
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for key in ("lr", "val_loss", "dice_WT", "dice_ET", "dice_pooled", "iou_WT", "iou_pooled"):
        assert key in history[0]
    for name in ("best.safetensors", "last.safetensors", "last.state.pt", "config.json"):
        assert (full_run / name).is_file()
    assert not list(full_run.glob(".*.tmp"))
    config = json.loads((full_run / "config.json").read_text())
    assert config["model_config"]["encoder"] == "tu-test_resnet"
    assert config["val_patients"]  # held-out patients are recorded
    # The slices' preparation settings travel with the run: how to slice new volumes.
    assert config["prepare_config"]["orientation"] == "radiological"
    assert training_orientation(full_run) == "radiological"
    best = min(history, key=lambda h: h["val_loss"])  # type: ignore[arg-type,return-value]
    assert next(h for h in history if h["best"] is True and h is best)


def test_validation_patients_are_never_trained_on(prepared: Path, full_run: Path) -> None:
    config = json.loads((full_run / "config.json").read_text())
    store = PreparedSlices(prepared)
    held_out = set(config["val_patients"])
    rows = [r for r in store.rows if r["patient_id"] in held_out]
    assert len(rows) == config["val_rows"]
    assert 0 < config["val_rows"] < len(store)


def test_resume_ends_with_the_same_weights(prepared: Path, full_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    first = dataclasses.replace(CONFIG, epochs=1)
    train_segmentation(prepared, out, config=first, model_config=MODEL, progress=False)
    result = train_segmentation(
        prepared, out, config=CONFIG, model_config=MODEL, resume=True, progress=False
    )
    assert result.epochs_completed == 3
    expected = load_file(str(full_run / "last.safetensors"))
    got = load_file(str(out / "last.safetensors"))
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    assert [h["val_loss"] for h in _history(out)] == [h["val_loss"] for h in _history(full_run)]


def test_existing_run_needs_resume_and_same_settings(prepared: Path, full_run: Path) -> None:
    with pytest.raises(ConfigurationError, match="--resume"):
        train_segmentation(prepared, full_run, config=CONFIG, model_config=MODEL, progress=False)
    changed = dataclasses.replace(CONFIG, lr=1e-2)
    with pytest.raises(ConfigurationError, match=r"lr: 0\.003 -> 0\.01"):
        train_segmentation(
            prepared, full_run, config=changed, model_config=MODEL, resume=True, progress=False
        )


def test_load_segmentation_model(full_run: Path) -> None:
    model, config = load_segmentation_model(full_run)
    assert load_from_training is load_segmentation_model
    assert config == MODEL
    assert not model.training
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)
    last, _ = load_segmentation_model(full_run / "last.safetensors")
    assert isinstance(last, torch.nn.Module)
    with pytest.raises(InputNotFoundError):
        load_segmentation_model(full_run / "missing")


def test_checkpoint_of_another_architecture_is_named(full_run: Path) -> None:
    with pytest.raises(ConfigurationError, match="architecture: checkpoint 'Unet', model 'FPN'"):
        create_segmentation_model(
            architecture="FPN", encoder="tu-test_resnet", weights=full_run / "best.safetensors"
        )


def test_amp_and_device_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) is None
    assert resolve_amp("off", cpu) is None
    assert resolve_amp("bf16", cpu) is torch.bfloat16
    with pytest.raises(ConfigurationError, match="fp16"):
        resolve_amp("fp16", cpu)
    assert resolve_device("cpu") == cpu
    with pytest.raises(ConfigurationError, match="device"):
        resolve_device("tpu:0")


def test_train_config_validation() -> None:
    with pytest.raises(ConfigurationError, match="multiple of 32"):
        SegmentationTrainConfig(image_size=100)
    with pytest.raises(ConfigurationError, match="Did you mean 'dice'"):
        SegmentationTrainConfig(loss="dise")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="n_folds"):
        SegmentationTrainConfig(n_folds=3, fold=3)
    assert repr(SegmentationTrainConfig(epochs=5)) == "SegmentationTrainConfig(epochs=5)"
    assert SegmentationTrainConfig.from_dict(CONFIG.to_dict()) == CONFIG


def test_early_stopping_and_resuming_a_stopped_run(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from radiogenomics.training import segmentation

    def flat_validation(*args: object, **kwargs: object) -> float:
        return 0.5  # never improves after the first epoch

    monkeypatch.setattr(segmentation, "_validate", flat_validation)
    config = dataclasses.replace(CONFIG, epochs=6, patience=2, warmup_epochs=0)
    out = tmp_path / "stop"
    result = train_segmentation(prepared, out, config=config, model_config=MODEL, progress=False)
    assert result.stopped_early
    assert result.epochs_completed == 3  # 1 (best), then 2 without improvement
    assert result.best_epoch == 1
    assert [h["best"] for h in result.history] == [True, False, False]
    again = train_segmentation(
        prepared, out, config=config, model_config=MODEL, resume=True, progress=False
    )
    assert again.epochs_completed == 3
    assert again.stopped_early
    assert len(_history(out)) == 3


def test_training_modules_import_lightly() -> None:
    import subprocess
    import sys

    code = (
        "import sys, radiogenomics.models, radiogenomics.training, radiogenomics.metrics, "
        "radiogenomics.data;"
        "print(','.join(m for m in ('torch', 'segmentation_models_pytorch', 'timm') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_fast_path_settings_are_validated_and_keyword_only() -> None:
    with pytest.raises(ConfigurationError, match="channels_last='yes'"):
        SegmentationTrainConfig(channels_last="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Did you mean 'device'"):
        SegmentationTrainConfig(augment_on="devise")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SegmentationTrainConfig(180)  # type: ignore[misc]
    older = {k: v for k, v in CONFIG.to_dict().items()}
    for key in ("channels_last", "compile", "augment_on"):
        del older[key]  # settings written before these existed
    assert SegmentationTrainConfig.from_dict(older) == CONFIG


@pytest.mark.slow
def test_fast_path_run_and_what_may_change_on_resume(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[torch.nn.Module] = []

    def record(model: torch.nn.Module, **kwargs: object) -> torch.nn.Module:
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", record)
    fast = dataclasses.replace(
        CONFIG, epochs=1, augment_on="device", channels_last=True, compile=True
    )
    out = tmp_path / "fast"
    few = (range(16), range(16, 24))  # a few rows: this test is about the settings
    first = train_segmentation(
        prepared, out, config=fast, model_config=MODEL, split=few, progress=False
    )
    assert len(compiled) == 1
    line = first.history[0]
    assert line["train_images_per_second"] > 0
    assert line["data_seconds"] >= 0
    assert line["model_seconds"] > 0
    assert line["data_seconds"] + line["model_seconds"] <= line["seconds"]
    # The memory format and compilation may change on resume ...
    slower = dataclasses.replace(fast, epochs=2, channels_last=False, compile=False)
    result = train_segmentation(
        prepared, out, config=slower, model_config=MODEL, split=few, resume=True, progress=False
    )
    assert result.epochs_completed == 2
    assert len(compiled) == 1
    # ... where augmentation happens may not (other random draws).
    moved = dataclasses.replace(slower, epochs=3, augment_on="loader")
    with pytest.raises(ConfigurationError, match="augment_on: 'device' -> 'loader'"):
        train_segmentation(
            prepared, out, config=moved, model_config=MODEL, split=few, resume=True, progress=False
        )


def test_resume_checks_the_number_of_processes_and_old_states(
    prepared: Path, full_run: Path, tmp_path: Path
) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(full_run, out)
    state = torch.load(out / "last.state.pt", weights_only=True)
    saved = json.loads(state["train_config"])
    for key in ("channels_last", "compile", "augment_on"):
        del saved[key]
    del state["world_size"]
    torch.save({**state, "train_config": json.dumps(saved)}, out / "last.state.pt")
    # A state written before these settings existed resumes (the run is finished: no work).
    again = train_segmentation(
        prepared, out, config=CONFIG, model_config=MODEL, resume=True, progress=False
    )
    assert again.epochs_completed == CONFIG.epochs
    torch.save({**state, "world_size": 2}, out / "last.state.pt")
    with pytest.raises(ConfigurationError, match="processes: 2 -> 1"):
        train_segmentation(
            prepared, out, config=CONFIG, model_config=MODEL, resume=True, progress=False
        )


# -- the user's own model ---------------------------------------------------------------


class TinySegmenter(torch.nn.Module):
    """A user's segmentation model: two convolutions, one logit map per region."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, classes, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # type: ignore[no-any-return]


def test_a_users_model_trains_resumes_and_loads_back(prepared: Path, tmp_path: Path) -> None:
    from radiogenomics.models import load_weights

    config = dataclasses.replace(CONFIG, epochs=2, warmup_epochs=0)
    torch.manual_seed(0)
    model = TinySegmenter()
    run = tmp_path / "run"
    result = train_segmentation(prepared, run, config=config, model=model, progress=False)
    assert result.epochs_completed == 2
    record = json.loads((run / "config.json").read_text())
    assert record["model_config"] == {"user_model": f"{__name__}.TinySegmenter"}
    with pytest.raises(ConfigurationError, match="built by the user") as info:
        load_segmentation_model(run)
    assert "load_weights" in str(info.value)
    again = TinySegmenter()
    load_weights(again, run / "best.safetensors")
    best = load_file(str(run / "best.safetensors"))
    assert all(torch.equal(again.state_dict()[k], v) for k, v in best.items())
    # Resuming with a module built the same way continues the run.
    longer = dataclasses.replace(config, epochs=3)
    resumed = train_segmentation(
        prepared, run, config=longer, model=TinySegmenter(), resume=True, progress=False
    )
    assert resumed.epochs_completed == 3


def test_a_users_model_that_does_not_fit_is_refused(prepared: Path, tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, epochs=1, warmup_epochs=0)
    with pytest.raises(ConfigurationError, match=r"expected logits of shape \(1, 2, 64, 64\)"):
        train_segmentation(prepared, tmp_path / "a", config=config, model=TinySegmenter(3))
    with pytest.raises(ConfigurationError, match="not both"):
        train_segmentation(
            prepared, tmp_path / "b", config=config, model=TinySegmenter(), model_config=MODEL
        )
    assert not (tmp_path / "a").exists()


def test_validation_reports_false_positive_slices_of_tumor_free_slices(
    synthetic_cohort: Path, tmp_path: Path, full_run: Path
) -> None:
    from radiogenomics.metrics import SegmentationMetrics

    # The seed's store has no tumor-free slice: no WT rate (ET-free tumor slices exist).
    assert "fp_slice_rate_WT" not in _history(full_run)[0]
    prepared = tmp_path / "prepared"
    prep = SegmentationPrepConfig(
        size=32, modalities=("flair",), planes=("axial",), negative_fraction=1.0
    )
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), prepared, config=prep).ok
    store = PreparedSlices(prepared)
    run = tmp_path / "run"
    config = dataclasses.replace(CONFIG, epochs=1, warmup_epochs=0, image_size=32)
    model_config = dataclasses.replace(MODEL, image_size=32)
    train_segmentation(prepared, run, config=config, model_config=model_config, progress=False)
    (logged,) = _history(run)
    assert json.loads((run / "config.json").read_text())["prepare_config"]["negative_fraction"] == 1
    # The logged rates are those of the held-out patients' slices, recomputed.
    val_patients = set(json.loads((run / "config.json").read_text())["val_patients"])
    rows = [i for i, row in enumerate(store.rows) if row["patient_id"] in val_patients]
    assert any(i in set(store.tumor_free_rows) for i in rows)
    model, _ = load_segmentation_model(run, which="last")
    metric = SegmentationMetrics(channels=("WT", "ET"))
    dataset = SegmentationDataset(store, rows, image_size=32)
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=8):
            metric.update(torch.sigmoid(model.eval()(batch["image"])), batch["mask"])
    scores = metric.compute()
    for key in ("fp_slice_rate_WT", "fp_slice_rate_ET", "fp_slice_rate_pooled"):
        assert 0.0 <= logged[key] <= 1.0  # type: ignore[operator]
        assert logged[key] == pytest.approx(scores[key], abs=1e-9)
