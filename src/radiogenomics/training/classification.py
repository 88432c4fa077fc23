"""Stage 2 training: one sequence classifier per MRI type, validated on held-out patients.

The data is a frame store written by ``prepare-classification``
(:class:`~radiogenomics.data.FrameStore`). For the chosen MRI type, the patients that
have a series of it are split into training and validation *patients*, stratified by
label (:func:`~radiogenomics.training.stratified_patient_split`): no patient is on both
sides. Every series becomes chunks of ``sequence_length`` frames every ``stride`` frames
(:class:`~radiogenomics.data.ChunkDataset`), each labelled with its patient's label; a
:class:`~radiogenomics.models.SequenceClassifier` learns them with BCE-with-logits and
AdamW.

One epoch = train on the training chunks (augmented alike within a chunk), then on the
held-out chunks (never augmented):

* the validation loss (mean BCE over chunks), the chunk ROC AUC, and the patient ROC AUC
  (each patient's probability = the mean of its chunk probabilities, as the reference;
  held-out patients with no chunk get the training prevalence, see
  :class:`~radiogenomics.inference.PatientAggregator`), appended to
  ``RUN/metrics.jsonl`` with the training loss, the learning rate and the seconds taken;
* ``RUN/last.safetensors`` and ``RUN/last.state.pt`` rewritten, ``RUN/best.safetensors``
  rewritten when the validation loss improved (strictly).

The run folder also holds ``config.json`` (settings, training and validation patients)
and ``prep-config.json``, a copy of the store's ``prepare-config.json``, so that
prediction prepares new patients as the training data was prepared.
:func:`load_classification_model` rebuilds the model from a run folder.

Schedule (defaults: the reference): backbone frozen for ``warmup_epochs`` (5) epochs,
then unfrozen; at most ``epochs`` (80); early stopping after ``patience`` (10) epochs
without a strictly lower validation loss; best checkpoint by validation loss; no
learning-rate scheduler. The learning rate defaults to the released code's 1e-6 (the
writeup gives none), which suits fine-tuning an ImageNet-pretrained backbone; a backbone
trained from scratch (no weights offline) needs about 1e-3 and ``warmup_epochs=0``
(freezing a random backbone only trains the LSTM on random features).

Checkpoints, atomic writes and exact resumption work as in stage 1
(:func:`~radiogenomics.training.train_segmentation`): on CPU a run interrupted and
resumed ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader

from radiogenomics._device import resolve_device
from radiogenomics._files import read_json_object
from radiogenomics._options import check_choice
from radiogenomics.data.chunks import ChunkDataset, LastChunkPolicy
from radiogenomics.data.frame_store import FrameStore
from radiogenomics.data.segmentation_dataset import AugmentConfig
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    InputNotFoundError,
    InvalidInputError,
    LabelError,
)
from radiogenomics.inference.aggregate import PatientAggregator, roc_auc
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.io.labels import patient_key
from radiogenomics.models.sequence import SequenceClassifier
from radiogenomics.training._common import (
    EarlyStopping,
    check_resume,
    deterministic,
    digest,
    load_model_state,
    open_run_folder,
    seed_everything,
    user_model_name,
)
from radiogenomics.training._distributed import (
    DistributedContext,
    all_gather_objects,
    broadcast_object,
    process_count_change,
)
from radiogenomics.training._runtime import TrainingRuntime
from radiogenomics.training.settings import ClassificationTrainConfig
from radiogenomics.training.split import given_patient_split, stratified_patient_split

__all__ = [
    "CLASSIFICATION_CHECKPOINT_FORMAT",
    "ClassificationRunInfo",
    "ClassificationTrainConfig",
    "ClassificationTrainResult",
    "load_classification_model",
    "train_classification",
    "train_classification_all",
]

CLASSIFICATION_CHECKPOINT_FORMAT = "radiogenomics.classification/1"
"""The ``format`` metadata of stage 2 checkpoints."""

# Settings that may change when a run is resumed (they do not change the arithmetic;
# channels_last and compile change the kernels, so the last bits of a result may differ).
_RESUMABLE_CHANGES = frozenset(
    {"epochs", "num_workers", "device", "backbone_weights", "channels_last", "compile"}
)


@dataclass(frozen=True)
class ClassificationTrainResult:
    """The outcome of :func:`train_classification` for one MRI type.

    Attributes:
        run_dir: The run folder.
        mri_type: The MRI type trained on.
        epochs_completed: Epochs completed, counting those before a resume.
        best_epoch: The epoch (1-based) of ``best.safetensors``.
        best_val_loss: Its validation loss.
        best_scores: Its ``chunk_auc`` and ``patient_auc`` (NaN when the held-out
            patients had one class only).
        stopped_early: Whether early stopping ended the run.
        train_patients: The training patients, sorted.
        val_patients: The held-out patients, sorted.
        history: Every epoch's log line (as in ``metrics.jsonl``).
    """

    run_dir: Path
    mri_type: str
    epochs_completed: int
    best_epoch: int
    best_val_loss: float
    best_scores: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    train_patients: tuple[str, ...] = ()
    val_patients: tuple[str, ...] = ()
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ClassificationRunInfo:
    """What prediction needs to know about a trained classifier.

    Attributes:
        mri_type: The MRI type the model reads.
        image_size: Square side of its input frames.
        sequence_length: Frames per chunk.
        stride: Frames between chunk starts.
        last: The last-chunk policy (``"pad"`` or ``"shift"``).
        prep_config: The frame store's preparation settings (``prep-config.json``);
            ``{}`` when the run folder has none.
        val_patients: The patients held out in training (never trained on).
        train_config: Every training setting.
        epoch: The epoch the checkpoint was written at.
        checkpoint: The weights file loaded.
        segmentation_model: The stage 1 checkpoint whose masks the training frames hold
            (``checkpoint`` and ``sha256``); ``{}`` for runs trained before it was
            recorded.
    """

    mri_type: str
    image_size: int
    sequence_length: int
    stride: int
    last: LastChunkPolicy
    prep_config: dict[str, Any]
    val_patients: tuple[str, ...]
    train_config: ClassificationTrainConfig
    epoch: int
    checkpoint: Path
    segmentation_model: dict[str, Any] = field(default_factory=dict)


def _read_checkpoint_metadata(path: Path) -> dict[str, str]:
    from radiogenomics.models.segmentation import read_checkpoint_metadata

    return read_checkpoint_metadata(
        path,
        kind="stage 2 classification",
        expected_format=CLASSIFICATION_CHECKPOINT_FORMAT,
        missing_hint=(
            "no classification checkpoint here; pass a folder written by "
            "train-classification (with best.safetensors) or one of its .safetensors files."
        ),
        format_hint="a stage 1 model loads with load_segmentation_model.",
    )


# The settings that decide which model a checkpoint's weights belong to.
_MODEL_FIELDS = ("mri_type", "backbone", "hidden_size", "num_layers", "head", "sequence_length")


def _recorded_config(metadata: Mapping[str, str], path: Path) -> ClassificationTrainConfig:
    """The training settings recorded in a stage 2 checkpoint's metadata.

    Raises:
        CorruptFileError: They are missing or not a JSON object.
        ConfigurationError: They are not valid settings.
    """
    text = metadata.get("train_config")
    data: object = None
    try:
        data = None if text is None else json.loads(text)
    except ValueError as error:
        found = f"not JSON: {error}"
    else:
        found = "no train_config entry" if text is None else f"a JSON {type(data).__name__}"
    if not isinstance(data, dict):
        raise CorruptFileError(
            f"the checkpoint's recorded training settings are unreadable ({found}; expected "
            "a JSON object), so the model cannot be rebuilt; the file is damaged or was not "
            "written by train-classification. Use the run's own checkpoint, or train again.",
            path=path,
        )
    try:
        return ClassificationTrainConfig.from_dict(data)
    except ConfigurationError as error:
        raise ConfigurationError(
            f"the checkpoint's recorded training settings are not valid ({error.message}).",
            path=path,
        ) from error


def _load_state_into(
    model: torch.nn.Module, path: Path, *, expected: ClassificationTrainConfig | None = None
) -> None:
    """Load a stage 2 checkpoint's weights into ``model`` (strictly, in place).

    Args:
        model: The model to fill.
        path: The checkpoint.
        expected: The settings the model was built from; when given, the checkpoint's
            recorded settings must agree on every field that decides the model.

    Raises:
        ConfigurationError: The checkpoint was recorded for another model (naming each
            field: expected vs found), or its tensors do not fit ``model`` (naming the
            missing, unexpected and mis-shaped ones).
        CorruptFileError: The file or its recorded settings cannot be read.
    """
    from radiogenomics.models.segmentation import load_state_dict_file

    if expected is not None:
        recorded = _recorded_config(_read_checkpoint_metadata(path), path)
        diffs = "; ".join(
            f"{name}: expected {getattr(expected, name)!r}, found {getattr(recorded, name)!r}"
            for name in _MODEL_FIELDS
            if getattr(expected, name) != getattr(recorded, name)
        )
        if diffs:
            raise ConfigurationError(
                f"the checkpoint was written for another model ({diffs}). Use the settings "
                "it was trained with, or another run folder.",
                path=path,
            )
    load_model_state(
        model,
        load_state_dict_file(path),
        path,
        hint="They contradict the settings the checkpoint records: its metadata was "
        "changed, or another version wrote it. Use the run's own checkpoint, or train again.",
    )


def load_classification_model(
    run_dir: str | Path,
    *,
    which: Literal["best", "last"] = "best",
    device: str | torch.device = "cpu",
) -> tuple[SequenceClassifier, ClassificationRunInfo]:
    """Rebuild a trained classifier from a run folder (or a checkpoint file).

    The backbone is built without its pretrained file (the checkpoint holds every
    weight), so the file need not exist where the model is loaded.

    Args:
        run_dir: A folder written by :func:`train_classification` (for ``--mri-type
            all``: one of its ``<MRI type>`` subfolders), or one of its
            ``.safetensors`` files.
        which: ``"best"`` (lowest validation loss) or ``"last"``.
        device: Where to put the model.

    Returns:
        ``(model, info)``: the model in eval mode (it returns logits), and what
        prediction needs (MRI type, input size, chunking, preparation settings).

    Raises:
        InputNotFoundError: No such checkpoint.
        InvalidInputError: The file is not a stage 2 checkpoint.
        CorruptFileError: The file, or the training settings it records, cannot be read.
        ConfigurationError: The recorded settings are not valid, or the weights do not
            fit them (the message names the tensors).
    """
    check_choice("which", which, ("best", "last"))
    target = resolve_device(device)
    path = Path(run_dir)
    if path.is_dir() or path.suffix != ".safetensors":
        if path.is_dir() and not (path / f"{which}.safetensors").is_file():
            found = sorted(p.name for p in path.iterdir() if (p / f"{which}.safetensors").is_file())
            if found:
                raise InputNotFoundError(
                    f"this folder holds one run per MRI type ({', '.join(found)}); pass one "
                    f"of them, e.g. {path / found[0]}.",
                    path=path,
                )
        path = path / f"{which}.safetensors"
    metadata = _read_checkpoint_metadata(path)
    if "user_model" in metadata:
        raise ConfigurationError(
            f"this run trained a model built by the user ({metadata['user_model']}), which "
            "the library cannot rebuild from settings. Build the same module and load the "
            "weights into it (radiogenomics.models.load_weights(module, PATH)), then "
            "predict with it (radiogenomics.inference.ClassificationRun).",
            path=path,
        )
    config = _recorded_config(metadata, path)
    model = config.create_model(with_weights=False)
    _load_state_into(model, path)
    model.eval()
    folder = path.parent
    fix = "Restore the run folder, or train it again."

    def recorded(name: str, what: str) -> dict[str, Any]:
        source = folder / name
        return read_json_object(source, what=what, fix=fix) if source.is_file() else {}

    prep = recorded("prep-config.json", "the run's frame preparation settings")
    run_info = recorded("config.json", "the run's settings")
    raw_val = run_info.get("val_patients", [])
    if not isinstance(raw_val, list):
        raise CorruptFileError(
            f"val_patients should be a list; found {type(raw_val).__name__}. {fix}",
            path=folder / "config.json",
        )
    info = ClassificationRunInfo(
        mri_type=config.mri_type,
        image_size=config.image_size,
        sequence_length=config.sequence_length,
        stride=config.stride,
        last=config.last,
        prep_config=prep,
        val_patients=tuple(str(p) for p in raw_val),
        train_config=config,
        epoch=int(metadata.get("epoch", "0")),
        checkpoint=path,
        segmentation_model=recorded("segmentation-model.json", "the run's stage 1 record"),
    )
    return model.to(target), info


def _check_resume(
    state: Mapping[str, Any],
    config: ClassificationTrainConfig,
    split_digest: str,
    path: Path,
    context: DistributedContext,
) -> None:
    check_resume(
        state,
        config.to_dict(),
        split_digest,
        path,
        resumable=_RESUMABLE_CHANGES,
        more=process_count_change(state, context),
        defaults=ClassificationTrainConfig().to_dict(),
    )


def _auc_or_nan(truth: Sequence[int], score: Sequence[float]) -> float:
    try:
        return roc_auc(truth, score)
    except LabelError:  # one class only: no AUC
        return math.nan


# One validation chunk: (position in the dataset, patient, MRI type, probability, label, BCE).
_ChunkResult = tuple[int, str, str, float, int, float]


def _evaluate(
    model: torch.nn.Module,
    loader: DataLoader[Any],
    positions: Sequence[int],
    runtime: TrainingRuntime,
    *,
    labels: Mapping[str, int],
    patients: Sequence[str],
    prior: float,
) -> tuple[float, dict[str, float]]:
    """Validation loss, chunk AUC and patient AUC (mean of chunk probabilities).

    Each process scores its share of the chunks (``positions``); the results of every
    process are gathered and put back in dataset order, so the scores are those of one
    process seeing every chunk.
    """
    model.eval()
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    results: list[_ChunkResult] = []
    with torch.no_grad():
        for batch in loader:
            frames = runtime.to_device(batch["frames"])
            valid = runtime.to_device(batch["valid"])
            target = runtime.to_device(batch["label"])
            with runtime.autocast():
                logits = model(frames, valid)
            logits = logits.float()
            losses = loss_fn(logits, target).cpu().tolist()
            probabilities = torch.sigmoid(logits).cpu().tolist()
            truths = target.cpu().tolist()
            for j in range(len(losses)):
                results.append(
                    (
                        positions[len(results)],
                        batch["patient_id"][j],
                        batch["mri_type"][j],
                        float(probabilities[j]),
                        int(truths[j]),
                        float(losses[j]),
                    )
                )
    gathered = sorted(
        (r for part in all_gather_objects(results, runtime.context) for r in part),
        key=lambda r: r[0],
    )
    aggregator = PatientAggregator(reduce="mean", fallback="prior", prior=prior)
    if gathered:
        aggregator.update(
            [r[1] for r in gathered],
            [r[2] for r in gathered],
            [r[3] for r in gathered],
        )
    per_patient = aggregator.aggregate(patients)
    scores = {
        "chunk_auc": _auc_or_nan([r[4] for r in gathered], [r[3] for r in gathered]),
        "patient_auc": _auc_or_nan(
            [labels[p] for p in patients], [per_patient[p] for p in patients]
        ),
    }
    return math.fsum(r[5] for r in gathered) / max(len(gathered), 1), scores


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def train_classification(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ClassificationTrainConfig | None = None,
    model: torch.nn.Module | None = None,
    resume: bool = False,
    progress: bool = True,
    val_patients: Collection[str] | None = None,
) -> ClassificationTrainResult:
    """Train the stage 2 classifier of one MRI type on a frame store.

    The job trains the model it is given, or the
    :class:`~radiogenomics.SequenceClassifier` the settings describe: it loops,
    validates, checkpoints and resumes. Any ``nn.Module`` mapping chunks of frames
    (B, T, C, H, W), with their validity mask (B, T), to (B,) logits can be trained; the
    backbone warm-up (``warmup_epochs``) calls its ``freeze_backbone()`` and
    ``unfreeze_backbone()`` (a user's model without them needs ``warmup_epochs=0``).
    A run of the user's model records its class; load it by building the module again
    and calling :func:`~radiogenomics.models.load_weights` on ``best.safetensors``.

    Args:
        data_dir: A folder written by ``prepare-classification`` (with ``labels.csv``).
        out_dir: The run folder (created): checkpoints, ``metrics.jsonl``,
            ``config.json``, ``prep-config.json``.
        config: Training settings; default :class:`ClassificationTrainConfig`. With
            ``model``, its model fields (``backbone``, ``hidden_size`` ...) are unused.
        model: The model to train, in place: a
            :class:`~radiogenomics.SequenceClassifier` of the settings' model fields
            (then the run loads back like one built from the settings), or the user's own
            model. To resume, pass a module built the same way.
        resume: Continue from ``out_dir/last.*`` (starts afresh when there is none).
        progress: Show a progress bar per epoch.
        val_patients: The patients to hold out, given explicitly (e.g. one fold of a
            cross-validation); those with a series of the MRI type are validated, every
            other patient of the type is trained on. Default: a stratified split of
            ``config.val_fraction`` (``val_fraction`` is then unused). Either way the
            split is recorded, and a resumed run must have the same one.

    Returns:
        The outcome, with every epoch's metrics.

    Raises:
        ConfigurationError: Bad settings, ``out_dir`` already holds a run and ``resume``
            is false, or the resumed run had other settings.
        InputNotFoundError: ``data_dir`` is not a frame store.
        InvalidInputError: No series of the MRI type, too few patients for the split,
            no chunk on one side of it, or ``val_patients`` names a patient the store
            does not hold, or none of this MRI type.
        LabelError: A patient of the MRI type has no label.
    """
    from tqdm.auto import tqdm

    config = config or ClassificationTrainConfig()
    data_dir, out = Path(data_dir), Path(out_dir)
    store = FrameStore(data_dir)
    keys = store.series_keys(mri_type=config.mri_type)
    if not keys:
        raise InvalidInputError(
            f"the store has no {config.mri_type} series (it has "
            f"{', '.join(store.mri_types) or 'none'}); choose another mri_type.",
            path=data_dir,
        )
    unlabelled = sorted({p for p, _ in keys if patient_key(p) not in store.labels})
    if unlabelled:
        raise LabelError(
            f"{len(unlabelled)} patient(s) of {config.mri_type} have no label in labels.csv "
            f"(first: {unlabelled[:5]}); training needs every patient's label.",
            path=data_dir / "labels.csv",
        )
    patients = [p for p, _ in keys]
    split_kind = "stratified" if val_patients is None else "given"
    if val_patients is None:
        train_rows, val_rows = stratified_patient_split(
            patients,
            [store.labels[patient_key(p)] for p in patients],
            val_fraction=config.val_fraction,
            seed=config.seed,
        )
    else:
        train_rows, val_rows = given_patient_split(patients, val_patients, known=store.patient_ids)
    train_keys = [keys[i] for i in train_rows.tolist()]
    val_keys = [keys[i] for i in val_rows.tolist()]
    train_patients = tuple(sorted({p for p, _ in train_keys}))
    val_patients = tuple(sorted({p for p, _ in val_keys}))
    split_digest = digest(train_patients) + digest(val_patients)
    frames = store.frames_by_series(mri_type=config.mri_type)
    labels = {p: store.labels[patient_key(p)] for p in patients}

    def chunks(side: Sequence[tuple[str, str]], augment: AugmentConfig | None) -> ChunkDataset:
        return ChunkDataset(
            {k: frames[k] for k in side},
            labels,
            length=config.sequence_length,
            stride=config.stride,
            last=config.last,
            augment=augment,
            seed=config.seed,
            image_size=config.image_size,
        )

    runtime = TrainingRuntime.from_settings(config)
    context = runtime.context
    loader_augment = config.augment and runtime.augment is None
    train_set = chunks(train_keys, AugmentConfig() if loader_augment else None)
    val_set = chunks(val_keys, None)
    sides = (("training", train_set, train_patients), ("validation", val_set, val_patients))
    for name, dataset, side in sides:
        if len(dataset) == 0:
            raise InvalidInputError(
                f"the {name} patients ({len(side)}) have no {config.mri_type} frame, so no "
                "chunk; prepare more patients or loosen the preparation filters.",
                path=data_dir,
            )
    prior = float(np.mean([labels[p] for p in train_patients]))

    files, has_run = open_run_folder(out, resume=resume, data_dir=data_dir)

    with deterministic():
        seed_everything(config.seed)
        user_model = model is not None and not _is_settings_model(model, config)
        if model is None:
            model = config.create_model()
        elif user_model:
            _check_user_classifier(model, config)
        runtime.place(model)
        optimizer = runtime.adamw(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp == torch.float16)
        start, stopping = 0, EarlyStopping(config.patience)
        history: list[dict[str, Any]] = []
        if has_run:
            start, history = runtime.resume(
                files,
                check=lambda state: _check_resume(state, config, split_digest, out, context),
                model=model,
                load_weights=lambda: _load_state_into(
                    model, files.last, expected=None if user_model else config
                ),
                optimizer=optimizer,
                stopping=stopping,
                states={"scaler": scaler},
            )
        run_info = {
            "data_dir": str(data_dir),
            "train_config": config.to_dict(),
            "processes": context.world_size,
            "train_chunks": len(train_set),
            "val_chunks": len(val_set),
            "train_patients": list(train_patients),
            "val_patients": list(val_patients),
            "split": split_kind,
            "train_prevalence": prior,
        }
        runtime.write_run_files(
            files,
            history,
            {
                out / "prep-config.json": store.prep_config,
                out / "config.json": run_info,
                # The stage 1 checkpoint of the frames: predict refuses another one.
                **(
                    {out / "segmentation-model.json": store.segmentation_model}
                    if store.segmentation_model
                    else {}
                ),
            },
        )
        metadata = {
            "format": CLASSIFICATION_CHECKPOINT_FORMAT,
            "train_config": json.dumps(config.to_dict(), sort_keys=True),
            **({"user_model": user_model_name(model)} if user_model else {}),
        }
        loss_fn = torch.nn.BCEWithLogitsLoss()

        for epoch in range(start, config.epochs):
            if stopping.stopped:
                break
            began = time.perf_counter()
            frozen = epoch < config.warmup_epochs
            if config.warmup_epochs:  # the user's model may have no backbone to freeze
                getattr(model, "freeze_backbone" if frozen else "unfreeze_backbone")()
            step_model = runtime.training_model(model)
            step_model.train()
            train_set.set_epoch(epoch)
            bar, clock, generator = runtime.epoch_batches(
                train_set,
                epoch=epoch,
                desc=f"{config.mri_type} epoch {epoch + 1}/{config.epochs}",
                progress=progress,
            )
            total, count = 0.0, 0
            for batch in bar:
                chunk_frames = runtime.to_device(batch["frames"])
                valid = runtime.to_device(batch["valid"])
                target = runtime.to_device(batch["label"])
                if runtime.augment is not None and generator is not None:
                    chunk_frames, _ = runtime.augment(chunk_frames, generator=generator)
                loss = runtime.train_step(
                    optimizer,
                    scaler,
                    partial(step_model, chunk_frames, valid),
                    partial(loss_fn, target=target),
                )
                total += loss * int(target.shape[0])
                count += int(target.shape[0])
                clock.count(int(chunk_frames.shape[0]) * int(chunk_frames.shape[1]))
                bar.set_postfix(loss=f"{total / count:.4f}")
            bar.close()
            train_loss, speed = runtime.end_training(model, clock, total, count)
            val_loader, positions = runtime.val_loader(
                val_set, batch_size=config.batch_size, num_workers=config.num_workers
            )
            val_loss, scores = _evaluate(
                model,
                val_loader,
                positions,
                runtime,
                labels=labels,
                patients=val_patients,
                prior=prior,
            )
            val_loss, scores = broadcast_object((val_loss, scores), context)
            improved = stopping.update(epoch + 1, val_loss, scores)
            runtime.commit_epoch(
                files,
                history,
                {
                    "epoch": epoch + 1,
                    "lr": float(optimizer.param_groups[0]["lr"]),
                    "backbone_frozen": frozen,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "chunk_auc": _json_number(scores["chunk_auc"]),
                    "patient_auc": _json_number(scores["patient_auc"]),
                    "best": improved,
                    **speed,
                },
                began=began,
                model=model,
                scores=scores,
                stopping=stopping,
                metadata=metadata,
                training={"optimizer": optimizer.state_dict(), "scaler": scaler.state_dict()},
                settings={
                    "train_config": json.dumps(config.to_dict()),
                    "split_digest": split_digest,
                },
            )
            if progress and context.is_main:
                tqdm.write(
                    f"{config.mri_type} epoch {epoch + 1}: train {train_loss:.4f} "
                    f"val {val_loss:.4f} chunk AUC {scores['chunk_auc']:.3f} "
                    f"patient AUC {scores['patient_auc']:.3f} "
                    f"({speed['train_images_per_second']:.1f} frames/s)"
                    + (" *" if improved else "")
                )
    return ClassificationTrainResult(
        run_dir=out,
        mri_type=config.mri_type,
        epochs_completed=history[-1]["epoch"] if history else start,
        best_epoch=stopping.best_epoch,
        best_val_loss=stopping.best_loss,
        best_scores=stopping.best_scores,
        stopped_early=stopping.stopped,
        train_patients=train_patients,
        val_patients=val_patients,
        history=history,
    )


def _requested_mri_types(store: FrameStore, mri_types: Sequence[str] | None) -> list[str]:
    """The MRI types to train, in :data:`~radiogenomics.io.MRI_TYPES` order.

    Args:
        store: The frame store.
        mri_types: The types asked for; ``None``: every one the store holds.

    Raises:
        ConfigurationError: An unknown type.
        InvalidInputError: The store lacks a type asked for, or holds none.
    """
    present = [t for t in MRI_TYPES if t in store.mri_types]
    if mri_types is None:
        wanted = present
    else:
        wanted = [check_choice("mri_types", t, MRI_TYPES) for t in mri_types]
        missing = [t for t in wanted if t not in present]
        if missing:
            raise InvalidInputError(
                f"the store has no series of {missing} (it has {present}).", path=store.root
            )
    if not wanted:
        raise InvalidInputError("the store holds no series at all.", path=store.root)
    return wanted


def _is_settings_model(model: torch.nn.Module, config: ClassificationTrainConfig) -> bool:
    """Whether ``model`` is the classifier the settings describe (then rebuilt by loading)."""
    if not isinstance(model, SequenceClassifier):
        return False
    built = {
        "backbone": model.backbone_name,
        "hidden_size": model.hidden_size,
        "num_layers": model.num_layers,
        "head": model.head,
        "dropout": model.dropout_p,
        "sequence_length": model.sequence_length,
    }
    return (
        model.bidirectional
        and model.in_chans == 3
        and all(getattr(config, name) == value for name, value in built.items())
    )


def _check_user_classifier(model: torch.nn.Module, config: ClassificationTrainConfig) -> None:
    """Refuse a user's model that cannot be trained with these settings."""
    if not isinstance(model, torch.nn.Module):
        raise ConfigurationError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if config.warmup_epochs and not all(
        callable(getattr(model, name, None)) for name in ("freeze_backbone", "unfreeze_backbone")
    ):
        raise ConfigurationError(
            f"warmup_epochs={config.warmup_epochs} freezes the backbone for the first epochs, "
            f"but {type(model).__name__} has no freeze_backbone()/unfreeze_backbone(); set "
            "warmup_epochs=0, or wrap your backbone in a SequenceClassifier (which has them)."
        )


def train_classification_all(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ClassificationTrainConfig | None = None,
    mri_types: Sequence[str] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, ClassificationTrainResult]:
    """Train one classifier per MRI type, one after another, into ``OUT/<MRI type>/``.

    Args:
        data_dir: A frame store (see :func:`train_classification`).
        out_dir: The parent run folder; each type's run goes to ``out_dir/<MRI type>``.
        config: Settings shared by every type (``mri_type`` is replaced).
        mri_types: The types to train; default: every one of
            :data:`~radiogenomics.io.MRI_TYPES` that the store holds.
        resume: Resume each type's run (types already finished return at once).
        progress: Show progress bars.

    Returns:
        ``mri_type -> result``, in training order.

    Raises:
        InvalidInputError: The store holds none of the requested MRI types.
        ConfigurationError, LabelError: As :func:`train_classification`.
    """
    config = config or ClassificationTrainConfig()
    wanted = _requested_mri_types(FrameStore(data_dir), mri_types)
    return {
        mri_type: train_classification(
            data_dir,
            Path(out_dir) / mri_type,
            config=dataclasses.replace(config, mri_type=mri_type),
            resume=resume,
            progress=progress,
        )
        for mri_type in wanted
    }
