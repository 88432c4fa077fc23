"""Scoring a stage 2 run's held-out validation patients, as its training loop scored them.

:func:`held_out_predictions` reloads a ``train-classification`` run, cuts its held-out
patients' frames into its chunks without augmentation and takes each patient's mean
chunk probability. The ROC curve of a run (``radiogenomics plot roc --run``) and the
out-of-fold probabilities of a cross-validation come from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._files import read_json_object
from radiogenomics.errors import ConfigurationError, InputNotFoundError, InvalidInputError

__all__ = ["HeldOutPredictions", "held_out_predictions"]


def _run_record(run: Path) -> dict[str, Any]:
    path = run / "config.json"
    if not path.is_file():
        raise InputNotFoundError(
            "no config.json; pass a run folder written by train-classification (for "
            "--mri-type all, one of its MRI-type folders).",
            path=run,
        )
    record = read_json_object(path, what="the run's settings", fix="Train the run again.")
    if "val_patients" not in record:
        raise InvalidInputError(
            "config.json lists no val_patients; is this a stage 2 (train-classification) run?",
            path=path,
        )
    return record


@dataclass(frozen=True, eq=False)
class HeldOutPredictions:
    """The held-out validation patients of a stage 2 run, scored at one checkpoint.

    Attributes:
        patients: The held-out patients, sorted.
        truth: Their MGMT labels, of shape (N,) and dtype int64.
        scores: Their probabilities (mean over their chunks; patients with no chunk get
            the training prevalence, as in training), of shape (N,) and dtype float64.
        mri_type: The run's MRI type.
        epoch: The epoch of the checkpoint.
    """

    patients: tuple[str, ...]
    truth: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    mri_type: str
    epoch: int


def held_out_predictions(
    run_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    which: Literal["best", "last"] = "best",
    device: str = "cpu",
    batch_size: int = 4,
) -> HeldOutPredictions:
    """Score a stage 2 run's held-out validation patients as its training loop did.

    Loads the checkpoint, cuts the held-out patients' frames (from the frame store the
    run was trained on) into the run's chunks without augmentation, and takes each
    patient's mean chunk probability; patients with no chunk get the training
    prevalence. At the best epoch, the AUC of the result is the ``patient_auc`` of
    ``metrics.jsonl`` (up to the floating-point effects of another batch size or
    device).

    Args:
        run_dir: A run folder of ``train-classification`` (one MRI type).
        data_dir: The frame store; default: the one recorded in the run's
            ``config.json``.
        which: ``"best"`` or ``"last"`` checkpoint.
        device: Torch device (``"auto"``, ``"cpu"``, ``"cuda"``).
        batch_size: Chunks per forward pass.

    Returns:
        The patients, their labels and their probabilities.

    Raises:
        InputNotFoundError: No run or no frame store there.
        InvalidInputError: The folder is not a stage 2 run.
        LabelError: A held-out patient has no label in the store.
        ConfigurationError: An option is invalid.
    """
    import torch
    from torch.utils.data import DataLoader

    from radiogenomics._device import resolve_amp, resolve_device
    from radiogenomics.data.chunks import ChunkDataset
    from radiogenomics.data.frame_store import FrameStore
    from radiogenomics.inference.aggregate import PatientAggregator
    from radiogenomics.training.classification import load_classification_model

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size={batch_size!r} must be a whole number, at least 1.")
    run = Path(run_dir)
    record = _run_record(run)
    store = FrameStore(Path(data_dir) if data_dir is not None else Path(record["data_dir"]))
    target = resolve_device(device)
    model, info = load_classification_model(run, which=which, device=target)
    amp = resolve_amp(info.train_config.amp, target)
    patients = tuple(sorted(str(p) for p in record["val_patients"]))
    labels = {p: store.label(p) for p in patients}
    prior = record.get("train_prevalence")
    if prior is None:
        train = [store.label(str(p)) for p in record.get("train_patients", [])]
        prior = float(np.mean(train)) if train else 0.5
    dataset = ChunkDataset(
        store.frames_by_series(mri_type=info.mri_type, patients=patients),
        labels,
        length=info.sequence_length,
        stride=info.stride,
        last=info.last,
        image_size=info.image_size,
    )
    aggregator = PatientAggregator(reduce="mean", fallback="prior", prior=float(prior))
    model.eval()
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            frames = batch["frames"].to(target)
            valid = batch["valid"].to(target)
            with torch.autocast(target.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = model(frames, valid)
            probabilities = torch.sigmoid(logits.float()).cpu()
            aggregator.update(batch["patient_id"], batch["mri_type"], probabilities)
    per_patient = aggregator.aggregate(patients)
    return HeldOutPredictions(
        patients=patients,
        truth=np.array([labels[p] for p in patients], dtype=np.int64),
        scores=np.array([per_patient[p] for p in patients], dtype=np.float64),
        mri_type=info.mri_type,
        epoch=info.epoch,
    )
