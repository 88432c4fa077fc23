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
import dataclasses
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
    check_choice,
    check_fields,
    check_names,
    check_range,
    dataclass_repr,
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
from radiogenomics.data.store import check_folder_name, commit_folder
from radiogenomics.errors import (
    ConfigurationError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    RadiogenomicsError,
    StorageError,
)
from radiogenomics.filters.blank import BlankSliceFilter, nonzero_fraction
from radiogenomics.filters.contours import ContourCountFilter
from radiogenomics.filters.tumor_area import AreaMeasure, AreaReference, TumorAreaFilter
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.io.labels import KNOWN_BAD_SERIES, normalize_patient_id
from radiogenomics.records import SliceRecord
from radiogenomics.slicing.intensity import IntensityMethod, to_uint8

if TYPE_CHECKING:
    from radiogenomics.inference.predict_masks import MaskPredictor

__all__ = [
    "ClassificationPrepConfig",
    "ClassificationPrepReport",
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

_NIFTI_SUFFIXES = (".nii.gz", ".nii")
_DONE_FILE = "series.csv"


@dataclass(frozen=True)
class ClassificationPrepConfig:
    """Every setting of stage 2 preparation (defaults: the writeup).

    Thresholds keep strictly: a frame is kept when its non-zero fraction is above
    ``blank_min_fraction``, its tumor ratio above ``min_ratio``, and its number of WT
    contours in ``[min_contours, max_contours]``. The named presets come from
    :func:`~radiogenomics.presets.classification_preset`: the released code measures
    areas as largest contours (``area="largest_contour"``) and counts hole contours
    (``count_holes=True``).

    Attributes:
        mri_types: MRI types to prepare, from :data:`~radiogenomics.io.dicom.MRI_TYPES`.
        intensity: Per-series normalisation to uint8 (``"minmax"``: the reference).
        blank_min_fraction: Drops slices whose non-zero fraction is not above it.
        min_ratio: Keeps frames whose tumor ratio (WT over brain) is strictly above it.
        reference: Tumor area over the ``"brain"`` or the whole ``"slice"``.
        area: ``"pixels"`` (writeup) or ``"largest_contour"`` (released code).
        brain_threshold: A pixel of the uint8 image is brain when strictly above it
            (1 in the released code).
        max_contours: Drops frames with more WT contours than this.
        min_contours: Drops frames with fewer WT contours than this.
        count_holes: Count the contours of holes too (released code).
        zoom: Stage 1 zoom about the slice centre (1.2 in the reference).
        threshold: Mask threshold on the stage 1 probabilities (strictly above).
        exclude_known_bad: Skip :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`.

    Example:
        >>> ClassificationPrepConfig(area="largest_contour", count_holes=True).filters()[1]
        TumorAreaFilter(min_ratio=0.025, area='largest_contour', brain_threshold=1.0)
    """

    mri_types: tuple[str, ...] = MRI_TYPES
    intensity: IntensityMethod = "minmax"
    blank_min_fraction: float = 0.1
    min_ratio: float = 0.025
    reference: AreaReference = "brain"
    area: AreaMeasure = "pixels"
    brain_threshold: float = 1.0
    max_contours: int = 5
    min_contours: int = 1
    count_holes: bool = False
    zoom: float = 1.2
    threshold: float = 0.5
    exclude_known_bad: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "mri_types", check_names("mri_types", self.mri_types, MRI_TYPES))
        check_choice("intensity", self.intensity, ("minmax", "percentile"))
        check_range("zoom", self.zoom, low=1.0, high=4.0)  # MAX_ZOOM of inference.zoom
        check_range("threshold", self.threshold, low=0.0, high=1.0)
        # Build the filters once to validate their options with their own checks.
        self.filters()

    def filters(self) -> tuple[BlankSliceFilter, TumorAreaFilter, ContourCountFilter]:
        """The three frame filters, in the order they run."""
        return (
            BlankSliceFilter(min_fraction=self.blank_min_fraction),
            TumorAreaFilter(
                min_ratio=self.min_ratio,
                reference=self.reference,
                area=self.area,
                channel="WT",
                brain_threshold=self.brain_threshold,
            ),
            ContourCountFilter(
                max_contours=self.max_contours,
                min_contours=self.min_contours,
                count_holes=self.count_holes,
                channel="WT",
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        data = dataclasses.asdict(self)
        data["mri_types"] = list(self.mri_types)
        return data

    def to_json(self) -> str:
        """The settings as JSON (what ``prepare-config.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationPrepConfig:
        """Settings from :meth:`to_dict` output.

        Raises:
            ConfigurationError: ``data`` holds keys that are not settings.
        """
        check_fields(cls, data, what="stage 2 preparation settings")
        values = dict(data)
        if "mri_types" in values:
            values["mri_types"] = tuple(values["mri_types"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ClassificationPrepConfig:
        """Settings from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> ClassificationPrepConfig:
        """Settings from a ``prepare-config.json`` file.

        Raises:
            InputNotFoundError: The file does not exist.
            InvalidInputError: The file is not valid JSON.
        """
        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(
                "stage 2 preparation settings not found; expected the prepare-config.json "
                "of a frame store (radiogenomics prepare-classification writes it).",
                path=path,
            )
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"not valid JSON ({error}).", path=path) from None

    def __repr__(self) -> str:
        return dataclass_repr(self)


# -- pure frame building ---------------------------------------------------------------


def series_frames(
    pixels: npt.NDArray[np.uint8],
    masks: npt.NDArray[np.uint8],
    config: ClassificationPrepConfig | None = None,
    *,
    positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
    patient_id: str = "unknown",
    mri_type: str = "unknown",
) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
    """The kept 3-channel frames of one normalised series, in input (geometric) order.

    Each slice becomes a :class:`~radiogenomics.records.SliceRecord` (``index`` = its
    position in the input) that runs through the configured
    :class:`~radiogenomics.filters.BlankSliceFilter`,
    :class:`~radiogenomics.filters.TumorAreaFilter` and
    :class:`~radiogenomics.filters.ContourCountFilter`; the frames of the survivors are
    ``[image, WT * 255, ET * 255]``. The inputs are not modified.

    Args:
        pixels: The series normalised to uint8, slices in geometric order.
        masks: Binary WT and ET masks (0/1) of every slice.
        config: The filter settings; default :class:`ClassificationPrepConfig`.
        positions: Slice positions (mm) along the normal, stored on the records;
            default ``0, 1, 2, ...``.
        patient_id: Named on the records and in errors.
        mri_type: Named on the records and in errors.

    Returns:
        ``(frames, records)``: the kept frames and their annotated records
        (``tumor_ratio`` and ``n_contours`` set), one per frame, in order.

    Raises:
        GeometryError: The shapes do not match.
        InvalidInputError: ``pixels`` is not uint8, or ``masks`` is not 0/1.

    Shape:
        - pixels: (S, R, C).
        - masks: (2, S, R, C).
        - frames: (N, R, C, 3), uint8, N <= S.

    Example:
        >>> import numpy as np
        >>> image = np.full((3, 20, 20), 200, np.uint8)
        >>> masks = np.zeros((2, 3, 20, 20), np.uint8); masks[0, 1, 5:12, 5:12] = 1
        >>> frames, kept = series_frames(image, masks)
        >>> frames.shape, [r.index for r in kept]
        ((1, 20, 20, 3), [1])
    """
    config = config or ClassificationPrepConfig()
    data = np.asarray(pixels)
    labels = np.asarray(masks)
    if data.ndim != 3:
        raise GeometryError(
            f"series {mri_type}: expected pixels of shape (S, R, C); got {data.shape}.",
            patient_id=patient_id,
        )
    if data.dtype != np.uint8:
        raise InvalidInputError(
            f"series {mri_type}: expected uint8 pixels; got {data.dtype}. Normalise the "
            "whole series first with radiogenomics.slicing.to_uint8.",
            patient_id=patient_id,
        )
    if labels.shape != (2, *data.shape):
        raise GeometryError(
            f"series {mri_type}: masks of shape {labels.shape} do not match pixels of shape "
            f"{data.shape}; expected {(2, *data.shape)} (WT, ET).",
            patient_id=patient_id,
        )
    if labels.size and int(labels.max()) > 1:
        raise InvalidInputError(
            f"series {mri_type}: masks must be 0/1; got a maximum of {int(labels.max())}.",
            patient_id=patient_id,
        )
    where = (
        np.arange(data.shape[0], dtype=np.float64)
        if positions is None
        else np.asarray(positions, dtype=np.float64)
    )
    if where.shape != (data.shape[0],):
        raise GeometryError(
            f"series {mri_type}: {where.shape} positions for {data.shape[0]} slices.",
            patient_id=patient_id,
        )
    records: list[SliceRecord] = [
        SliceRecord(
            patient_id=patient_id,
            modality=mri_type,
            plane="axial",  # the acquisition plane; not used by these filters
            index=k,
            image=data[k],
            masks=np.ascontiguousarray(labels[:, k], dtype=np.uint8),
            position=float(where[k]),
        )
        for k in range(data.shape[0])
    ]
    for step in config.filters():
        records = step(records)
    rows, cols = data.shape[1:]
    frames = np.zeros((len(records), rows, cols, 3), dtype=np.uint8)
    for i, record in enumerate(records):
        assert record.masks is not None
        frames[i, :, :, 0] = record.image
        frames[i, :, :, 1] = record.masks[0] * np.uint8(255)
        frames[i, :, :, 2] = record.masks[1] * np.uint8(255)
    return frames, records


def series_to_frames(
    pixels: npt.NDArray[Any],
    predictor: MaskPredictor,
    config: ClassificationPrepConfig | None = None,
    *,
    positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
    patient_id: str = "unknown",
    mri_type: str = "unknown",
) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
    """Normalise a raw series, segment its non-blank slices and keep the good frames.

    The whole series is normalised with :func:`~radiogenomics.slicing.to_uint8`; the
    slices that :class:`~radiogenomics.filters.BlankSliceFilter` would drop are not
    segmented (their masks stay empty); the others go through ``predictor`` (its zoom
    and threshold are used as set on it) and then :func:`series_frames`.

    Args:
        pixels: Raw intensities of the series, slices in geometric order.
        predictor: A stage 1 :class:`~radiogenomics.inference.MaskPredictor` with two
            channels (WT, ET).
        config: The settings; default :class:`ClassificationPrepConfig`.
        positions: Slice positions (see :func:`series_frames`).
        patient_id: Named on the records and in errors.
        mri_type: Named on the records and in errors.

    Returns:
        As :func:`series_frames`.

    Shape:
        - pixels: (S, R, C).
        - frames: (N, R, C, 3).
    """
    from radiogenomics.inference.predict_masks import threshold_probabilities

    config = config or ClassificationPrepConfig()
    data = np.asarray(pixels)
    if data.ndim != 3 or 0 in data.shape:
        raise GeometryError(
            f"series {mri_type}: expected a non-empty series of shape (S, R, C); got {data.shape}.",
            patient_id=patient_id,
        )
    normalised = to_uint8(data, method=config.intensity)
    nonblank = [
        k
        for k in range(normalised.shape[0])
        if nonzero_fraction(normalised[k]) > config.blank_min_fraction
    ]
    masks = np.zeros((2, *normalised.shape), dtype=np.uint8)
    step = predictor.batch_size
    for start in range(0, len(nonblank), step):
        chosen = nonblank[start : start + step]
        probabilities = predictor.predict_slices(normalised[chosen])
        if probabilities.shape[1] != 2:
            raise ConfigurationError(
                f"the stage 1 model predicts {probabilities.shape[1]} channels; stage 2 "
                "needs 2 (WT, ET).",
                patient_id=patient_id,
            )
        binary = threshold_probabilities(probabilities, threshold=predictor.threshold)
        masks[:, chosen] = binary.transpose(1, 0, 2, 3)
    return series_frames(
        normalised, masks, config, positions=positions, patient_id=patient_id, mri_type=mri_type
    )


# -- finding and reading series --------------------------------------------------------


def _nifti_files(folder: Path) -> dict[str, Path]:
    canonical = {name.lower(): name for name in MRI_TYPES}
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        for suffix in _NIFTI_SUFFIXES:
            if child.is_file() and child.name.lower().endswith(suffix):
                name = canonical.get(child.name[: -len(suffix)].lower())
                if name is not None and name not in found:
                    found[name] = child
    return found


def find_series_inputs(
    root: str | Path, mri_types: Sequence[str] = MRI_TYPES
) -> dict[str, dict[str, Path | None]]:
    """Find the patients under ``root`` and the series of each requested MRI type.

    ``root`` is a Task 2 split folder (its all-digit sub-folders are patients) or one
    patient folder. A series is a DICOM folder named by its MRI type or, when there is
    none, a NIfTI volume ``<MRI type>.nii.gz`` (or ``.nii``) in the patient folder.

    Args:
        root: A folder of patient folders, or one patient folder.
        mri_types: The MRI types wanted.

    Returns:
        ``{patient_id: {mri_type: path or None}}``, patients sorted, MRI types in
        :data:`~radiogenomics.io.dicom.MRI_TYPES` order; ``None`` marks a missing series.

    Raises:
        InputNotFoundError: ``root`` is not a folder or holds no patient.
    """
    from radiogenomics.io.dicom import find_task2_patients, task2_patient_folders
    from radiogenomics.io.labels import patient_key

    folder = Path(root).resolve()
    try:
        listing = find_task2_patients(folder)
    except InputNotFoundError:
        if not folder.is_dir() or not _nifti_files(folder):
            raise
        listing = {patient_key(folder.name): {}}
    split = task2_patient_folders(folder)
    folders = {p: split.get(p, folder) for p in listing}
    wanted = [t for t in MRI_TYPES if t in mri_types]
    out: dict[str, dict[str, Path | None]] = {}
    for patient_id, series in listing.items():
        nifti = _nifti_files(folders[patient_id])
        out[patient_id] = {t: series.get(t) or nifti.get(t) for t in wanted}
    return out


def is_excluded_series(
    patient_id: str,
    mri_type: str,
    exclude: Sequence[tuple[str, str]] | frozenset[tuple[str, str]] = KNOWN_BAD_SERIES,
) -> bool:
    """Whether a series is excluded; identifiers that are not numbers never are."""
    try:
        number = normalize_patient_id(patient_id)
    except RadiogenomicsError:
        return False
    return (number, mri_type) in exclude


def load_series_pixels(
    path: str | Path, *, patient_id: str | None = None, mri_type: str | None = None
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """Pixels and slice positions of one series, slices in geometric order.

    A DICOM folder is read with :func:`~radiogenomics.io.read_dicom_series`. A NIfTI
    file is read as ``dicom-to-nifti`` writes a series: the array is (C, R, S) and is
    returned transposed to (S, R, C); positions are the slice centres projected on the
    affine's third axis, so they increase.

    Returns:
        ``(pixels, positions)``.

    Shape:
        - pixels: (S, R, C).
        - positions: (S,).
    """
    from radiogenomics.io.dicom import read_dicom_series
    from radiogenomics.io.nifti import read_nifti

    source = Path(path)
    if source.is_dir():
        series = read_dicom_series(source, patient_id=patient_id, mri_type=mri_type)
        return np.asarray(series.pixels), np.asarray(series.positions, dtype=np.float64)
    volume, affine = read_nifti(source, patient_id=patient_id)
    axis = affine[:3, 2]
    norm = float(np.linalg.norm(axis))
    if norm == 0:
        raise GeometryError("the affine's third axis is zero.", path=source, patient_id=patient_id)
    unit = axis / norm
    k = np.arange(volume.shape[2], dtype=np.float64)
    positions = (affine[:3, 3] @ unit) + k * norm
    return np.asarray(volume).transpose(2, 1, 0), positions


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

_PREDICTOR: MaskPredictor | None = None


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
    )


def _init_worker(
    segmentation_run: Path,
    config: ClassificationPrepConfig,
    device: str,
    batch_size: int,
    threads: int,
) -> None:
    import torch

    init_worker()
    global _PREDICTOR
    torch.set_num_threads(threads)
    _PREDICTOR = _load_predictor(
        segmentation_run, config=config, device=device, batch_size=batch_size
    )


def prepare_patient(
    patient_id: str,
    series: Mapping[str, Path | None],
    out: str | Path,
    config: ClassificationPrepConfig,
    predictor: MaskPredictor | None = None,
) -> PatientOutcome:
    """Prepare one patient: every requested MRI type, written atomically.

    Library errors of a series (unreadable files, geometry) make that series
    ``"failed"``; the patient's other series are still written. An identifier that is
    not a plain folder name fails every series and writes nothing. Anything else
    propagates.

    Args:
        patient_id: The patient (its folder name).
        series: MRI type -> series path (``None``: missing), as
            :func:`find_series_inputs` gives.
        out: The frame store.
        config: The settings.
        predictor: The stage 1 mask predictor; default: the one this worker process
            loaded.

    Returns:
        The outcome.

    Raises:
        StorageError: The patient cannot be written (a full disk); nothing of it is left.
    """
    out = Path(out)
    refused = _refuse_patient_id(patient_id, out, config)
    if refused is not None:
        return refused
    done = _finished(out, patient_id)
    if done is not None:
        return PatientOutcome(patient_id, "skipped", tuple(done))
    predictor = predictor if predictor is not None else _PREDICTOR
    if predictor is None:
        raise ConfigurationError("no stage 1 mask predictor was loaded in this process.")
    outcomes: list[SeriesOutcome] = []
    frames: dict[str, tuple[npt.NDArray[np.uint8], list[SliceRecord]]] = {}
    for mri_type in [t for t in MRI_TYPES if t in config.mri_types]:
        path = series.get(mri_type)
        if config.exclude_known_bad and is_excluded_series(patient_id, mri_type):
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
            kept = series_to_frames(
                pixels,
                predictor,
                config,
                positions=positions,
                patient_id=patient_id,
                mri_type=mri_type,
            )
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


def _refuse_patient_id(
    patient_id: str, out: Path, config: ClassificationPrepConfig
) -> PatientOutcome | None:
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
            if t in config.mri_types
        )
        return PatientOutcome(patient_id, "failed", failed)
    return None


