"""Stage 1 training: a segmentation model on prepared slices, validated on held-out patients.

One epoch = train on the training patients' slices (augmented), then validate on the
held-out patients' slices (never augmented; never seen in training), then:

* one JSON line appended to ``RUN/metrics.jsonl`` (epoch, learning rate, losses, Dice
  and IoU per channel and pooled, seconds, and the false-positive slice rate
  ``fp_slice_rate_<channel>`` / ``fp_slice_rate_pooled``: the share of the validation
  slices without tumor on which the model predicts some; see
  :class:`~radiogenomics.metrics.SegmentationMetrics`. The WT and pooled rates are there
  when the prepared folder holds tumor-free slices, ``prepare-segmentation
  --negative-fraction``);
* ``RUN/last.state.pt`` (weights, optimizer, scheduler, scaler, random states,
  counters) and ``RUN/last.safetensors`` (weights) rewritten; ``RUN/best.safetensors``
  rewritten when the validation loss improved (strictly).

Checkpoint files are written to a temporary name and renamed (atomic); the state is
renamed first and is the commit point, so a crash at any moment resumes consistently. Weights are
safetensors whose metadata holds the model and training settings, so
:func:`load_segmentation_model` rebuilds the model from the file alone. The training
state is read with ``torch.load(weights_only=True)``: loading never executes code.

Resuming (``resume=True``) continues after the last completed epoch, with every random
state restored: on CPU, a run interrupted and resumed ends with the same weights as an
uninterrupted one (a test pins this). Augmentation and shuffling draw from generators
seeded by ``(seed, epoch)``, so they do not depend on the number of loader workers.

Schedule (defaults: the reference): AdamW (lr 1e-4), ReduceLROnPlateau on the validation
loss, encoder frozen (``requires_grad=False``; its batch-norm statistics still update, as
in the reference) for ``warmup_epochs`` then unfrozen, early stopping after ``patience``
epochs without improvement, best checkpoint by validation loss. The false-positive slice
rate is reported, not used to choose: the validation loss (a Dice loss pooled over each
batch) already counts false positives on tumor-free slices as pixels, and a second rule
would make "best" depend on how the two are weighed. ``metrics.jsonl`` shows both per
epoch; :doc:`/stage1-model` has the measured effect.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader

from radiogenomics.data.segmentation_dataset import SegmentationDataset
from radiogenomics.data.store import PreparedSlices
from radiogenomics.errors import (
    ConfigurationError,
    InvalidInputError,
)
from radiogenomics.metrics.segmentation import BCEDiceLoss, DiceLoss, SegmentationMetrics
from radiogenomics.models.segmentation import (
    CHECKPOINT_FORMAT,
    SegmentationModelConfig,
    load_segmentation_model,
    load_weights,
)
from radiogenomics.training._common import (
    AmpMode,
    EarlyStopping,
    check_resume,
    deterministic,
    digest,
    open_run_folder,
    resolve_amp,
    resolve_device,
    seed_everything,
    user_model_name,
)
from radiogenomics.training._distributed import (
    DistributedContext,
    all_reduce_sums,
    broadcast_object,
    process_count_change,
)
from radiogenomics.training._runtime import TrainingRuntime
from radiogenomics.training.settings import SegmentationTrainConfig
from radiogenomics.training.split import patient_folds, patient_split

__all__ = [
    "AmpMode",
    "SegmentationTrainConfig",
    "TrainResult",
    "load_segmentation_model",
    "resolve_amp",
    "resolve_device",
    "train_segmentation",
]


# Settings that may change when a run is resumed (they do not change the arithmetic;
# channels_last and compile change the kernels, so the last bits of a result may differ).
_RESUMABLE_CHANGES = frozenset({"epochs", "num_workers", "device", "channels_last", "compile"})


@dataclass(frozen=True)
class TrainResult:
    """The outcome of :func:`train_segmentation`.

    Attributes:
        run_dir: The run folder.
        epochs_completed: Epochs completed, counting those before a resume.
        best_epoch: The epoch (1-based) of ``best.safetensors``.
        best_val_loss: Its validation loss.
        best_scores: Its validation Dice/IoU (keys as
            :meth:`~radiogenomics.metrics.SegmentationMetrics.compute`).
        stopped_early: Whether early stopping ended the run.
        history: Every epoch's log line (as in ``metrics.jsonl``).
    """

    run_dir: Path
    epochs_completed: int
    best_epoch: int
    best_val_loss: float
    best_scores: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def _split(
    store: PreparedSlices, config: SegmentationTrainConfig
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    patients = [row["patient_id"] for row in store.rows]
    if config.n_folds is not None:
        return patient_folds(patients, n_folds=config.n_folds, fold=config.fold, seed=config.seed)
    return patient_split(patients, val_fraction=config.val_fraction, seed=config.seed)


def _check_user_model(model: torch.nn.Module, channels: int, size: int) -> None:
    """Check, on one blank slice, that a user's model gives one logit map per region."""
    if not isinstance(model, torch.nn.Module):
        raise ConfigurationError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(torch.zeros(1, 3, size, size, device=device))
    except Exception as error:
        raise ConfigurationError(
            f"the model failed on a slice of shape (1, 3, {size}, {size}) ({type(error).__name__}: "
            f"{error}); it must map (B, 3, H, W) slices to (B, C, H, W) logits."
        ) from error
    finally:
        model.train(training)
    expected = (1, channels, size, size)
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != expected:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output)
        raise ConfigurationError(
            f"the model maps a (1, 3, {size}, {size}) slice to {shape}; expected logits of "
            f"shape {expected}: one channel per mask region of the prepared folder."
        )


