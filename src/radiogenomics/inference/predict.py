"""The whole stage 2 inference chain for new patients: series to one probability each.

For every patient and every MRI type that has a classification model, the series is
turned into frames exactly as ``prepare-classification`` did for the model's training
data (the run's ``prep-config.json``: normalisation, blank filter, stage 1 masks with the
same zoom and threshold, tumor-area and contour filters), cut into the run's chunks
(:class:`~radiogenomics.data.ChunkDataset` with its ``sequence_length``, ``stride``,
``last`` and ``image_size``), predicted with test-time augmentation
(:class:`~radiogenomics.inference.ZoomTTA`, the reference's single 1.2 zoom by default)
and aggregated by :class:`~radiogenomics.inference.PatientAggregator`: mean over a
series' chunks, mean over the patient's MRI types, and the fallback probability for a
patient with no chunk at all, so that every patient gets exactly one probability.

Patients are processed one at a time (their frames are freed before the next one).
Both models run under ``torch.inference_mode`` with the speed options of
:class:`~radiogenomics.inference.MaskPredictor` (``amp``, ``channels_last``,
``compile``); their defaults leave CPU results those of plain float32, and use bfloat16
and channels-last on CUDA. :attr:`PredictionResult.timings` splits the time spent
between loading the models, decoding the DICOM series, stage 1 (segmentation and
frames) and stage 2 (chunks, TTA and the classifiers). This module imports torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from radiogenomics.data.prepare_classification import (
    ClassificationPrepConfig,
    find_series_inputs,
    is_excluded_series,
    load_series_pixels,
    series_to_frames,
)
from radiogenomics.errors import ConfigurationError, InvalidInputError, RadiogenomicsError
from radiogenomics.inference.aggregate import PatientAggregator
from radiogenomics.inference.predict_masks import (
    InferenceAmp,
    MaskPredictor,
    prepare_inference_model,
    resolve_channels_last,
    resolve_inference_amp,
)
from radiogenomics.inference.tta import ZoomTTA
from radiogenomics.io.dicom import MRI_TYPES

__all__ = [
    "REFERENCE_TTA",
    "ClassificationRun",
    "PredictionResult",
    "RunInfo",
    "check_segmentation_model",
    "predict_patients",
    "run_prediction",
]

REFERENCE_TTA = ZoomTTA()
"""The reference's test-time augmentation: one view zoomed in by 1.2."""


class RunInfo(Protocol):
    """What prediction reads from a classification run (see
    :func:`~radiogenomics.training.classification.load_classification_model`)."""

    @property
    def mri_type(self) -> str: ...

    @property
    def image_size(self) -> int | None: ...

    @property
    def sequence_length(self) -> int: ...

    @property
    def stride(self) -> int: ...

    @property
    def last(self) -> Any: ...

    @property
    def prep_config(self) -> ClassificationPrepConfig | Mapping[str, Any]: ...


RunLoader = Callable[..., tuple[torch.nn.Module, RunInfo]]
"""``loader(run_dir, which="best", device=...) -> (model, info)``."""


@dataclass(frozen=True)
class ClassificationRun:
    """One loaded classification model and how its inputs are built.

    Attributes:
        path: The run folder.
        model: Maps (B, L, 3, H, W) frames (and a (B, L) validity mask) to (B,) logits
            (the ``torch.compile`` wrapper of the loaded model when compiled).
        mri_type: The MRI type it classifies.
        prep: The preparation settings of its training frames.
        image_size: Frames are resized to this square side (``None``: stored size).
        sequence_length: Frames per chunk.
        stride: Frames between chunk starts.
        last: The last-chunk policy.
        segmentation_sha256: The SHA-256 of the stage 1 checkpoint whose masks its
            training frames hold; ``None`` when the run does not record it.
    """

    path: Path
    model: torch.nn.Module
    mri_type: str
    prep: ClassificationPrepConfig
    image_size: int | None
    sequence_length: int
    stride: int
    last: Any
    segmentation_sha256: str | None = None


_TIMED_STEPS = ("load", "decode", "segmentation", "classification")


