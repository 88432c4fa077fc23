"""The prepared-slice store: lossless arrays plus a CSV manifest.

Layout of a prepared folder::

    OUT/
      prepare-config.json      the settings that made it (a rerun must match them)
      manifest.csv             every kept slice, all cases, sorted by case
      failures.csv             cases that failed, with the reason (absent when none)
      <case_id>/
        slices.csv             this case's rows of the manifest
        <plane>_image.npy      uint8 (N, H, W): the kept slices of that plane, all modalities
        <plane>_mask.npy       uint8 (N, C, H, W): their masks (0/1)

Tumor-free slices (``prepare-segmentation --negative-fraction``, see
:class:`~radiogenomics.sampling.TumorFreeSlices`) are rows like the others, with empty
masks and a ``tumor_ratio`` of exactly 0: a tumor slice kept by the tumor-area filter
always has a ratio above its threshold, so above 0. No column is added, so a folder
prepared without them has the bytes it always had.

Why ``.npy``: lossless (unlike JPEG, which the reference used), no decode cost, and
memory-mappable, so a training loader reads one slice without reading the file.
A case folder appears only complete: it is written under ``OUT/.partial/`` and renamed
into place (an atomic rename on one filesystem); CSV files are written to a temporary
name and renamed too. A run killed at any point leaves finished cases intact and
nothing else that a rerun would read (it removes ``.partial/`` and the temporary files).
"""

from __future__ import annotations

import csv
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics._atomic import BATCH_ADVICE, atomic_target, storage_errors
from radiogenomics._outputs import PARTIAL_DIR, check_replaceable
from radiogenomics.errors import CorruptFileError, InputNotFoundError, InvalidInputError
from radiogenomics.records import PLANES, SliceRecord

__all__ = [
    "MANIFEST_FIELDS",
    "PreparedSlice",
    "PreparedSlices",
    "read_manifest",
    "write_case",
    "write_manifest",
]

MANIFEST_FIELDS: tuple[str, ...] = (
    "patient_id",
    "modality",
    "plane",
    "slice_index",
    "position",
    "tumor_ratio",
    "n_contours",
    "image_file",
    "mask_file",
    "row",
)
"""Columns of ``manifest.csv`` and of each case's ``slices.csv``."""

CASE_DONE_FILE = "slices.csv"
"""The file written into every prepared case folder (its presence marks a finished case)."""

_RESERVED = frozenset(
    {
        "manifest.csv",
        "failures.csv",
        "excluded.csv",
        "prepare-config.json",
        "series.csv",
        "labels.csv",
        "segmentation-model.json",
    }
)