def _check_resume(
    state: Mapping[str, Any],
    config: SegmentationTrainConfig,
    model_record: Mapping[str, Any],
    split_digest: str,
    path: Path,
    context: DistributedContext,
) -> None:
    saved_model = json.loads(state["model_config"])
    model_diffs = [
        f"model {k}: {saved_model.get(k)!r} -> {v!r}"
        for k, v in model_record.items()
        if saved_model.get(k) != v
    ]
    check_resume(
        state,
        config.to_dict(),
        split_digest,
        path,
        resumable=_RESUMABLE_CHANGES,
        more=model_diffs + process_count_change(state, context),
        defaults=SegmentationTrainConfig().to_dict(),
    )


def _make_loss(name: str) -> torch.nn.Module:
    return DiceLoss() if name == "dice" else BCEDiceLoss()


def _validate(
    model: torch.nn.Module,
    loader: DataLoader[Any],
    loss_fn: torch.nn.Module,
    metrics: SegmentationMetrics,
    runtime: TrainingRuntime,
) -> float:
    """The validation loss of this process's share, Dice/IoU counts in ``metrics``;
    both summed over every process."""
    model.eval()
    metrics.reset()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            image = runtime.memory_format(runtime.to_device(batch["image"]))
            mask = runtime.to_device(batch["mask"])
            with runtime.autocast():
                logits = model(image)
            logits = logits.float()
            total += float(loss_fn(logits, mask)) * image.shape[0]
            count += image.shape[0]
            metrics.update(torch.sigmoid(logits), mask)
    return _reduce_validation(metrics, total, count, runtime.context)


def _reduce_validation(
    metrics: SegmentationMetrics, total: float, count: int, context: DistributedContext
) -> float:
    """Sum the loss and the Dice/IoU pixel counts over every process (in ``metrics``).

    The counts are whole numbers, so the reduced Dice and IoU equal those of one process
    seeing every item; the loss is a mean of per-batch losses (the Dice loss pools a
    batch), so it depends on how the items were batched.
    """
    if context.active:
        sums = metrics.state()
        loss = {"loss_sum": torch.tensor(total, dtype=torch.float64), "items": torch.tensor(count)}
        reduced = all_reduce_sums({**loss, **sums}, context)
        total, count = float(reduced["loss_sum"]), int(reduced["items"])
        metrics.load_state({name: reduced[name] for name in sums})
    return total / max(count, 1)


