"""Read the stage 2 frame store written by ``prepare-classification``.

Layout of a store folder ``DIR``:

* ``DIR/prepare-config.json``: the preparation settings (copied into every
  classification run as ``prep-config.json``, so prediction prepares new patients alike);
* ``DIR/labels.csv``: ``BraTS21ID,MGMT_value`` with zero-padded identifiers (absent for
  unlabelled data);
* ``DIR/series.csv``: ``patient_id,mri_type,n_slices,n_kept,status``, one row per series
  looked at (``n_kept`` frames survived the filters);
* ``DIR/manifest.csv``: ``patient_id,mri_type,position,tumor_ratio,n_contours,frame_file,row``,
  one row per kept frame, in geometric order within each series;
* ``DIR/<patient_id>/<mri_type>.npy``: uint8 frames of shape (N, H, W, 3) at the series'
  native size, channels ``[image, WT * 255, ET * 255]``.

:class:`FrameStore` lists the series, reads labels and frame counts from the CSV files,
and opens frames as read-only memory maps (``numpy.load(mmap_mode="r",
allow_pickle=False)``), so building a :class:`~radiogenomics.data.ChunkDataset` reads no
pixel until a chunk is asked for. Only NumPy is imported here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import CorruptFileError, GeometryError, InputNotFoundError, LabelError

if TYPE_CHECKING:
    from radiogenomics.data.chunks import ArrayFrames

__all__ = [
    "FRAME_MANIFEST_FIELDS",
    "SERIES_FIELDS",
    "FrameStore",
    "SeriesKey",
]

SeriesKey = tuple[str, str]
"""``(patient_id, mri_type)``."""

SERIES_FIELDS: tuple[str, ...] = ("patient_id", "mri_type", "n_slices", "n_kept", "status")
"""Columns of ``series.csv``."""

FRAME_MANIFEST_FIELDS: tuple[str, ...] = (
    "patient_id",
    "mri_type",
    "position",
    "tumor_ratio",
    "n_contours",
    "frame_file",
    "row",
)
"""Columns of ``manifest.csv``."""


def _read_csv(path: Path, fields: Iterable[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = sorted(set(fields) - set(reader.fieldnames or []))
        if missing:
            raise CorruptFileError(
                f"missing columns {missing}; got {reader.fieldnames}. Was the folder written "
                "by prepare-classification?",
                path=path,
            )
        return list(reader)


class FrameStore:
    """A prepared stage 2 folder: series, labels, frame counts and memory-mapped frames.

    Args:
        root: The folder written by ``prepare-classification``.

    Raises:
        InputNotFoundError: ``root`` or its ``series.csv`` does not exist.
        CorruptFileError: A CSV file lacks its columns or holds unreadable numbers.
        LabelError: ``labels.csv`` is malformed.

    Example:
        >>> store = FrameStore("prepared-task2")  # doctest: +SKIP
        >>> dataset = ChunkDataset(store.frames_by_series(mri_type="FLAIR"), store.labels)
        ... # doctest: +SKIP
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        series_path = self.root / "series.csv"
        if not series_path.is_file():
            raise InputNotFoundError(
                "not a stage 2 frame store (no series.csv); prepare it with "
                "`radiogenomics prepare-classification`.",
                path=self.root,
            )
        counts: dict[SeriesKey, int] = {}
        statuses: dict[SeriesKey, str] = {}
        for row in _read_csv(series_path, SERIES_FIELDS):
            key = (row["patient_id"], row["mri_type"])
            try:
                counts[key] = int(row["n_kept"])
            except ValueError as error:
                raise CorruptFileError(
                    f"series {key[1]}: n_kept={row['n_kept']!r} is not a whole number.",
                    path=series_path,
                    patient_id=key[0],
                ) from error
            statuses[key] = row["status"]
        self._counts = counts
        self._statuses = statuses
        self.labels: dict[str, int] = {}
        labels_path = self.root / "labels.csv"
        if labels_path.is_file():
            from radiogenomics.io.labels import read_labels

            self.labels = read_labels(labels_path)

    # -- metadata --------------------------------------------------------------------------

    @property
    def prep_config(self) -> dict[str, Any]:
        """The preparation settings (``prepare-config.json``); ``{}`` when absent."""
        from radiogenomics.data.store import read_prep_config

        return read_prep_config(self.root)

    @property
    def segmentation_model(self) -> dict[str, Any]:
        """The stage 1 checkpoint whose masks the frames hold (``segmentation-model.json``:
        ``checkpoint`` path and ``sha256``); ``{}`` when absent.

        Raises:
            CorruptFileError: The file is damaged.
        """
        from radiogenomics._files import read_json_object

        path = self.root / "segmentation-model.json"
        if not path.is_file():
            return {}
        return read_json_object(
            path,
            what="the stage 1 model record of this frame store",
            fix="Prepare the frame store again (radiogenomics prepare-classification).",
        )

    def series_keys(self, *, mri_type: str | None = None) -> tuple[SeriesKey, ...]:
        """Every ``(patient_id, mri_type)`` of ``series.csv`` (of one MRI type if given).

        Series with no kept frame are listed too (they give no chunk).
        """
        return tuple(k for k in self._counts if mri_type is None or k[1] == mri_type)

    @property
    def mri_types(self) -> tuple[str, ...]:
        """The MRI types present, in order of first appearance."""
        return tuple(dict.fromkeys(k[1] for k in self._counts))

    @property
    def patient_ids(self) -> tuple[str, ...]:
        """The patients present, in order of first appearance."""
        return tuple(dict.fromkeys(k[0] for k in self._counts))

    def num_frames(self, key: SeriesKey) -> int:
        """Frames kept for a series (``n_kept`` of ``series.csv``).

        Raises:
            InputNotFoundError: The store has no such series.
        """
        if key not in self._counts:
            raise InputNotFoundError(
                f"no series {key[1]} in the store.", path=self.root, patient_id=key[0]
            )
        return self._counts[key]

    def status(self, key: SeriesKey) -> str:
        """The ``status`` column of a series (e.g. ``"ok"``)."""
        self.num_frames(key)
        return self._statuses[key]

    def label(self, patient_id: str) -> int:
        """A patient's MGMT label.

        Raises:
            LabelError: The store has no label for the patient.
        """
        from radiogenomics.io.labels import patient_key

        key = patient_key(patient_id)
        if key not in self.labels:
            raise LabelError(
                "no label in labels.csv for this patient.",
                path=self.root / "labels.csv",
                patient_id=patient_id,
            )
        return self.labels[key]

    # -- frames ----------------------------------------------------------------------------

    def frame_path(self, key: SeriesKey) -> Path:
        """``DIR/<patient_id>/<mri_type>.npy``."""
        return self.root / key[0] / f"{key[1]}.npy"

    def frames(self, key: SeriesKey) -> npt.NDArray[np.uint8]:
        """A series' frames as a read-only memory map (an empty array when none was kept).

        Raises:
            InputNotFoundError: The series is unknown, or its frame file is missing.
            CorruptFileError: The file is not a readable ``.npy`` array.
            GeometryError: The frames are not uint8 (N, H, W, 3) with N = ``n_kept``.

        Shape:
            - output: (N, H, W, 3), uint8.
        """
        count = self.num_frames(key)
        path = self.frame_path(key)
        if not path.is_file():
            if count == 0:
                return np.zeros((0, 1, 1, 3), dtype=np.uint8)
            raise InputNotFoundError(
                f"frame file of series {key[1]} is missing ({count} frames expected).",
                path=path,
                patient_id=key[0],
            )
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise CorruptFileError(
                f"cannot read the frames ({error}).", path=path, patient_id=key[0]
            ) from error
        if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
            raise GeometryError(
                f"expected uint8 frames of shape (N, H, W, 3); got {array.dtype} {array.shape}.",
                path=path,
                patient_id=key[0],
            )
        if array.shape[0] != count:
            raise GeometryError(
                f"the file holds {array.shape[0]} frames but series.csv says n_kept={count}; "
                "prepare the patient again.",
                path=path,
                patient_id=key[0],
            )
        frames: npt.NDArray[np.uint8] = array
        return frames

    def frames_by_series(
        self,
        *,
        mri_type: str | None = None,
        patients: Iterable[str] | None = None,
    ) -> dict[SeriesKey, ArrayFrames]:
        """``(patient_id, mri_type) -> ArrayFrames`` over memory maps, for ``ChunkDataset``.

        Args:
            mri_type: Only this MRI type; ``None``: all.
            patients: Only these patients; ``None``: all.

        Returns:
            The mapping, in ``series.csv`` order (this imports the chunks module, and so
            torch).
        """
        from radiogenomics.data.chunks import ArrayFrames

        wanted = None if patients is None else {str(p) for p in patients}
        return {
            key: ArrayFrames(self.frames(key))
            for key in self.series_keys(mri_type=mri_type)
            if wanted is None or key[0] in wanted
        }

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return (
            f"FrameStore(root={str(self.root)!r}, series={len(self)}, "
            f"patients={len(self.patient_ids)}, labels={len(self.labels)})"
        )