def check_folder_name(name: str, out: Path, *, what: str = "case identifier") -> str:
    """Refuse an identifier that cannot safely name a folder directly under ``out``.

    Empty names, ``.``, ``..``, hidden names (``.partial``), names holding a path
    separator or a NUL character, absolute paths and the names of the folder's own
    files (``manifest.csv`` ...) could write outside ``out`` or over its bookkeeping.

    Args:
        name: The identifier (a case or patient).
        out: The output folder (named in the error).
        what: What the identifier is, for the message.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidInputError: The name is not a plain folder name.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{what} {name.encode('utf-8', 'backslashreplace').decode()!r} holds bytes that "
            "are not UTF-8; rename the input file or folder.",
            path=out,
        ) from None
    if (
        not name
        or name.startswith(".")
        or any(c in name for c in ("/", "\\", "\x00"))
        or Path(name).name != name
        or Path(name).is_absolute()
        or name in _RESERVED
    ):
        raise InvalidInputError(
            f"{what} {name!r} is not a plain folder name (it is empty, hidden, holds a path "
            "separator or '..', or names one of the output folder's own files); refusing to "
            "write outside the output folder. Rename the input file or folder.",
            path=out,
            patient_id=name if name and "\x00" not in name else None,
        )
    return name


def commit_folder(partial: Path, out: Path, name: str, *, done_file: str) -> None:
    """Rename a fully written ``partial`` folder to ``out/name``, replacing an older one.

    An older folder is first renamed into ``out/.partial/`` and deleted afterwards, so
    ``out/name`` is at every moment either the old folder, absent, or the new one. Only
    a folder this library wrote (one holding ``done_file``) is ever replaced.

    Raises:
        ConfigurationError: ``out/name`` exists but holds no ``done_file``.
    """
    target = out / name
    check_replaceable(target, done_file)
    old: Path | None = None
    if target.exists():
        old = out / PARTIAL_DIR / f"{name}-old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(partial, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _format_float(value: float | None) -> str:
    return "" if value is None else repr(round(float(value), 6))


def write_case(
    records: Sequence[SliceRecord], out: str | Path, case_id: str
) -> list[dict[str, str]]:
    """Write one case's kept slices atomically under ``out/case_id``.

    Slices are grouped by plane (in :data:`~radiogenomics.records.PLANES` order, then
    input order). All slices of a plane must share one shape. The case is written under
    ``out/.partial/`` and renamed into place, replacing an older folder of the case.

    Args:
        records: The kept slices of the case, with masks.
        out: The prepared folder.
        case_id: The case's folder name; must be a plain name (no separators, not ``..``).

    Returns:
        The case's manifest rows.

    Raises:
        InvalidInputError: ``case_id`` is not a plain folder name (empty, hidden,
            ``..``, a path separator, an absolute path, or the name of one of the
            folder's own files), or slices of one plane differ in shape, or a slice has
            no masks.
        StorageError: The case cannot be written (a full disk); nothing of it is left.
    """
    out = Path(out)
    check_folder_name(case_id, out)
    partial = out / PARTIAL_DIR / f"{case_id}-{uuid.uuid4().hex[:8]}"
    rows: list[dict[str, str]] = []
    try:
        with storage_errors(
            out / case_id, what=f"case {case_id}", patient_id=case_id, advice=BATCH_ADVICE
        ):
            _write_case_files(records, partial, case_id, rows)
            commit_folder(partial, out, case_id, done_file=CASE_DONE_FILE)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return rows


def _write_case_files(
    records: Sequence[SliceRecord], partial: Path, case_id: str, rows: list[dict[str, str]]
) -> None:
    """Write the arrays and ``slices.csv`` of one case into ``partial`` (filling ``rows``)."""
    partial.mkdir(parents=True)
    for plane in PLANES:
        chosen = [r for r in records if r.plane == plane]
        if not chosen:
            continue
        shapes = {r.image.shape for r in chosen}
        if len(shapes) != 1:
            raise InvalidInputError(
                f"{plane} slices differ in shape {sorted(shapes)}; resize them first.",
                patient_id=case_id,
            )
        masks = []
        for r in chosen:
            if r.masks is None:
                raise InvalidInputError(
                    f"slice {plane} #{r.index} ({r.modality}) has no masks to store.",
                    patient_id=case_id,
                )
            masks.append(r.masks)
        image_name, mask_name = f"{plane}_image.npy", f"{plane}_mask.npy"
        np.save(partial / image_name, np.stack([r.image for r in chosen]).astype(np.uint8))
        np.save(partial / mask_name, np.stack(masks).astype(np.uint8))
        for row, r in enumerate(chosen):
            rows.append(
                {
                    "patient_id": r.patient_id,
                    "modality": r.modality,
                    "plane": plane,
                    "slice_index": str(r.index),
                    "position": _format_float(r.position),
                    "tumor_ratio": _format_float(r.tumor_ratio),
                    "n_contours": "" if r.n_contours is None else str(r.n_contours),
                    "image_file": f"{case_id}/{image_name}",
                    "mask_file": f"{case_id}/{mask_name}",
                    "row": str(row),
                }
            )
    _write_csv(partial / "slices.csv", rows)


def _write_csv(path: Path, rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_manifest(out: str | Path, case_ids: Sequence[str]) -> Path:
    """Rebuild ``out/manifest.csv`` from the cases' ``slices.csv`` files (atomically).

    Args:
        out: The prepared folder.
        case_ids: The cases to include, in the order wanted.

    Returns:
        The manifest's path.

    Raises:
        StorageError: The manifest cannot be written (a full disk); the old one is kept.
    """
    out = Path(out)
    rows: list[dict[str, str]] = []
    for case_id in case_ids:
        rows.extend(read_manifest(out / case_id / "slices.csv"))
    with atomic_target(out / "manifest.csv", suffix=".tmp") as temporary:
        _write_csv(temporary, rows)
    return out / "manifest.csv"


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Read a manifest (or a case's ``slices.csv``) as a list of rows.

    Raises:
        InputNotFoundError: The file does not exist.
        InvalidInputError: The header lacks manifest columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(
            "manifest not found; run `radiogenomics prepare-segmentation` first.", path=path
        )
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in MANIFEST_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInputError(f"manifest lacks columns {missing}.", path=path)
        return list(reader)


@dataclass(frozen=True, repr=False, eq=False)
class PreparedSlice:
    """One stored slice: uint8 image (H, W), uint8 masks (C, H, W) and its manifest row."""

    image: npt.NDArray[np.uint8]
    masks: npt.NDArray[np.uint8]
    row: dict[str, str]


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0.0
    except ValueError:
        return False


def read_prep_config(folder: Path) -> dict[str, Any]:
    """A prepared folder's settings (``prepare-config.json``); ``{}`` when absent.

    Raises:
        CorruptFileError: The file is not a JSON object.
    """
    from radiogenomics._files import read_json_object

    path = folder / "prepare-config.json"
    if not path.is_file():
        return {}
    return read_json_object(path, what="the preparation settings", fix="Prepare the folder again.")


class PreparedSlices:
    """Random access to the slices of a prepared folder (memory-mapped, read-only).

    Args:
        root: The prepared folder (holding ``manifest.csv``).

    Example:
        ``PreparedSlices("prepared")[0].image`` is the first stored slice.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.rows = read_manifest(self.root / "manifest.csv")
        self._arrays: dict[str, npt.NDArray[np.uint8]] = {}

    @property
    def prep_config(self) -> dict[str, Any]:
        """The preparation settings (``prepare-config.json``); ``{}`` when absent."""
        return read_prep_config(self.root)

    def regions(self, n_channels: int) -> tuple[str, ...]:
        """Names of the ``n_channels`` mask channels: the saved ``regions`` when they fit.

        Folders without saved names get ``WT, ET, TC`` (then ``c3``, ``c4``, ...).
        """
        saved = self.prep_config.get("regions")
        if isinstance(saved, list) and len(saved) == n_channels:
            return tuple(str(r) for r in saved)
        return tuple(("WT", "ET", "TC")[i] if i < 3 else f"c{i}" for i in range(n_channels))

    def _array(self, name: str) -> npt.NDArray[np.uint8]:
        array = self._arrays.get(name)
        if array is None:
            path = self.root / name
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise CorruptFileError(
                    f"manifest.csv names the file {name!r}, outside the prepared folder.",
                    path=self.root / "manifest.csv",
                )
            if not path.is_file():
                raise InputNotFoundError(
                    "a slice file listed in manifest.csv is missing; prepare the folder "
                    "again (rerun `radiogenomics prepare-segmentation`).",
                    path=path,
                )
            try:
                # allow_pickle=False: an object array (pickled Python objects) is refused.
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError, EOFError) as error:
                raise CorruptFileError(
                    f"cannot read the slices ({type(error).__name__}: {error}); expected a "
                    "uint8 .npy array written by prepare-segmentation.",
                    path=path,
                ) from error
            if array.dtype != np.uint8:
                raise CorruptFileError(f"expected uint8 slices; got {array.dtype}.", path=path)
            self._arrays[name] = array
        return array

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> PreparedSlice:
        row = self.rows[index]
        images, masks = self._array(row["image_file"]), self._array(row["mask_file"])
        try:
            position = int(row["row"])
            image, mask = np.array(images[position]), np.array(masks[position])
        except (ValueError, IndexError) as error:
            raise CorruptFileError(
                f"manifest row {index} names slice {row['row']!r} of {row['image_file']}, "
                f"which holds {len(images)} slices; prepare the folder again.",
                path=self.root / "manifest.csv",
                patient_id=row.get("patient_id"),
            ) from error
        return PreparedSlice(image=image, masks=mask, row=row)

    def __iter__(self) -> Iterator[PreparedSlice]:
        for index in range(len(self)):
            yield self[index]

    @property
    def tumor_free_rows(self) -> list[int]:
        """The rows of tumor-free slices (``tumor_ratio`` exactly 0), in manifest order."""
        return [i for i, row in enumerate(self.rows) if _is_zero(row.get("tumor_ratio", ""))]

    @property
    def patient_ids(self) -> list[str]:
        """The distinct patients, in manifest order."""
        return list(dict.fromkeys(row["patient_id"] for row in self.rows))

    def __repr__(self) -> str:
        return f"PreparedSlices(root={str(self.root)!r}, slices={len(self)})"