def train_segmentation(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: SegmentationTrainConfig | None = None,
    model_config: SegmentationModelConfig | None = None,
    model: torch.nn.Module | None = None,
    encoder_weights: str | Path | None = None,
    split: tuple[Sequence[int], Sequence[int]] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a stage 1 segmentation model on a prepared folder.

    The job trains the model it is given (or the one ``model_config`` describes): it
    loops, validates, checkpoints and resumes. Any ``nn.Module`` mapping (B, 3, H, W)
    ImageNet-normalised slices to (B, C, H, W) logits, one channel per mask region of
    the prepared folder, can be trained. A run of the library's model records its
    settings, so :func:`~radiogenomics.models.load_segmentation_model` rebuilds it; a
    run of the user's model records its class, and is loaded by building the module
    again and calling :func:`~radiogenomics.models.load_weights` on ``best.safetensors``.

    Args:
        data_dir: A folder written by
            :func:`~radiogenomics.data.prepare_segmentation`.
        out_dir: The run folder (created): checkpoints, ``metrics.jsonl``, ``config.json``.
        config: Training settings; default :class:`SegmentationTrainConfig`.
        model_config: The library's model; default Unet++/DenseNet121/2 classes. Its
            ``image_size`` is replaced by ``config.image_size``.
        model: The user's own model instead (not with ``model_config`` or
            ``encoder_weights``); trained in place. To resume, pass a module built the
            same way.
        encoder_weights: A local file of pretrained encoder weights (see
            :func:`~radiogenomics.models.create_segmentation_model`).
        split: Explicit ``(train_rows, val_rows)`` indices into the manifest, overriding
            the patient split (for example, to validate on one plane of one case). The
            caller then answers for keeping the two sides apart.
        resume: Continue from ``out_dir/last.*`` (starts afresh when there is none).
        progress: Show a progress bar per epoch.

    Returns:
        The outcome, with every epoch's metrics.

    Raises:
        ConfigurationError: Bad settings, ``out_dir`` already holds a run and ``resume``
            is false, or the resumed run had other settings.
        InvalidInputError: Too few patients for the split, or masks whose channels do not
            match ``model_config.classes``.
    """
    from tqdm.auto import tqdm

    config = config or SegmentationTrainConfig()
    if model is not None and (model_config is not None or encoder_weights is not None):
        raise ConfigurationError(
            "give your own model (model=) or the library's (model_config=, "
            "encoder_weights=), not both."
        )
    model_config = dataclasses.replace(
        model_config or SegmentationModelConfig(), image_size=config.image_size
    )
    data_dir, out = Path(data_dir), Path(out_dir)
    store = PreparedSlices(data_dir)
    if len(store) == 0:
        raise InvalidInputError("the prepared folder holds no slices.", path=data_dir)
    n_channels = int(store[0].masks.shape[0])
    if model is not None:
        _check_user_model(model, n_channels, config.image_size)
        if config.warmup_epochs and not isinstance(
            getattr(model, "encoder", None), torch.nn.Module
        ):
            raise ConfigurationError(
                f"warmup_epochs={config.warmup_epochs} freezes the encoder for the first "
                f"epochs, but {type(model).__name__} has no .encoder module; set "
                "warmup_epochs=0, or name the part to freeze .encoder."
            )
    elif n_channels != model_config.classes:
        raise InvalidInputError(
            f"the prepared masks have {n_channels} channels but the model has "
            f"{model_config.classes} classes; set classes={n_channels}.",
            path=data_dir,
        )
    model_record = (
        model_config.to_dict() if model is None else {"user_model": user_model_name(model)}
    )
    if split is None:
        train_rows, val_rows = (list(map(int, s)) for s in _split(store, config))
    else:
        train_rows, val_rows = list(map(int, split[0])), list(map(int, split[1]))
        if not train_rows or not val_rows:
            raise InvalidInputError("split: both the training and validation rows must be given.")
    split_digest = digest(train_rows) + digest(val_rows)
    runtime = TrainingRuntime.from_settings(config)
    context = runtime.context

    files, has_run = open_run_folder(out, resume=resume, data_dir=data_dir)

    with deterministic():
        seed_everything(config.seed)
        if model is None:
            model = model_config.create(encoder_weights=encoder_weights)
        model = runtime.place(model)
        optimizer = runtime.adamw(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
        )
        scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp == torch.float16)
        start, stopping = 0, EarlyStopping(config.patience)
        history: list[dict[str, Any]] = []
        if has_run:
            start, history = runtime.resume(
                files,
                check=lambda state: _check_resume(
                    state, config, model_record, split_digest, out, context
                ),
                model=model,
                load_weights=lambda: load_weights(
                    model, files.last, config=None if "user_model" in model_record else model_config
                ),
                optimizer=optimizer,
                stopping=stopping,
                states={"scheduler": scheduler, "scaler": scaler},
            )
        run_info = {
            "data_dir": str(data_dir),
            # How the training slices were made (their layout, for training_orientation).
            "prepare_config": store.prep_config,
            "model_config": model_record,
            "train_config": config.to_dict(),
            "processes": context.world_size,
            "train_rows": len(train_rows),
            "val_rows": len(val_rows),
            "val_patients": sorted({store.rows[i]["patient_id"] for i in val_rows}),
        }
        runtime.write_run_files(files, history, {out / "config.json": run_info})

        loss_fn = _make_loss(config.loss)
        channels = store.regions(n_channels)
        metrics = SegmentationMetrics(channels=channels)
        train_set = SegmentationDataset(
            store,
            train_rows,
            image_size=config.image_size,
            augment=config.augment and runtime.augment is None,
            seed=config.seed,
        )
        val_set = SegmentationDataset(store, val_rows, image_size=config.image_size)
        encoder: torch.nn.Module | None = getattr(model, "encoder", None)
        metadata = {
            "format": CHECKPOINT_FORMAT,
            **(
                {"model_config": model_config.to_json()}
                if "user_model" not in model_record
                else {"user_model": str(model_record["user_model"])}
            ),
            "train_config": json.dumps(config.to_dict(), sort_keys=True),
        }

        for epoch in range(start, config.epochs):
            if stopping.stopped:
                break
            began = time.perf_counter()
            frozen = epoch < config.warmup_epochs
            for parameter in () if encoder is None else encoder.parameters():
                parameter.requires_grad_(not frozen)
            step_model = runtime.training_model(model)
            step_model.train()
            train_set.set_epoch(epoch)
            bar, clock, generator = runtime.epoch_batches(
                train_set, epoch=epoch, desc=f"epoch {epoch + 1}/{config.epochs}", progress=progress
            )
            total, count = 0.0, 0
            for batch in bar:
                image = runtime.to_device(batch["image"])
                mask = runtime.to_device(batch["mask"])
                if runtime.augment is not None and generator is not None:
                    image, moved = runtime.augment(image, mask, generator=generator)
                    mask = mask if moved is None else moved
                image = runtime.memory_format(image)
                loss = runtime.train_step(
                    optimizer,
                    scaler,
                    partial(step_model, image),
                    partial(loss_fn, target=mask),
                )
                total += loss * image.shape[0]
                count += image.shape[0]
                clock.count(image.shape[0])
                bar.set_postfix(loss=f"{total / count:.4f}")
            bar.close()
            train_loss, speed = runtime.end_training(model, clock, total, count)
            val_loader, _ = runtime.val_loader(
                val_set, batch_size=config.batch_size, num_workers=config.num_workers
            )
            val_loss = _validate(model, val_loader, loss_fn, metrics, runtime)
            val_loss, scores = broadcast_object((val_loss, metrics.compute()), context)
            lr = float(optimizer.param_groups[0]["lr"])
            scheduler.step(val_loss)
            improved = stopping.update(epoch + 1, val_loss, scores)
            runtime.commit_epoch(
                files,
                history,
                {
                    "epoch": epoch + 1,
                    "lr": lr,
                    "encoder_frozen": frozen,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    **scores,
                    "best": improved,
                    **speed,
                },
                began=began,
                model=model,
                scores=scores,
                stopping=stopping,
                metadata=metadata,
                training={
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                },
                settings={
                    "train_config": json.dumps(config.to_dict()),
                    "model_config": json.dumps(model_record, sort_keys=True),
                    "split_digest": split_digest,
                },
            )
            if progress and context.is_main:
                tqdm.write(
                    f"epoch {epoch + 1}: train {train_loss:.4f} val {val_loss:.4f} "
                    + " ".join(
                        f"{k} {v:.3f}"
                        for k, v in scores.items()
                        if k.startswith(("dice", "fp_slice_rate"))
                    )
                    + f" ({speed['train_images_per_second']:.1f} slices/s)"
                    + (" *" if improved else "")
                )
    return TrainResult(
        run_dir=out,
        epochs_completed=history[-1]["epoch"] if history else start,
        best_epoch=stopping.best_epoch,
        best_val_loss=stopping.best_loss,
        best_scores=stopping.best_scores,
        stopped_early=stopping.stopped,
        history=history,
    )