def _prepare_in_worker(
    patient_id: str,
    *,
    listing: Mapping[str, Mapping[str, Path | None]],
    out: Path,
    config: ClassificationPrepConfig,
) -> PatientOutcome:
    return prepare_patient(patient_id, listing[patient_id], out, config)


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
    config: ClassificationPrepConfig,
    model_info: dict[str, str],
    overwrite: bool,
    inputs: Sequence[tuple[str, Path | None]],
) -> None:
    check_prep_config(
        out,
        config,
        ClassificationPrepConfig.load,
        kind=FRAME_STORE_KIND,
        overwrite=overwrite,
        inputs=inputs,
    )
    model_path = out / "segmentation-model.json"
    if model_path.is_file():
        previous_model = read_json_object(
            model_path,
            what="which stage 1 model prepared this folder",
            fix="Use another --out, or --overwrite to start again.",
        )
        if previous_model.get("sha256") != model_info["sha256"]:
            raise ConfigurationError(
                f"this folder was prepared with another stage 1 model "
                f"({previous_model.get('checkpoint')}); its masks would not match. Use "
                "another --out, or --overwrite to start again.",
                path=out,
            )
    else:
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
    segmentation_run: str | Path,
    config: ClassificationPrepConfig | None = None,
    workers: int = 1,
    device: str = "cpu",
    batch_size: int = 32,
    overwrite: bool = False,
    progress: bool = False,
    on_outcome: Callable[[PatientOutcome], None] | None = None,
) -> ClassificationPrepReport:
    """Prepare the stage 2 frame store of a Task 2 folder (see the module docs).

    Resumable: patients already written (with no failed series) are skipped, so a rerun
    after an interruption (even a killed process) finishes the work and ends with exactly
    the files of an uninterrupted run; patients with a failed series are redone. A
    failing series is reported (``failures.csv``) and the batch goes on; a full disk
    stops the batch (every further patient would fail too), keeping the patients already
    written.

    Args:
        task2_dir: A Task 2 split folder (``train/``) or one patient folder.
        out: The frame store (created).
        labels: ``train_labels.csv``; its patients that are prepared are listed in
            ``OUT/labels.csv``. ``None`` for unlabelled data.
        segmentation_run: The stage 1 run folder (or its ``.safetensors`` checkpoint).
        config: The settings; default :class:`ClassificationPrepConfig` (the writeup).
        workers: Patients prepared in parallel; each worker process loads the stage 1
            model once and runs on ``device``.
        device: Torch device of the stage 1 model.
        batch_size: Slices per stage 1 forward pass (does not change the result).
        overwrite: Delete ``out`` first.
        progress: Show a progress bar.
        on_outcome: Called with each patient's outcome as it completes.

    Returns:
        The report (``report.ok`` is False when a series failed).

    Raises:
        ConfigurationError: ``out`` was prepared with other settings or another stage 1
            model, or an option is invalid.
        InputNotFoundError: ``task2_dir``, ``labels`` or the checkpoint does not exist.
        LabelError: ``labels`` is malformed.
        StorageError: The store cannot be written (a full disk); the patients finished
            before are kept, and a rerun resumes.
    """
    from tqdm.auto import tqdm

    from radiogenomics.io.labels import read_labels

    config = config or ClassificationPrepConfig()
    worker_count(workers, 1)  # a bad value fails before any work
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size={batch_size!r} must be a whole number, at least 1.")
    from radiogenomics._device import resolve_device

    resolve_device(device)  # a missing GPU fails here, before any work
    out = Path(out)
    run = Path(segmentation_run)
    checkpoint = segmentation_checkpoint(run)
    label_map = read_labels(labels) if labels is not None else None
    listing = find_series_inputs(task2_dir, config.mri_types)
    model_info = {"checkpoint": str(checkpoint.resolve()), "sha256": file_digest(checkpoint)}
    inputs = [
        ("--task2-dir", Path(task2_dir)),
        ("--labels", None if labels is None else Path(labels)),
        ("--segmentation-model", run),
    ]
    _check_store(out, config, model_info, overwrite, inputs)
    report = ClassificationPrepReport(out=out)
    if label_map is not None:
        report.unlabelled = [p for p in listing if _label_key(p) not in label_map]
    patients = list(listing)
    outcomes: dict[str, PatientOutcome] = {}
    for patient_id in patients:
        refused = _refuse_patient_id(patient_id, out, config)
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

    def record(outcome: PatientOutcome) -> None:
        outcomes[outcome.patient_id] = outcome
        bar.update(1)
        if on_outcome is not None:
            on_outcome(outcome)

    def failed(patient_id: str, error: StorageError) -> PatientOutcome:
        series = tuple(
            SeriesOutcome(patient_id, t, "failed", error=str(error))
            for t in MRI_TYPES
            if t in config.mri_types
        )
        return PatientOutcome(patient_id, "failed", series)

    stopped: StorageError | None = None
    try:
        processes = worker_count(workers, len(todo))
        if todo and processes == 1:
            predictor = _load_predictor(run, config=config, device=device, batch_size=batch_size)
            stopped = run_jobs(
                todo,
                lambda p: prepare_patient(p, listing[p], out, config, predictor),
                record=record,
                failed=failed,
            )
        elif todo:
            import multiprocessing

            threads = max(1, (os.cpu_count() or 1) // processes)
            with ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(run, config, device, batch_size, threads),
            ) as pool:
                stopped = run_jobs(
                    todo,
                    functools.partial(_prepare_in_worker, listing=listing, out=out, config=config),
                    record=record,
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