@dataclass
class PredictionResult:
    """The outcome of :func:`run_prediction`.

    Attributes:
        probabilities: ``patient_id -> P(MGMT methylated)``, every patient found, sorted.
        chunks: ``(patient_id, mri_type) -> number of chunks predicted``.
        fallback_patients: Patients with no chunk (they got the fallback probability).
        failed: ``(patient_id, mri_type, reason)`` of series that could not be read
            (skipped, as a missing series is).
        notes: What the user should know about the models (e.g. a run that records no
            stage 1 model).
        timings: Seconds spent, summed over patients: ``"load"`` (both models, once),
            ``"decode"`` (reading the DICOM series), ``"segmentation"`` (stage 1 masks
            and the frames built from them) and ``"classification"`` (chunks, TTA and
            the stage 2 models).
    """

    probabilities: dict[str, float] = field(default_factory=dict)
    chunks: dict[tuple[str, str], int] = field(default_factory=dict)
    fallback_patients: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_TIMED_STEPS, 0.0))

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"{len(self.probabilities)} patients predicted from "
            f"{sum(self.chunks.values())} chunks; {len(self.fallback_patients)} had no "
            "surviving frame and got the fallback probability"
        ]
        lines += [f"NOTE {note}" for note in self.notes]
        lines += [f"SKIPPED {p} {m}: {reason}" for p, m, reason in self.failed]
        return "\n".join(lines)


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - began


def _prep_config(info: RunInfo, path: Path) -> ClassificationPrepConfig:
    prep = info.prep_config
    if isinstance(prep, ClassificationPrepConfig):
        return prep
    if not prep:
        raise InvalidInputError(
            "the classification run records no preparation settings (prep-config.json), "
            "so new patients cannot be prepared as its training frames were. Train it on a "
            "frame store written by `radiogenomics prepare-classification`.",
            path=path,
        )
    return ClassificationPrepConfig.from_dict(prep)


def _load_runs(
    paths: Sequence[str | Path],
    loader: RunLoader | None,
    device: str,
    *,
    channels_last: bool,
    compile: bool,
) -> list[ClassificationRun]:
    if loader is None:
        from radiogenomics.training.classification import load_classification_model

        loader = load_classification_model
    runs = []
    for raw in paths:
        path = Path(raw)
        model, info = loader(path, which="best", device=device)
        if info.mri_type not in MRI_TYPES:
            raise ConfigurationError(
                f"the run classifies MRI type {info.mri_type!r}; expected one of {MRI_TYPES}.",
                path=path,
            )
        model.eval()
        runner = prepare_inference_model(
            model, device=device, channels_last=channels_last, compile=compile
        )
        runs.append(
            ClassificationRun(
                path=path,
                model=runner,
                mri_type=info.mri_type,
                prep=_prep_config(info, path),
                image_size=info.image_size,
                sequence_length=int(info.sequence_length),
                stride=int(info.stride),
                last=info.last,
                segmentation_sha256=_recorded_stage1(info),
            )
        )
    return runs


def _recorded_stage1(info: RunInfo) -> str | None:
    record = getattr(info, "segmentation_model", None)
    digest = record.get("sha256") if isinstance(record, Mapping) else None
    return str(digest) if digest else None


def check_segmentation_model(
    runs: Sequence[ClassificationRun], segmentation_run: str | Path, *, allow_other: bool
) -> list[str]:
    """Refuse a stage 1 model other than the one the classifiers' frames were made with.

    Frames are ``[image, WT, ET]`` with the stage 1 masks: another stage 1 model gives
    other masks, other kept frames and other probabilities than the classifier learned.

    Args:
        runs: The loaded classification runs.
        segmentation_run: The stage 1 run folder (or its checkpoint) used for prediction.
        allow_other: Accept a mismatch (reported in the returned notes instead).

    Returns:
        Notes for the summary: runs that record no stage 1 model, and accepted
        mismatches.

    Raises:
        ConfigurationError: A run records another stage 1 checkpoint and ``allow_other``
            is false.
    """
    from radiogenomics._files import file_digest
    from radiogenomics.data.prepare_classification import segmentation_checkpoint

    checkpoint = segmentation_checkpoint(Path(segmentation_run))
    digest = file_digest(checkpoint)
    notes: list[str] = []
    for run in runs:
        if run.segmentation_sha256 is None:
            notes.append(
                f"{run.path}: the run does not record its stage 1 model, so it cannot be "
                "checked against the one given"
            )
        elif run.segmentation_sha256 != digest:
            message = (
                f"{run.path} was trained on frames made with another stage 1 model (sha256 "
                f"{run.segmentation_sha256[:12]}...) than {checkpoint} (sha256 "
                f"{digest[:12]}...)"
            )
            if not allow_other:
                raise ConfigurationError(
                    f"{message}; its masks, kept frames and probabilities would differ from "
                    "those the classifier learned. Pass the stage 1 run the frame store was "
                    "prepared with, or allow it explicitly "
                    "(--allow-other-segmentation-model).",
                    path=run.path,
                )
            notes.append(f"{message}: accepted (--allow-other-segmentation-model)")
    return notes


