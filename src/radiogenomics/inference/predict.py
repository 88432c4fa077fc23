"""The whole stage 2 inference chain for new patients: series to one probability each.

The prediction job takes the parts: for each MRI type a :class:`ClassificationRun` (the
classifier, how its chunks are cut, and the
:class:`~radiogenomics.data.frames.FrameRecipe` its training frames were made with), a
test-time augmentation (:class:`~radiogenomics.inference.ZoomTTA`, the reference's
single 1.2 zoom, or none) and an aggregator
(:class:`~radiogenomics.inference.PatientAggregator`, or any object with its
``update``/``aggregate`` methods). For every patient and every run, the series is
turned into frames by the run's recipe, exactly as ``prepare-classification`` made the
training frames, cut into the run's chunks
(:class:`~radiogenomics.data.ChunkDataset`), predicted with the TTA and handed to the
aggregator, which gives every patient exactly one probability (the fallback for a
patient with no chunk).

:func:`load_classification_runs` builds those parts from run folders (the command
line's way): each run's recipe is rebuilt from its ``prep-config.json`` with the stage
1 model, which must be the one its frames were made with
(:func:`check_segmentation_model`).

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import torch

from radiogenomics.data.frames import ClassificationPrepConfig, FrameRecipe
from radiogenomics.errors import ConfigurationError, InvalidInputError, RadiogenomicsError
from radiogenomics.inference.aggregate import PatientAggregator
from radiogenomics.inference.postprocess import MaskCleanup
from radiogenomics.inference.predict_masks import (
    InferenceAmp,
    MaskPredictor,
    prepare_inference_model,
    resolve_channels_last,
    resolve_inference_amp,
)
from radiogenomics.inference.tta import ZoomTTA
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.io.task2 import find_series_inputs, is_excluded_series, load_series_pixels

__all__ = [
    "REFERENCE_TTA",
    "Aggregator",
    "ClassificationRun",
    "PredictionResult",
    "RunInfo",
    "check_segmentation_model",
    "load_classification_runs",
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


@runtime_checkable
class Aggregator(Protocol):
    """What the prediction job needs of an aggregator (:class:`PatientAggregator` is one).

    ``update`` receives each batch of chunk probabilities with their patients and MRI
    types; ``aggregate`` returns one probability for each patient asked for (those
    without a chunk included), keyed as asked.
    """

    def update(
        self,
        patient_ids: Sequence[str],
        mri_types: Sequence[str],
        probabilities: Sequence[float] | npt.NDArray[Any] | torch.Tensor,
    ) -> None:
        """Add a batch of chunk probabilities."""
        ...

    def aggregate(self, patients: Iterable[str] | None = None) -> dict[str, float]:
        """One probability per patient of ``patients``."""
        ...


@dataclass(frozen=True)
class ClassificationRun:
    """One stage 2 classifier and how its inputs are made: a part of the prediction job.

    Attributes:
        model: Maps (B, L, 3, H, W) frames (and a (B, L) validity mask) to (B,) logits
            (a :class:`~radiogenomics.SequenceClassifier`, the user's own module, or the
            ``torch.compile`` wrapper of either).
        mri_type: The MRI type it classifies.
        recipe: The frame recipe its training frames were made with.
        sequence_length: Frames per chunk.
        stride: Frames between chunk starts.
        last: The last-chunk policy (``"pad"`` or ``"shift"``).
        image_size: Frames are resized to this square side (``None``: stored size).
        exclude_known_bad: Skip the series of
            :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`, as preparation did.
        path: The run folder it was loaded from, if any.
        segmentation_sha256: The SHA-256 of the stage 1 checkpoint whose masks its
            training frames hold; ``None`` when not recorded.
    """

    model: torch.nn.Module
    mri_type: str
    recipe: FrameRecipe
    sequence_length: int = 35
    stride: int = 5
    last: Any = "pad"
    image_size: int | None = None
    exclude_known_bad: bool = True
    path: Path | None = None
    segmentation_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.mri_type not in MRI_TYPES:
            raise ConfigurationError(
                f"the run classifies MRI type {self.mri_type!r}; expected one of {MRI_TYPES}.",
                path=self.path,
            )
        if not isinstance(self.recipe, FrameRecipe):
            raise ConfigurationError(
                f"recipe={self.recipe!r} must be a FrameRecipe (the one its training frames "
                "were made with).",
                path=self.path,
            )


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
    if "recipe" in prep:
        raise InvalidInputError(
            "the classification run was trained on frames of a recipe of the user's own "
            f"({prep['recipe']}), which the library cannot rebuild from settings. Predict "
            "with the parts: ClassificationRun(model, mri_type, recipe=that recipe, ...) "
            "and run_prediction(classifiers=[...]).",
            path=path,
        )
    return ClassificationPrepConfig.from_dict(prep)


def _recorded_stage1(info: RunInfo) -> str | None:
    record = getattr(info, "segmentation_model", None)
    digest = record.get("sha256") if isinstance(record, Mapping) else None
    return str(digest) if digest else None


def load_classification_runs(
    paths: Sequence[str | Path],
    *,
    segmentation_run: str | Path,
    device: str | torch.device = "cpu",
    mask_batch_size: int = 32,
    amp: InferenceAmp = "auto",
    channels_last: bool | None = None,
    compile: bool = False,
    loader: RunLoader | None = None,
) -> list[ClassificationRun]:
    """The prediction parts of trained run folders: classifiers with their frame recipes.

    Each run's recipe is the library's, rebuilt from its ``prep-config.json`` around one
    :class:`~radiogenomics.MaskPredictor` of the stage 1 model (shared by the runs of
    equal zoom, threshold and mask clean-up).

    Args:
        paths: One run folder per MRI-type model (several runs of one MRI type pool their
            chunks into that type's mean).
        segmentation_run: The stage 1 run folder.
        device: Torch device of both stages.
        mask_batch_size: Slices per stage 1 forward pass.
        amp: Mixed precision of both stages (:data:`~radiogenomics.inference.InferenceAmp`).
        channels_last: Channels-last weights; ``None`` means on for CUDA only.
        compile: Run both models through ``torch.compile``.
        loader: Loads one classification run as ``loader(path, which="best",
            device=device) -> (model, info)``; default
            :func:`~radiogenomics.training.classification.load_classification_model`.

    Returns:
        One :class:`ClassificationRun` per path.

    Raises:
        InputNotFoundError: A run does not exist.
        InvalidInputError: A run records no preparation settings.
        ConfigurationError: A run classifies no known MRI type.
    """
    from radiogenomics._device import resolve_device
    from radiogenomics.models.segmentation import load_segmentation_model

    if loader is None:
        from radiogenomics.training.classification import load_classification_model

        loader = load_classification_model
    target = resolve_device(device)
    use_channels_last = resolve_channels_last(channels_last, target)
    segmenter, seg_config = load_segmentation_model(segmentation_run, which="best", device=target)
    predictors: dict[tuple[float, float, MaskCleanup | None], MaskPredictor] = {}
    recipes: dict[tuple[float, float, MaskCleanup | None, str], FrameRecipe] = {}
    runs = []
    for raw in paths:
        path = Path(raw)
        model, info = loader(path, which="best", device=target)
        if info.mri_type not in MRI_TYPES:
            raise ConfigurationError(
                f"the run classifies MRI type {info.mri_type!r}; expected one of {MRI_TYPES}.",
                path=path,
            )
        prep = _prep_config(info, path)
        knob = (prep.zoom, prep.threshold, prep.mask_cleanup())
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
                cleanup=prep.mask_cleanup(),
            )
        key = (*knob, prep.to_json())
        if key not in recipes:  # one recipe per setting: its frames are made once
            recipes[key] = FrameRecipe.from_config(prep, predictors[knob])
        model.eval()
        runs.append(
            ClassificationRun(
                model=prepare_inference_model(
                    model, device=target, channels_last=use_channels_last, compile=compile
                ),
                mri_type=info.mri_type,
                recipe=recipes[key],
                sequence_length=int(info.sequence_length),
                stride=int(info.stride),
                last=info.last,
                image_size=info.image_size,
                exclude_known_bad=prep.exclude_known_bad,
                path=path,
                segmentation_sha256=_recorded_stage1(info),
            )
        )
    return runs


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
        name = run.path or run.mri_type
        if run.segmentation_sha256 is None:
            notes.append(
                f"{name}: the run does not record its stage 1 model, so it cannot be "
                "checked against the one given"
            )
        elif run.segmentation_sha256 != digest:
            message = (
                f"{name} was trained on frames made with another stage 1 model (sha256 "
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
    aggregator: Aggregator,
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


def _model_device(run: ClassificationRun) -> torch.device:
    parameter = next(run.model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def run_prediction(
    task2_dir: str | Path,
    *,
    classifiers: Sequence[ClassificationRun] | None = None,
    segmentation_run: str | Path | None = None,
    classification_runs: Sequence[str | Path] | None = None,
    device: str = "cpu",
    tta: ZoomTTA | None = REFERENCE_TTA,
    aggregator: Aggregator | None = None,
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

    Give the parts (``classifiers``, each with its frame recipe, and optionally
    ``aggregator``), or run folders (``segmentation_run`` and ``classification_runs``),
    from which :func:`load_classification_runs` builds them. A series that cannot be
    read is skipped and reported (the patient's other MRI types still count);
    known-bad series are skipped when the run's preparation skipped them.

    Args:
        task2_dir: A Task 2 split folder (``test/``) or one patient folder.
        classifiers: The classifiers with their recipes (see :class:`ClassificationRun`).
        segmentation_run: The stage 1 run folder: with ``classification_runs``, the
            stage 1 model of the recipes; with ``classifiers``, only checked against
            what they record.
        classification_runs: One run folder per MRI-type model (several runs of one
            MRI type pool their chunks into that type's mean).
        device: Torch device of both stages (run folders); the parts run where their
            models are.
        tta: The test-time augmentation; ``None`` predicts the plain chunks.
        aggregator: Collects chunk probabilities and gives one per patient; default
            ``PatientAggregator(fallback=fallback)`` (mean over chunks, then over MRI
            types).
        batch_size: Chunks per forward pass.
        mask_batch_size: Slices per stage 1 forward pass (run folders).
        fallback: The probability of a patient with no chunk (no frame survived the
            filters in any MRI type, or no series could be read), for the default
            aggregator.
        progress: Show a progress bar over patients.
        loader: See :func:`load_classification_runs`.
        amp: Mixed precision of both stages
            (:data:`~radiogenomics.inference.predict_masks.InferenceAmp`; ``"auto"``:
            bfloat16 on CUDA, full precision on CPU).
        channels_last: Channels-last weights (and stage 1 batches); ``None`` means on
            for CUDA only.
        compile: Run both models through ``torch.compile`` (run folders).
        allow_other_segmentation_model: Accept a stage 1 model other than the one a
            classification run's training frames were made with (see
            :func:`check_segmentation_model`); refused by default.

    Returns:
        The probabilities, what happened and where the time went.

    Raises:
        ConfigurationError: No classifier, both or neither of the parts and the run
            folders, an option is invalid, or a run was trained on frames of another
            stage 1 model.
        InputNotFoundError: ``task2_dir`` or a run does not exist.
    """
    from tqdm.auto import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size={batch_size!r} must be a whole number, at least 1.")
    if (classifiers is None) == (classification_runs is None):
        raise ConfigurationError(
            "give the classifiers (classifiers=[ClassificationRun, ...]) or their run "
            "folders (--classification-models RUN_DIR ...), one of the two."
        )
    chosen_aggregator: Aggregator = (
        aggregator if aggregator is not None else PatientAggregator(fallback=fallback)
    )
    result = PredictionResult()
    timings = result.timings
    with _timed(timings, "load"):
        if classifiers is None:
            assert classification_runs is not None
            if segmentation_run is None:
                raise ConfigurationError(
                    "run folders need the stage 1 run (--segmentation-model RUN_DIR)."
                )
            if not classification_runs:
                raise ConfigurationError(
                    "no classification run given; pass at least one run folder "
                    "(--classification-models RUN_DIR ...)."
                )
            runs = load_classification_runs(
                classification_runs,
                segmentation_run=segmentation_run,
                device=device,
                mask_batch_size=mask_batch_size,
                amp=amp,
                channels_last=channels_last,
                compile=compile,
                loader=loader,
            )
        else:
            runs = list(classifiers)
            if not runs:
                raise ConfigurationError("no classifier given; pass at least one.")
        if segmentation_run is not None:
            result.notes += check_segmentation_model(
                runs, segmentation_run, allow_other=allow_other_segmentation_model
            )
    listing = find_series_inputs(task2_dir, tuple(dict.fromkeys(r.mri_type for r in runs)))
    for patient_id in tqdm(listing, desc="predict", unit="patient", disable=not progress):
        built: dict[tuple[str, int, bool], npt.NDArray[np.uint8] | None] = {}
        for run in runs:
            key = (run.mri_type, id(run.recipe), run.exclude_known_bad)
            if key not in built:
                built[key] = _frames(run, patient_id, listing[patient_id], result)
            frames = built[key]
            if frames is None or not len(frames):
                continue
            target = _model_device(run)
            with _timed(timings, "classification"):
                n = _predict_chunks(
                    run,
                    patient_id,
                    frames,
                    tta=tta,
                    batch_size=batch_size,
                    device=target,
                    amp=resolve_inference_amp(amp, target),
                    aggregator=chosen_aggregator,
                )
            chunk_key = (patient_id, run.mri_type)
            result.chunks[chunk_key] = result.chunks.get(chunk_key, 0) + n
    patients = list(listing)
    result.probabilities = chosen_aggregator.aggregate(patients)
    fallback_patients = getattr(chosen_aggregator, "fallback_patients", None)
    result.fallback_patients = (
        list(fallback_patients(patients))
        if callable(fallback_patients)
        else sorted({p for p in patients} - {p for p, _ in result.chunks})
    )
    return result


def _frames(
    run: ClassificationRun,
    patient_id: str,
    series: Mapping[str, Path | None],
    result: PredictionResult,
) -> npt.NDArray[np.uint8] | None:
    """One series' frames made by the run's recipe; ``None`` when missing or unreadable."""
    path = series.get(run.mri_type)
    if path is None or (run.exclude_known_bad and is_excluded_series(patient_id, run.mri_type)):
        return None
    try:
        with _timed(result.timings, "decode"):
            pixels, positions = load_series_pixels(
                path, patient_id=patient_id, mri_type=run.mri_type
            )
        with _timed(result.timings, "segmentation"):
            frames, _ = run.recipe(
                pixels, positions=positions, patient_id=patient_id, mri_type=run.mri_type
            )
    except RadiogenomicsError as error:
        result.failed.append((patient_id, run.mri_type, str(error)))
        return None
    return frames


def predict_patients(
    task2_dir: str | Path,
    *,
    segmentation_run: str | Path | None = None,
    classification_runs: Sequence[str | Path] | None = None,
    classifiers: Sequence[ClassificationRun] | None = None,
    aggregator: Aggregator | None = None,
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
        classifiers: The parts instead of run folders (see :func:`run_prediction`).
        aggregator: See :func:`run_prediction`.
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
        classifiers=classifiers,
        aggregator=aggregator,
        device=device,
        tta=tta,
        batch_size=batch_size,
        progress=progress,
        loader=loader,
        amp=amp,
        channels_last=channels_last,
        compile=compile,
    ).probabilities
