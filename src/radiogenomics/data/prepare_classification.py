"""Stage 2 data preparation: Task 2 patients to a frame store of mask-conditioned frames.

For every patient and MRI type, the series is read in geometric order (a DICOM series
folder, or a NIfTI volume ``<patient>/<MRI type>.nii.gz`` in the layout that
``radiogenomics dicom-to-nifti`` writes), normalised to uint8 over the whole series,
its non-blank slices are segmented by the stage 1 model (WT and ET, with the
reference's 1.2 zoom and its inverse), and each slice becomes a 3-channel frame
``[image, WT * 255, ET * 255]``. :func:`series_frames` keeps the frames that pass
:class:`~radiogenomics.filters.BlankSliceFilter`,
:class:`~radiogenomics.filters.TumorAreaFilter` and
:class:`~radiogenomics.filters.ContourCountFilter`, in geometric order.

Layout of a frame store::

    OUT/
      prepare-config.json      the ClassificationPrepConfig (a rerun must match it)
      segmentation-model.json  the stage 1 checkpoint used (a rerun must match it)
      labels.csv               BraTS21ID,MGMT_value of the labelled patients prepared
      manifest.csv             every kept frame: patient, MRI type (FLAIR, T1w, T1wCE, T2w)
      series.csv               every series: n_slices, n_kept, status
      failures.csv             series that failed, with the reason (absent when none)
      <patient_id>/
        <MRI type>.npy         uint8 (N, H, W, 3) frames at the series' native size
        frames.csv             this patient's manifest rows
        series.csv             this patient's series rows

``status`` is ``ok`` (frames kept), ``no-frames`` (nothing survived the filters),
``known-bad`` (skipped, see :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`) or
``failed`` (see ``failures.csv``; a missing series folder counts as failed). A patient
folder appears only complete (written under ``OUT/.partial/`` and renamed); a rerun
skips patients already written without a failed series, and redoes the others.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._atomic import BATCH_ADVICE, atomic_text, storage_errors
from radiogenomics._files import file_digest, read_json_object
from radiogenomics._options import (
    check_names,
)
from radiogenomics._outputs import check_replaceable
from radiogenomics.data._jobs import (
    PARTIAL_DIR,
    check_prep_config,
    init_worker,
    remove_leftovers,
    run_jobs,
    worker_count,
    write_failures,
    write_rows,
    write_rows_atomic,
)
from radiogenomics.data.frame_store import FRAME_MANIFEST_FIELDS, SERIES_FIELDS
from radiogenomics.data.frames import (
    ClassificationPrepConfig,
    FrameRecipe,
    series_frames,
    series_to_frames,
)
from radiogenomics.data.store import check_folder_name, commit_folder
from radiogenomics.errors import (
    ConfigurationError,
    InputNotFoundError,
    InvalidInputError,
    RadiogenomicsError,
    StorageError,
)
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.io.labels import normalize_patient_id
from radiogenomics.io.task2 import find_series_inputs, is_excluded_series, load_series_pixels
from radiogenomics.records import SliceRecord

if TYPE_CHECKING:
    from radiogenomics.inference.predict_masks import MaskPredictor

__all__ = [
    "FRAME_STORE_KIND",
    "ClassificationPrepConfig",
    "ClassificationPrepReport",
    "FrameRecipe",
    "PatientOutcome",
    "SeriesOutcome",
    "SeriesStatus",
    "find_series_inputs",
    "is_excluded_series",
    "load_series_pixels",
    "prepare_classification",
    "prepare_patient",
    "segmentation_checkpoint",
    "series_frames",
    "series_to_frames",
]

SeriesStatus = Literal["ok", "no-frames", "known-bad", "failed"]
"""What happened to one series."""

_DONE_FILE = "series.csv"


# -- outcomes --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesOutcome:
    """What happened to one series.

    Attributes:
        patient_id: The patient.
        mri_type: The MRI type.
        status: ``"ok"``, ``"no-frames"``, ``"known-bad"`` or ``"failed"``.
        n_slices: Slices read (0 when not read).
        n_kept: Frames kept.
        error: The reason, when failed.
    """

    patient_id: str
    mri_type: str
    status: SeriesStatus
    n_slices: int = 0
    n_kept: int = 0
    error: str | None = None

    def row(self) -> dict[str, str]:
        """The ``series.csv`` row."""
        return {
            "patient_id": self.patient_id,
            "mri_type": self.mri_type,
            "n_slices": str(self.n_slices),
            "n_kept": str(self.n_kept),
            "status": self.status,
        }


@dataclass(frozen=True)
class PatientOutcome:
    """What happened to one patient.

    Attributes:
        patient_id: The patient.
        status: ``"written"``, ``"skipped"`` (already prepared) or ``"failed"`` (some
            series failed; the others were written).
        series: One outcome per MRI type.
    """

    patient_id: str
    status: Literal["written", "skipped", "failed"]
    series: tuple[SeriesOutcome, ...] = ()

    @property
    def n_frames(self) -> int:
        """Frames kept over all series."""
        return sum(s.n_kept for s in self.series)


@dataclass
class ClassificationPrepReport:
    """The outcome of a stage 2 preparation run.

    Attributes:
        out: The frame store.
        outcomes: One per patient, sorted by patient.
        unlabelled: Patients without a label (prepared, but not in ``labels.csv``).
    """

    out: Path
    outcomes: list[PatientOutcome] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[SeriesOutcome]:
        """The failed series."""
        return [s for o in self.outcomes for s in o.series if s.status == "failed"]

    @property
    def ok(self) -> bool:
        """Whether no series failed."""
        return not self.failed

    def summary(self) -> str:
        """A few human-readable lines."""
        counts = {
            s: sum(o.status == s for o in self.outcomes) for s in ("written", "skipped", "failed")
        }
        series = [s for o in self.outcomes for s in o.series]
        by_status = {
            s: sum(x.status == s for x in series) for s in ("ok", "no-frames", "known-bad")
        }
        lines = [
            f"{counts['written']} patients written, {counts['skipped']} already prepared, "
            f"{counts['failed']} with failed series; "
            f"{sum(o.n_frames for o in self.outcomes)} frames from {by_status['ok']} series "
            f"({by_status['no-frames']} with no frame left, {by_status['known-bad']} known-bad "
            f"skipped) -> {self.out / 'manifest.csv'}"
        ]
        if self.unlabelled:
            lines.append(
                f"{len(self.unlabelled)} patients have no label and are not in labels.csv: "
                f"{', '.join(self.unlabelled[:5])}{' ...' if len(self.unlabelled) > 5 else ''}"
            )
        lines += [f"FAILED {s.patient_id} {s.mri_type}: {s.error}" for s in self.failed]
        return "\n".join(lines)


# -- writing ---------------------------------------------------------------------------


def _format_float(value: float | None) -> str:
    return "" if value is None else repr(round(float(value), 6))


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write_patient(
    out: Path,
    patient_id: str,
    frames: Mapping[str, tuple[npt.NDArray[np.uint8], list[SliceRecord]]],
    series: Sequence[SeriesOutcome],
) -> None:
    """Write one patient's folder atomically (replacing an older one).

    Raises:
        InvalidInputError: ``patient_id`` is not a plain folder name.
        StorageError: The folder cannot be written (a full disk); nothing of it is left.
    """
    check_folder_name(patient_id, out, what="patient identifier")
    partial = out / PARTIAL_DIR / f"{patient_id}-{uuid.uuid4().hex[:8]}"
    try:
        with storage_errors(
            out / patient_id,
            what=f"patient {patient_id}",
            patient_id=patient_id,
            advice=BATCH_ADVICE.replace("cases", "patients"),
        ):
            partial.mkdir(parents=True)
            rows: list[dict[str, str]] = []
            for mri_type in MRI_TYPES:
                if mri_type not in frames or not len(frames[mri_type][0]):
                    continue
                array, records = frames[mri_type]
                name = f"{mri_type}.npy"
                np.save(partial / name, np.ascontiguousarray(array, dtype=np.uint8))
                for row, record in enumerate(records):
                    rows.append(
                        {
                            "patient_id": patient_id,
                            "mri_type": mri_type,
                            "position": _format_float(record.position),
                            "tumor_ratio": _format_float(record.tumor_ratio),
                            "n_contours": ""
                            if record.n_contours is None
                            else str(record.n_contours),
                            "frame_file": f"{patient_id}/{name}",
                            "row": str(row),
                        }
                    )
            write_rows(partial / "frames.csv", FRAME_MANIFEST_FIELDS, rows)
            write_rows(partial / _DONE_FILE, SERIES_FIELDS, [s.row() for s in series])
            commit_folder(partial, out, patient_id, done_file=_DONE_FILE)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _finished(out: Path, patient_id: str) -> list[SeriesOutcome] | None:
    """The stored series outcomes of a finished patient (no failed series), else None."""
    path = out / patient_id / _DONE_FILE
    if not path.is_file():
        return None
    rows = _read_rows(path)
    if any(r.get("status") == "failed" for r in rows):
        return None
    return [
        SeriesOutcome(
            r["patient_id"],
            r["mri_type"],
            r["status"],  # type: ignore[arg-type]
            int(r["n_slices"] or 0),
            int(r["n_kept"] or 0),
        )
        for r in rows
    ]


# -- workers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    """Which series a run prepares: the MRI types, and whether known-bad ones are skipped."""

    mri_types: tuple[str, ...] = MRI_TYPES
    exclude_known_bad: bool = True


_RECIPE: FrameRecipe | None = None


def _load_predictor(
    segmentation_run: Path,
    *,
    config: ClassificationPrepConfig,
    device: str,
    batch_size: int,
) -> MaskPredictor:
    from radiogenomics.inference.predict_masks import MaskPredictor
    from radiogenomics.models.segmentation import load_segmentation_model

    model, model_config = load_segmentation_model(segmentation_run, which="best", device=device)
    return MaskPredictor(
        model,
        image_size=int(model_config.image_size),
        zoom=config.zoom,
        threshold=config.threshold,
        batch_size=batch_size,
        device=device,
        cleanup=config.mask_cleanup(),
    )


def _init_worker(
    source: FrameRecipe | tuple[Path, ClassificationPrepConfig, str, int],
    threads: int,
) -> None:
    """A worker's one recipe: the one given, or the library's, with the stage 1 model."""
    import torch

    init_worker()
    global _RECIPE
    torch.set_num_threads(threads)
    if isinstance(source, FrameRecipe):
        _RECIPE = source
    else:
        run, config, device, batch_size = source
        predictor = _load_predictor(run, config=config, device=device, batch_size=batch_size)
        _RECIPE = FrameRecipe.from_config(config, predictor)


def prepare_patient(
    patient_id: str,
    series: Mapping[str, Path | None],
    out: str | Path,
    recipe: FrameRecipe | ClassificationPrepConfig | None = None,
    predictor: MaskPredictor | None = None,
    *,
    mri_types: Sequence[str] | None = None,
    exclude_known_bad: bool | None = None,
) -> PatientOutcome:
    """Prepare one patient with a frame recipe: every requested MRI type, written atomically.

    Library errors of a series (unreadable files, geometry) make that series
    ``"failed"``; the patient's other series are still written. An identifier that is
    not a plain folder name fails every series and writes nothing. Anything else
    propagates.

    Args:
        patient_id: The patient (its folder name).
        series: MRI type -> series path (``None``: missing), as
            :func:`~radiogenomics.io.task2.find_series_inputs` gives.
        out: The frame store.
        recipe: What each series becomes; or settings, which build the library's recipe
            with ``predictor``; default: the recipe this worker process holds.
        predictor: The stage 1 mask predictor, with settings as ``recipe``.
        mri_types: The MRI types to prepare; default: the settings', or all four.
        exclude_known_bad: Skip :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`;
            default: the settings', or yes.

    Returns:
        The outcome.

    Raises:
        StorageError: The patient cannot be written (a full disk); nothing of it is left.
        ConfigurationError: Settings without a predictor, or no recipe at all.
    """
    out = Path(out)
    base = (
        _Selection(recipe.mri_types, recipe.exclude_known_bad)
        if isinstance(recipe, ClassificationPrepConfig)
        else _Selection()
    )
    selection = _Selection(
        base.mri_types if mri_types is None else check_names("mri_types", mri_types, MRI_TYPES),
        base.exclude_known_bad if exclude_known_bad is None else bool(exclude_known_bad),
    )
    refused = _refuse_patient_id(patient_id, out, selection)
    if refused is not None:  # before any model is needed
        return refused
    if isinstance(recipe, ClassificationPrepConfig):
        if predictor is None:
            raise ConfigurationError(
                "settings need the stage 1 mask predictor (predictor=) to build the recipe."
            )
        chosen = FrameRecipe.from_config(recipe, predictor)
    else:
        found = recipe if recipe is not None else _RECIPE
        if found is None:
            raise ConfigurationError("no frame recipe was given or loaded in this process.")
        chosen = found
    return _prepare(patient_id, series, out, chosen, selection)


def _prepare(
    patient_id: str,
    series: Mapping[str, Path | None],
    out: Path,
    recipe: FrameRecipe,
    selection: _Selection,
) -> PatientOutcome:
    refused = _refuse_patient_id(patient_id, out, selection)
    if refused is not None:
        return refused
    done = _finished(out, patient_id)
    if done is not None:
        return PatientOutcome(patient_id, "skipped", tuple(done))
    outcomes: list[SeriesOutcome] = []
    frames: dict[str, tuple[npt.NDArray[np.uint8], list[SliceRecord]]] = {}
    for mri_type in [t for t in MRI_TYPES if t in selection.mri_types]:
        path = series.get(mri_type)
        if selection.exclude_known_bad and is_excluded_series(patient_id, mri_type):
            outcomes.append(SeriesOutcome(patient_id, mri_type, "known-bad"))
            continue
        if path is None:
            outcomes.append(
                SeriesOutcome(
                    patient_id,
                    mri_type,
                    "failed",
                    error=f"no {mri_type} series (neither a {mri_type}/ folder nor "
                    f"{mri_type}.nii.gz) in the patient folder",
                )
            )
            continue
        try:
            pixels, positions = load_series_pixels(path, patient_id=patient_id, mri_type=mri_type)
            kept = recipe(pixels, positions=positions, patient_id=patient_id, mri_type=mri_type)
        except RadiogenomicsError as error:
            outcomes.append(SeriesOutcome(patient_id, mri_type, "failed", error=str(error)))
            continue
        frames[mri_type] = kept
        n_kept = len(kept[1])
        outcomes.append(
            SeriesOutcome(
                patient_id, mri_type, "ok" if n_kept else "no-frames", int(pixels.shape[0]), n_kept
            )
        )
    _write_patient(out, patient_id, frames, outcomes)
    failed = any(o.status == "failed" for o in outcomes)
    return PatientOutcome(patient_id, "failed" if failed else "written", tuple(outcomes))


def _refuse_patient_id(patient_id: str, out: Path, selection: _Selection) -> PatientOutcome | None:
    """A failed outcome when ``patient_id`` cannot name a folder of ``out``, else None.

    That is an identifier that is not a plain folder name, or a folder of that name that
    this library did not write (it is never replaced).
    """
    try:
        check_folder_name(patient_id, out, what="patient identifier")
        check_replaceable(out / patient_id, _DONE_FILE)
    except (InvalidInputError, ConfigurationError) as error:
        failed = tuple(
            SeriesOutcome(patient_id, t, "failed", error=str(error))
            for t in MRI_TYPES
            if t in selection.mri_types
        )
        return PatientOutcome(patient_id, "failed", failed)
    return None


def _prepare_in_worker(
    patient_id: str,
    *,
    listing: Mapping[str, Mapping[str, Path | None]],
    out: Path,
    selection: _Selection,
) -> PatientOutcome:
    assert _RECIPE is not None  # set by _init_worker
    return _prepare(patient_id, listing[patient_id], out, _RECIPE, selection)


# -- the batch ---------------------------------------------------------------------------


def segmentation_checkpoint(run: Path) -> Path:
    """The stage 1 checkpoint of a run folder (its ``best.safetensors``), or the file given.

    Raises:
        InputNotFoundError: No such checkpoint.
    """
    path = run if run.suffix == ".safetensors" else run / "best.safetensors"
    if not path.is_file():
        raise InputNotFoundError(
            "stage 1 checkpoint not found; pass the run folder of "
            "`radiogenomics train-segmentation` (it holds best.safetensors).",
            path=path,
        )
    return path


FRAME_STORE_KIND = "frame-store"
"""The marker kind of a stage 2 frame store."""


def _check_store(
    out: Path,
    record: Mapping[str, Any],
    model_info: dict[str, str] | None,
    overwrite: bool,
    inputs: Sequence[tuple[str, Path | None]],
) -> None:
    check_prep_config(out, record, kind=FRAME_STORE_KIND, overwrite=overwrite, inputs=inputs)
    model_path = out / "segmentation-model.json"
    if model_path.is_file():
        previous_model = read_json_object(
            model_path,
            what="which stage 1 model prepared this folder",
            fix="Use another --out, or --overwrite to start again.",
        )
        if model_info is None or previous_model.get("sha256") != model_info["sha256"]:
            raise ConfigurationError(
                f"this folder was prepared with another stage 1 model "
                f"({previous_model.get('checkpoint')}); its masks would not match. Use "
                "another --out, or --overwrite to start again.",
                path=out,
            )
    elif model_info is not None:
        atomic_text(model_path, json.dumps(model_info, indent=2) + "\n")
    remove_leftovers(out)


def _write_summary_files(
    out: Path,
    patients: Sequence[str],
    outcomes: Mapping[str, PatientOutcome],
    labels: Mapping[str, int] | None,
) -> None:
    frame_rows: list[dict[str, str]] = []
    series_rows: list[dict[str, str]] = []
    label_rows: list[dict[str, str]] = []
    for patient_id in patients:
        if not _valid_id(patient_id, out):  # never read outside ``out``
            series_rows.extend(s.row() for s in outcomes[patient_id].series)
            continue
        frames_csv = out / patient_id / "frames.csv"
        if frames_csv.is_file():
            frame_rows.extend(_read_rows(frames_csv))
        outcome = outcomes.get(patient_id)
        if outcome is not None:
            series_rows.extend(s.row() for s in outcome.series)
        elif (out / patient_id / _DONE_FILE).is_file():
            series_rows.extend(_read_rows(out / patient_id / _DONE_FILE))
        if labels is not None and (out / patient_id / _DONE_FILE).is_file():
            key = _label_key(patient_id)
            if key is not None and key in labels:
                label_rows.append({"BraTS21ID": key, "MGMT_value": str(labels[key])})
    write_rows_atomic(out / "manifest.csv", FRAME_MANIFEST_FIELDS, frame_rows)
    write_rows_atomic(out / "series.csv", SERIES_FIELDS, series_rows)
    if labels is not None:
        write_rows_atomic(out / "labels.csv", ("BraTS21ID", "MGMT_value"), label_rows)
    failures = [
        {"patient_id": s.patient_id, "mri_type": s.mri_type, "error": s.error or ""}
        for patient_id in patients
        if patient_id in outcomes
        for s in outcomes[patient_id].series
        if s.status == "failed"
    ]
    write_failures(out, ("patient_id", "mri_type", "error"), failures)


def _valid_id(patient_id: str, out: Path) -> bool:
    try:
        check_folder_name(patient_id, out, what="patient identifier")
    except RadiogenomicsError:
        return False
    return True


def _label_key(patient_id: str) -> str | None:
    try:
        return normalize_patient_id(patient_id)
    except RadiogenomicsError:
        return None


def prepare_classification(
    task2_dir: str | Path,
    out: str | Path,
    *,
    labels: str | Path | None = None,
    recipe: FrameRecipe | None = None,
    segmentation_run: str | Path | None = None,
    config: ClassificationPrepConfig | None = None,
    mri_types: Sequence[str] | None = None,
    exclude_known_bad: bool | None = None,
    workers: int = 1,
    device: str = "cpu",
    batch_size: int = 32,
    overwrite: bool = False,
    progress: bool = False,
    on_outcome: Callable[[PatientOutcome], None] | None = None,
) -> ClassificationPrepReport:
    """Prepare the stage 2 frame store of a Task 2 folder with a frame recipe.

    The job runs a :class:`~radiogenomics.data.frames.FrameRecipe` over every series of
    every patient (in parallel with ``workers``) and writes the kept frames (see the
    module docs for the store's layout); it only batches, resumes and writes. Give
    either ``recipe`` (the user's parts: any mask function and frame steps) or the
    stage 1 run with settings (``segmentation_run`` and ``config``, default: the
    writeup's), from which each worker builds the library's recipe. Prediction builds
    the same recipe from a classification run, so its frames are made the same way.

    Resumable: patients already written (with no failed series) are skipped, so a rerun
    after an interruption (even a killed process) finishes the work and ends with exactly
    the files of an uninterrupted run; patients with a failed series are redone. A rerun
    with another recipe, or another stage 1 model, is refused. A failing series is
    reported (``failures.csv``) and the batch goes on; a full disk stops the batch
    (every further patient would fail too), keeping the patients already written.

    Args:
        task2_dir: A Task 2 split folder (``train/``) or one patient folder.
        out: The frame store (created).
        labels: ``train_labels.csv``; its patients that are prepared are listed in
            ``OUT/labels.csv``. ``None`` for unlabelled data.
        recipe: What each series becomes (instead of ``config``); with ``workers > 1``
            it is pickled to each worker.
        segmentation_run: The stage 1 run folder (or its ``.safetensors`` checkpoint):
            with ``config`` it builds the library's recipe; with ``recipe`` it is only
            recorded (``segmentation-model.json``), so prediction can check it.
        config: Settings of the library's recipe; default
            :class:`~radiogenomics.data.frames.ClassificationPrepConfig` (the writeup).
        mri_types: The MRI types to prepare; default: the settings' (all four with a
            recipe).
        exclude_known_bad: Skip :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`;
            default: the settings' (yes with a recipe).
        workers: Patients prepared in parallel (processes), capped at one per patient
            and four per CPU core.
        device: Torch device of the stage 1 model (with ``config``).
        batch_size: Slices per stage 1 forward pass (does not change the result).
        overwrite: Delete ``out`` first (only a frame store this function made).
        progress: Show a progress bar.
        on_outcome: Called with each patient's outcome as it completes.

    Returns:
        The report (``report.ok`` is False when a series failed).

    Raises:
        ConfigurationError: ``out`` was prepared with another recipe or stage 1 model,
            lies inside or around an input, or holds files this library did not write;
            both or neither of ``recipe`` and ``segmentation_run`` are usable; or an
            option is invalid.
        InputNotFoundError: ``task2_dir``, ``labels`` or the checkpoint does not exist.
        LabelError: ``labels`` is malformed.
        StorageError: The store cannot be written (a full disk); the patients finished
            before are kept, and a rerun resumes.
    """
    from tqdm.auto import tqdm

    from radiogenomics._device import resolve_device
    from radiogenomics.io.labels import read_labels

    if recipe is not None and config is not None:
        raise ConfigurationError(
            "give a recipe or settings (config=), not both: settings only build the "
            "library's recipe (FrameRecipe.from_config)."
        )
    if recipe is None and segmentation_run is None:
        raise ConfigurationError(
            "give the stage 1 run (segmentation_run=) to build the library's recipe, or a "
            "recipe of your own (recipe=)."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size={batch_size!r} must be a whole number, at least 1.")
    worker_count(workers, 1)  # a bad value fails before any work
    out = Path(out)
    run = None if segmentation_run is None else Path(segmentation_run)
    model_info = None
    if run is not None:
        checkpoint = segmentation_checkpoint(run)
        model_info = {"checkpoint": str(checkpoint.resolve()), "sha256": file_digest(checkpoint)}
    if recipe is None:
        resolve_device(device)  # a missing GPU fails here, before any work
        settings = config or ClassificationPrepConfig()
        selection = _Selection(settings.mri_types, settings.exclude_known_bad)
        record: dict[str, Any] = settings.to_dict()
    elif recipe.settings is not None:  # the library's recipe: recorded as its settings
        settings = ClassificationPrepConfig.from_dict(recipe.settings)
        selection = _Selection(settings.mri_types, settings.exclude_known_bad)
        record = settings.to_dict()
    else:
        selection = _Selection()
        record = {
            "recipe": recipe.record(),
            "mri_types": list(selection.mri_types),
            "exclude_known_bad": selection.exclude_known_bad,
        }
    if mri_types is not None or exclude_known_bad is not None:
        selection = _Selection(
            selection.mri_types
            if mri_types is None
            else check_names("mri_types", mri_types, MRI_TYPES),
            selection.exclude_known_bad if exclude_known_bad is None else exclude_known_bad,
        )
        record = {
            **record,
            "mri_types": list(selection.mri_types),
            "exclude_known_bad": selection.exclude_known_bad,
        }
    label_map = read_labels(labels) if labels is not None else None
    listing = find_series_inputs(task2_dir, selection.mri_types)
    inputs = [
        ("--task2-dir", Path(task2_dir)),
        ("--labels", None if labels is None else Path(labels)),
        ("--segmentation-model", run),
    ]
    _check_store(out, record, model_info, overwrite, inputs)
    report = ClassificationPrepReport(out=out)
    if label_map is not None:
        report.unlabelled = [p for p in listing if _label_key(p) not in label_map]
    patients = list(listing)
    outcomes: dict[str, PatientOutcome] = {}
    for patient_id in patients:
        refused = _refuse_patient_id(patient_id, out, selection)
        done = _finished(out, patient_id) if refused is None else None
        if refused is not None:
            outcomes[patient_id] = refused
        elif done is not None:
            outcomes[patient_id] = PatientOutcome(patient_id, "skipped", tuple(done))
    todo = [p for p in patients if p not in outcomes]
    bar = tqdm(
        total=len(patients),
        desc="prepare-classification",
        unit="patient",
        disable=not progress,
        initial=len(patients) - len(todo),
    )

    def record_outcome(outcome: PatientOutcome) -> None:
        outcomes[outcome.patient_id] = outcome
        bar.update(1)
        if on_outcome is not None:
            on_outcome(outcome)

    def failed(patient_id: str, error: StorageError) -> PatientOutcome:
        series = tuple(
            SeriesOutcome(patient_id, t, "failed", error=str(error))
            for t in MRI_TYPES
            if t in selection.mri_types
        )
        return PatientOutcome(patient_id, "failed", series)

    stopped: StorageError | None = None
    try:
        processes = worker_count(workers, len(todo))
        if todo and processes == 1:
            if recipe is None:
                assert run is not None
                predictor = _load_predictor(
                    run, config=settings, device=device, batch_size=batch_size
                )
                chosen = FrameRecipe.from_config(settings, predictor)
            else:
                chosen = recipe
            stopped = run_jobs(
                todo,
                lambda p: _prepare(p, listing[p], out, chosen, selection),
                record=record_outcome,
                failed=failed,
            )
        elif todo:
            import multiprocessing

            source: FrameRecipe | tuple[Path, ClassificationPrepConfig, str, int]
            if recipe is not None:
                source = recipe
            else:
                assert run is not None
                source = (run, settings, device, batch_size)
            threads = max(1, (os.cpu_count() or 1) // processes)
            with ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(source, threads),
            ) as pool:
                stopped = run_jobs(
                    todo,
                    functools.partial(
                        _prepare_in_worker, listing=listing, out=out, selection=selection
                    ),
                    record=record_outcome,
                    failed=failed,
                    pool=pool,
                )
    finally:
        bar.close()
        report.outcomes = [outcomes[p] for p in patients if p in outcomes]
        try:
            _write_summary_files(out, patients, outcomes, label_map)
        except StorageError:
            if stopped is None:
                raise
            # The disk is still full: the old summary files stay; the rerun rebuilds them.
    if stopped is not None:
        raise stopped
    return report