def _predict_chunks(
    run: ClassificationRun,
    patient_id: str,
    frames: npt.NDArray[np.uint8],
    *,
    tta: ZoomTTA | None,
    batch_size: int,
    device: torch.device,
    amp: torch.dtype | None,
    aggregator: PatientAggregator,
) -> int:
    from torch.utils.data import DataLoader

    from radiogenomics.data.chunks import ChunkDataset

    dataset = ChunkDataset(
        {(patient_id, run.mri_type): frames},
        None,
        length=run.sequence_length,
        stride=run.stride,
        last=run.last,
        image_size=run.image_size,
    )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    autocast = torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None)
    for batch in loader:
        inputs = batch["frames"].to(device)
        valid = batch["valid"].to(device)
        with torch.inference_mode(), autocast:
            if tta is not None:
                probabilities = tta(run.model, inputs, valid)
            else:
                probabilities = torch.sigmoid(run.model(inputs, valid).reshape(-1).float())
        aggregator.update(batch["patient_id"], batch["mri_type"], probabilities)
    return len(dataset)


def run_prediction(
    task2_dir: str | Path,
    *,
    segmentation_run: str | Path,
    classification_runs: Sequence[str | Path],
    device: str = "cpu",
    tta: ZoomTTA | None = REFERENCE_TTA,
    batch_size: int = 4,
    mask_batch_size: int = 32,
    fallback: float = 0.5,
    progress: bool = False,
    loader: RunLoader | None = None,
    amp: InferenceAmp = "auto",
    channels_last: bool | None = None,
    compile: bool = False,
    allow_other_segmentation_model: bool = False,
) -> PredictionResult:
    """Predict every patient of a Task 2 folder (or one patient folder), with details.

    See the module docs for the chain. A series that cannot be read is skipped and
    reported (the patient's other MRI types still count); known-bad series are skipped
    when the run's preparation settings exclude them.

    Args:
        task2_dir: A Task 2 split folder (``test/``) or one patient folder.
        segmentation_run: The stage 1 run folder.
        classification_runs: One run folder per MRI-type model (several runs of one
            MRI type pool their chunks into that type's mean).
        device: Torch device of both stages.
        tta: The test-time augmentation; ``None`` predicts the plain chunks.
        batch_size: Chunks per forward pass.
        mask_batch_size: Slices per stage 1 forward pass.
        fallback: The probability of a patient with no chunk (no frame survived the
            filters in any MRI type, or no series could be read).
        progress: Show a progress bar over patients.
        loader: Loads one classification run as ``loader(path, which="best",
            device=device) -> (model, info)``; default
            :func:`~radiogenomics.training.classification.load_classification_model`.
        amp: Mixed precision of both stages
            (:data:`~radiogenomics.inference.predict_masks.InferenceAmp`; ``"auto"``:
            bfloat16 on CUDA, full precision on CPU).
        channels_last: Channels-last weights (and stage 1 batches); ``None`` means on
            for CUDA only.
        compile: Run both models through ``torch.compile``.
        allow_other_segmentation_model: Accept a stage 1 model other than the one a
            classification run's training frames were made with (see
            :func:`check_segmentation_model`); refused by default.

    Returns:
        The probabilities, what happened and where the time went.

    Raises:
        ConfigurationError: No classification run, an option is invalid, or a run was
            trained on frames of another stage 1 model.
        InputNotFoundError: ``task2_dir`` or a run does not exist.
    """
    from tqdm.auto import tqdm

    from radiogenomics._device import resolve_device
    from radiogenomics.models.segmentation import load_segmentation_model

    if not classification_runs:
        raise ConfigurationError(
            "no classification run given; pass at least one run folder "
            "(--classification-models RUN_DIR ...)."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size={batch_size!r} must be a whole number, at least 1.")
    aggregator = PatientAggregator(fallback=fallback)
    target = resolve_device(device)
    autocast_dtype = resolve_inference_amp(amp, target)
    use_channels_last = resolve_channels_last(channels_last, target)
    result = PredictionResult()
    timings = result.timings
    with _timed(timings, "load"):
        runs = _load_runs(
            classification_runs,
            loader,
            device,
            channels_last=use_channels_last,
            compile=compile,
        )
        result.notes += check_segmentation_model(
            runs, segmentation_run, allow_other=allow_other_segmentation_model
        )
        segmenter, seg_config = load_segmentation_model(
            segmentation_run, which="best", device=device
        )
    predictors: dict[tuple[float, float], MaskPredictor] = {}
    listing = find_series_inputs(task2_dir, tuple(dict.fromkeys(r.mri_type for r in runs)))
    for patient_id in tqdm(listing, desc="predict", unit="patient", disable=not progress):
        built: dict[tuple[str, str], npt.NDArray[np.uint8] | None] = {}
        for run in runs:
            prep = run.prep
            key = (run.mri_type, prep.to_json())
            if key not in built:
                built[key] = None
                path = listing[patient_id].get(run.mri_type)
                excluded = prep.exclude_known_bad and is_excluded_series(patient_id, run.mri_type)
                if path is not None and not excluded:
                    knob = (prep.zoom, prep.threshold)
                    if knob not in predictors:
                        predictors[knob] = MaskPredictor(
                            segmenter,
                            image_size=int(seg_config.image_size),
                            zoom=prep.zoom,
                            threshold=prep.threshold,
                            batch_size=mask_batch_size,
                            device=target,
                            amp=amp,
                            channels_last=use_channels_last,
                            compile=compile,
                        )
                    try:
                        with _timed(timings, "decode"):
                            pixels, positions = load_series_pixels(
                                path, patient_id=patient_id, mri_type=run.mri_type
                            )
                        with _timed(timings, "segmentation"):
                            built[key] = series_to_frames(
                                pixels,
                                predictors[knob],
                                prep,
                                positions=positions,
                                patient_id=patient_id,
                                mri_type=run.mri_type,
                            )[0]
                    except RadiogenomicsError as error:
                        result.failed.append((patient_id, run.mri_type, str(error)))
            frames = built[key]
            if frames is None or not len(frames):
                continue
            with _timed(timings, "classification"):
                n = _predict_chunks(
                    run,
                    patient_id,
                    frames,
                    tta=tta,
                    batch_size=batch_size,
                    device=target,
                    amp=autocast_dtype,
                    aggregator=aggregator,
                )
            chunk_key = (patient_id, run.mri_type)
            result.chunks[chunk_key] = result.chunks.get(chunk_key, 0) + n
    patients = list(listing)
    result.probabilities = aggregator.aggregate(patients)
    result.fallback_patients = aggregator.fallback_patients(patients)
    return result


def predict_patients(
    task2_dir: str | Path,
    *,
    segmentation_run: str | Path,
    classification_runs: Sequence[str | Path],
    device: str = "cpu",
    tta: ZoomTTA | None = REFERENCE_TTA,
    batch_size: int = 4,
    progress: bool = False,
    loader: RunLoader | None = None,
    amp: InferenceAmp = "auto",
    channels_last: bool | None = None,
    compile: bool = False,
) -> dict[str, float]:
    """One MGMT probability per patient of a Task 2 folder (or one patient folder).

    The whole inference chain (see the module docs and :func:`run_prediction`, which
    also reports chunk counts and fallbacks).

    Args:
        task2_dir: A Task 2 split folder (``test/``) or one patient folder.
        segmentation_run: The stage 1 run folder.
        classification_runs: One run folder per MRI-type model.
        device: Torch device of both stages.
        tta: The test-time augmentation; ``None`` predicts the plain chunks.
        batch_size: Chunks per forward pass.
        progress: Show a progress bar over patients.
        loader: See :func:`run_prediction`.
        amp: See :func:`run_prediction`.
        channels_last: See :func:`run_prediction`.
        compile: See :func:`run_prediction`.

    Returns:
        ``patient_id -> probability``, every patient found exactly once, sorted.

    Example:
        >>> probabilities = predict_patients(  # doctest: +SKIP
        ...     "test", segmentation_run="runs/seg", classification_runs=["runs/cls/FLAIR"])
        >>> write_submission(probabilities, "submission.csv")  # doctest: +SKIP
    """
    return run_prediction(
        task2_dir,
        segmentation_run=segmentation_run,
        classification_runs=classification_runs,
        device=device,
        tta=tta,
        batch_size=batch_size,
        progress=progress,
        loader=loader,
        amp=amp,
        channels_last=channels_last,
        compile=compile,
    ).probabilities
