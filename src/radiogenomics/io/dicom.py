"""Kaggle Task 2 DICOM series: geometric slice order, intensities and world geometry.

A Task 2 series is a folder of single-frame DICOM files (``Image-N.dcm``). The file number
``N`` (and ``InstanceNumber``) is *not* a reliable geometric order, so
:func:`read_dicom_series` orders slices by their ``ImagePositionPatient`` projected on the
slice normal (the cross product of the two ``ImageOrientationPatient`` direction cosines),
applies ``RescaleSlope``/``RescaleIntercept``, inverts ``MONOCHROME1`` data, and builds the
voxel-to-world affine in the NIfTI (RAS+) convention, so that a series can be written as
NIfTI (:func:`series_to_nifti`) or handed to the rest of the pipeline as a
:class:`~radiogenomics.records.VolumeRecord`.

A folder must hold one series of one patient, on a grid that agrees with every file:
several ``SeriesInstanceUID`` values (unless one is picked), mixed ``PatientID`` values,
slices off the normal (gantry tilt), non-perpendicular direction cosines and a
``RescaleSlope`` of 0 are refused, never read into a wrong volume.

Array layouts:

* :attr:`DicomSeries.pixels` is ``(S, R, C)``: slices in geometric order (increasing
  position along the normal), then the DICOM rows, then the DICOM columns; this is how a
  radiologist scrolls through the series.
* :meth:`DicomSeries.to_nifti_array` is ``(C, R, S)`` (``pixels.transpose(2, 1, 0)``), the
  layout :attr:`DicomSeries.affine` maps to world coordinates, as NIfTI expects.

pydicom is imported inside the functions that need it, so ``import radiogenomics`` stays
cheap. Compressed transfer syntaxes need a decoder plugin; when none is installed a
:class:`~radiogenomics.errors.MissingDecoderError` says which package to install
(``pip install 'radiogenomics[decoders]'``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_range
from radiogenomics._outputs import check_apart
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    MissingDecoderError,
)
from radiogenomics.io.nifti import write_nifti
from radiogenomics.records import PLANES, Plane, VolumeRecord

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "MRI_TYPES",
    "DicomSeries",
    "find_task2_patients",
    "plane_from_orientation",
    "read_dicom_series",
    "series_to_nifti",
    "task2_patient_folders",
]

MRI_TYPES: tuple[str, ...] = ("FLAIR", "T1w", "T1wCE", "T2w")
"""The four Task 2 MRI types, spelled as the Kaggle series folders are."""

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_ORIENTATION_ATOL = 1e-3
"""Largest difference between two slices' direction cosines still read as equal."""
_SPACING_RTOL = 1e-3
"""Largest relative difference between two slices' pixel spacings still read as equal."""
_DUPLICATE_ATOL = 1e-3
"""Slices closer than this (mm) along the normal are duplicates."""
_DIRECTION_ATOL = 1e-3
"""Largest ``|cos|`` of the angle between the row and column direction cosines still read
as perpendicular (89.94 degrees), and largest difference of either one's length from 1.
Cosines written with 4 or more decimals are far inside it (about 1e-4 at worst)."""
_MAX_IN_PLANE_OFFSET = 0.1
"""Largest distance of a slice's ``ImagePositionPatient`` from the line through the first
slice along the normal, as a fraction of the smaller pixel spacing (0.09 mm for 0.9 mm
pixels); beyond it the slices are tilted (gantry tilt) and no grid along the normal puts
them where the files do."""
_DIGITS = re.compile(r"[0-9]+")
_SKIPPED_NAMES = frozenset({"DICOMDIR"})

# Decoder packages per transfer syntax family, for MissingDecoderError messages.
_JPEG_PACKAGES = "pylibjpeg pylibjpeg-libjpeg"
_J2K_PACKAGES = "pylibjpeg pylibjpeg-openjpeg"
_RLE_PACKAGES = "pylibjpeg pylibjpeg-rle"
_DECODER_PACKAGES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.51": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.57": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.70": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.80": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.81": _JPEG_PACKAGES,
    "1.2.840.10008.1.2.4.90": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.91": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.92": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.93": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.201": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.202": _J2K_PACKAGES,
    "1.2.840.10008.1.2.4.203": _J2K_PACKAGES,
    "1.2.840.10008.1.2.5": _RLE_PACKAGES,
}


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, repr=False, eq=False)
class DicomSeries:
    """One DICOM series read into memory, slices in geometric order.

    Arrays are read-only views; use :meth:`to_nifti_array` for the NIfTI layout.

    Attributes:
        pixels: Rescaled intensities of shape (S, R, C) and dtype float32: slices in
            increasing position along the slice normal, then DICOM rows, then columns.
        affine: The 4x4 float64 voxel-to-world affine (RAS+, millimetres) of the
            (C, R, S) array returned by :meth:`to_nifti_array`; voxel ``(0, 0, k)`` is
            the top-left pixel of slice ``k``.
        plane: The acquisition plane, from the dominant component of the slice normal.
        positions: Slice positions (mm) along the normal, of shape (S,), increasing.
        files: The files, one per slice, in geometric order.
        folder: The series folder.
        spacing: ``(row spacing, column spacing, slice spacing)`` in mm: the distance
            between adjacent rows, between adjacent columns (``PixelSpacing``), and the
            median distance between adjacent slices.
        patient_id: The patient identifier, when known.
        mri_type: The MRI type (``"FLAIR"``, ``"T1w"``, ``"T1wCE"``, ``"T2w"``), when known.
    """

    pixels: npt.NDArray[np.float32]
    affine: npt.NDArray[np.float64]
    plane: Plane
    positions: npt.NDArray[np.float64]
    files: tuple[Path, ...]
    folder: Path
    spacing: tuple[float, float, float]
    patient_id: str | None = None
    mri_type: str | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3:
            raise GeometryError(
                f"expected pixels of shape (S, R, C); got shape {self.pixels.shape}.",
                path=self.folder,
                patient_id=self.patient_id,
            )
        n_slices = self.pixels.shape[0]
        if self.affine.shape != (4, 4):
            raise GeometryError(
                f"expected a 4x4 affine; got shape {self.affine.shape}.",
                path=self.folder,
                patient_id=self.patient_id,
            )
        if self.positions.shape != (n_slices,) or len(self.files) != n_slices:
            raise GeometryError(
                f"{n_slices} slices but {self.positions.shape[0]} positions and "
                f"{len(self.files)} files; expected one of each per slice.",
                path=self.folder,
                patient_id=self.patient_id,
            )
        object.__setattr__(self, "pixels", _readonly(self.pixels))
        object.__setattr__(self, "affine", _readonly(np.asarray(self.affine, dtype=np.float64)))
        object.__setattr__(self, "positions", _readonly(self.positions))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The ``(S, R, C)`` shape of :attr:`pixels`."""
        s, r, c = self.pixels.shape
        return (int(s), int(r), int(c))

    def to_nifti_array(self) -> npt.NDArray[np.float32]:
        """The pixels in the NIfTI layout that :attr:`affine` maps to world space.

        Returns:
            A read-only view of shape (C, R, S) and dtype float32
            (``pixels.transpose(2, 1, 0)``).
        """
        return self.pixels.transpose(2, 1, 0)

    def to_volume_record(self) -> VolumeRecord:
        """This series as a :class:`~radiogenomics.records.VolumeRecord`.

        Returns:
            A record whose image is :meth:`to_nifti_array` (shape (C, R, S)), with
            :attr:`affine`, ``modality`` = :attr:`mri_type` (``"unknown"`` if not known),
            ``patient_id`` (``"unknown"`` if not known) and ``source`` = the folder.
        """
        return VolumeRecord(
            patient_id=self.patient_id if self.patient_id is not None else "unknown",
            modality=self.mri_type if self.mri_type is not None else "unknown",
            image=self.to_nifti_array(),
            affine=np.array(self.affine, dtype=np.float64),
            source=str(self.folder),
        )

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.spacing)
        return (
            f"DicomSeries(patient_id={self.patient_id!r}, mri_type={self.mri_type!r}, "
            f"plane={self.plane!r}, shape={self.shape}, spacing=({spacing}))"
        )


@dataclass(frozen=True)
class _SliceHeader:
    path: Path
    orientation: npt.NDArray[np.float64]  # (6,) row then column direction cosines, LPS
    pixel_spacing: npt.NDArray[np.float64]  # (2,) row spacing, column spacing
    position: npt.NDArray[np.float64]  # (3,) ImagePositionPatient, LPS
    rows: int
    columns: int
    photometric: str
    series_uid: str  # SeriesInstanceUID; "" when the file has none
    description: str  # SeriesDescription; "" when the file has none
    patient: str  # PatientID; "" when the file has none


def plane_from_orientation(orientation: Sequence[float] | npt.ArrayLike) -> Plane:
    """The anatomical plane of a slice from its ``ImageOrientationPatient``.

    The slice normal is the cross product of the row and column direction cosines; its
    dominant LPS component names the plane: x → sagittal, y → coronal, z → axial.

    Args:
        orientation: The six direction cosines (row direction, then column direction).

    Returns:
        ``"sagittal"``, ``"coronal"`` or ``"axial"``.

    Raises:
        GeometryError: ``orientation`` does not hold six finite values, or its two
            directions are degenerate (zero or parallel), not perpendicular
            (``|cos| > 0.001``) or not of unit length (within 0.001).

    Example:
        >>> plane_from_orientation([1, 0, 0, 0, 1, 0])
        'axial'
        >>> plane_from_orientation([0, 1, 0, 0, 0, -1])
        'sagittal'
    """
    _, _, normal = _directions(np.asarray(orientation, dtype=np.float64), path=None)
    return PLANES[int(np.argmax(np.abs(normal)))]


def _directions(
    orientation: npt.NDArray[np.float64],
    *,
    path: Path | None,
    patient_id: str | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Unit row direction, column direction and normal (LPS) from six cosines."""
    if orientation.shape != (6,) or not np.all(np.isfinite(orientation)):
        raise GeometryError(
            f"ImageOrientationPatient must hold six finite direction cosines; got "
            f"{orientation.tolist()}.",
            path=path,
            patient_id=patient_id,
        )
    row, col = orientation[:3], orientation[3:]
    row_norm, col_norm = float(np.linalg.norm(row)), float(np.linalg.norm(col))
    normal = np.cross(row, col)
    normal_norm = float(np.linalg.norm(normal))
    if row_norm < 1e-6 or col_norm < 1e-6 or normal_norm < 1e-3 * row_norm * col_norm:
        raise GeometryError(
            f"ImageOrientationPatient {orientation.tolist()} has a zero or parallel row and "
            "column direction; expected two orthogonal unit vectors.",
            path=path,
            patient_id=patient_id,
        )
    cosine = float(row @ col) / (row_norm * col_norm)
    if abs(cosine) > _DIRECTION_ATOL:
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
        raise GeometryError(
            f"ImageOrientationPatient {orientation.tolist()} has row and column directions "
            f"{angle:.2f} degrees apart (|cos| = {abs(cosine):.2g} > {_DIRECTION_ATOL:g}); "
            "DICOM pixels lie on a rectangular grid, so the two must be perpendicular. A grid "
            "built from these cosines would be sheared: the tag is damaged. Re-export the "
            "series.",
            path=path,
            patient_id=patient_id,
        )
    lengths = (row_norm, col_norm)
    if max(abs(n - 1.0) for n in lengths) > _DIRECTION_ATOL:
        raise GeometryError(
            f"ImageOrientationPatient {orientation.tolist()} holds direction cosines of "
            f"lengths {row_norm:.4g} and {col_norm:.4g}; expected unit vectors (lengths 1 "
            f"within {_DIRECTION_ATOL:g}): the tag is damaged. Re-export the series.",
            path=path,
            patient_id=patient_id,
        )
    return row / row_norm, col / col_norm, normal / normal_norm


def _element(
    ds: Dataset, keyword: str, default: Any = None, *, path: Path, patient_id: str | None
) -> Any:
    """``ds.get(keyword, default)``, a damaged element raising :class:`CorruptFileError`.

    pydicom parses elements when they are first read, so a damaged one (an unknown VR,
    a value of the wrong length) raises there, with one of many exception types.
    """
    try:
        return ds.get(keyword, default)
    except Exception as error:
        raise CorruptFileError(
            f"cannot parse the DICOM tag {keyword} ({type(error).__name__}: {error}); the "
            "file is damaged. Re-export or re-download the series.",
            path=path,
            patient_id=patient_id,
        ) from error


def _float_tag(
    ds: Dataset,
    keyword: str,
    count: int,
    *,
    path: Path,
    patient_id: str | None,
) -> npt.NDArray[np.float64]:
    value = _element(ds, keyword, path=path, patient_id=patient_id)
    if value is None or (isinstance(value, (str, bytes)) and not value):
        raise GeometryError(
            f"the geometry tag {keyword} is missing; every slice of a series needs "
            "ImagePositionPatient, ImageOrientationPatient and PixelSpacing to be ordered "
            "and placed in world space.",
            path=path,
            patient_id=patient_id,
        )
    try:
        values = np.asarray([float(v) for v in value] if count > 1 else [float(value)])
    except (TypeError, ValueError):
        raise GeometryError(
            f"the geometry tag {keyword} = {value!r} is not {count} number(s).",
            path=path,
            patient_id=patient_id,
        ) from None
    if values.shape != (count,) or not np.all(np.isfinite(values)):
        raise GeometryError(
            f"the geometry tag {keyword} = {values.tolist()} must hold {count} finite number(s).",
            path=path,
            patient_id=patient_id,
        )
    return values.astype(np.float64)


def _read_header(path: Path, *, patient_id: str | None) -> tuple[Dataset, _SliceHeader]:
    import struct

    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, force=False)
    except InvalidDicomError as error:
        raise CorruptFileError(
            f"not a DICOM file ({error}); a series folder must hold only the DICOM files "
            "of one series (hidden files are ignored).",
            path=path,
            patient_id=patient_id,
        ) from error
    except (EOFError, ValueError, struct.error) as error:
        raise CorruptFileError(
            f"the DICOM file is truncated or damaged: {error}",
            path=path,
            patient_id=patient_id,
        ) from error
    except Exception as error:  # pydicom raises many other types on damaged files
        raise CorruptFileError(
            f"cannot read the DICOM file ({type(error).__name__}: {error}); it is damaged "
            "or unreadable.",
            path=path,
            patient_id=patient_id,
        ) from error
    if "PixelData" not in ds:
        raise CorruptFileError(
            "the DICOM file has no Pixel Data: it is truncated, or it is not an image (a "
            "series folder must hold only the image files of one series).",
            path=path,
            patient_id=patient_id,
        )
    position = _float_tag(ds, "ImagePositionPatient", 3, path=path, patient_id=patient_id)
    orientation = _float_tag(ds, "ImageOrientationPatient", 6, path=path, patient_id=patient_id)
    spacing = _float_tag(ds, "PixelSpacing", 2, path=path, patient_id=patient_id)
    if np.any(spacing <= 0):
        raise GeometryError(
            f"PixelSpacing {spacing.tolist()} must be positive.",
            path=path,
            patient_id=patient_id,
        )
    _directions(orientation, path=path, patient_id=patient_id)
    try:
        rows = int(_element(ds, "Rows", path=path, patient_id=patient_id))
        columns = int(_element(ds, "Columns", path=path, patient_id=patient_id))
    except (TypeError, ValueError):
        rows = columns = 0
    if rows < 1 or columns < 1:
        raise CorruptFileError(
            "the DICOM file lacks valid Rows/Columns tags (positive whole numbers).",
            path=path,
            patient_id=patient_id,
        )
    photometric = _element(
        ds, "PhotometricInterpretation", "MONOCHROME2", path=path, patient_id=patient_id
    )
    photometric = str(photometric).strip().upper()
    texts = [
        str(_element(ds, keyword, "", path=path, patient_id=patient_id) or "").strip()
        for keyword in ("SeriesInstanceUID", "SeriesDescription", "PatientID")
    ]
    header = _SliceHeader(path, orientation, spacing, position, rows, columns, photometric, *texts)
    return ds, header


def _missing_decoder_error(
    uid: str, name: str, *, path: Path, patient_id: str | None, detail: str
) -> MissingDecoderError:
    packages = _DECODER_PACKAGES.get(uid, f"{_JPEG_PACKAGES} pylibjpeg-openjpeg")
    message = (
        f"cannot decode pixel data with transfer syntax {name} ({uid}): no decoder for it "
        f"is installed. Install one: pip install {packages} (or pip install "
        "'radiogenomics[decoders]', which installs pylibjpeg, pylibjpeg-libjpeg and "
        "pylibjpeg-openjpeg), or pip install python-gdcm."
    )
    if detail:
        message += f" pydicom reports: {detail}"
    return MissingDecoderError(message, path=path, patient_id=patient_id)


def _decoder_available(uid: str) -> tuple[bool | None, str]:
    """Whether pydicom has a usable decoder for ``uid`` (``None``: cannot tell)."""
    try:
        from pydicom.pixels.decoders.base import get_decoder
    except ImportError:  # pydicom < 3
        return None, ""
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as error:
        return False, str(error)
    return bool(decoder.is_available), "; ".join(decoder.missing_dependencies)


def _decode(ds: Dataset, header: _SliceHeader, *, patient_id: str | None) -> npt.NDArray[Any]:
    """The rescaled (modality LUT) pixels of one slice, of shape (R, C), float64."""
    path = header.path
    file_meta = getattr(ds, "file_meta", None)
    uid_value = (
        None
        if file_meta is None
        else _element(file_meta, "TransferSyntaxUID", path=path, patient_id=patient_id)
    )
    compressed = False
    uid, name = "", "unknown"
    if uid_value is not None:
        from pydicom.uid import UID

        ts = UID(str(uid_value))
        uid, name = str(ts), ts.name
        compressed = bool(ts.is_compressed) if ts.is_transfer_syntax else False
    if compressed:
        available, detail = _decoder_available(uid)
        if available is False:
            raise _missing_decoder_error(uid, name, path=path, patient_id=patient_id, detail=detail)
    try:
        array = np.asarray(ds.pixel_array)
    except (RuntimeError, NotImplementedError) as error:
        if compressed and _decoder_available(uid)[0] is not True:
            raise _missing_decoder_error(
                uid, name, path=path, patient_id=patient_id, detail=str(error)
            ) from error
        raise CorruptFileError(
            f"cannot decode the pixel data (transfer syntax {name}): {error}",
            path=path,
            patient_id=patient_id,
        ) from error
    except Exception as error:  # damaged pixel data: pydicom and numpy raise many types
        raise CorruptFileError(
            f"cannot decode the pixel data (transfer syntax {name}): "
            f"{type(error).__name__}: {error}",
            path=path,
            patient_id=patient_id,
        ) from error
    if array.shape != (header.rows, header.columns):
        raise InvalidInputError(
            f"expected one single-channel frame of shape ({header.rows}, {header.columns}); "
            f"got pixel data of shape {array.shape}. Multi-frame and colour images are not "
            "supported: convert the series to single-frame grayscale files.",
            path=path,
            patient_id=patient_id,
        )
    slope = _optional_float(ds, "RescaleSlope", 1.0, path=path, patient_id=patient_id)
    intercept = _optional_float(ds, "RescaleIntercept", 0.0, path=path, patient_id=patient_id)
    if slope == 0:
        raise InvalidInputError(
            f"RescaleSlope = 0 would turn every stored value of this slice into the "
            f"RescaleIntercept ({intercept:g}), a blank slice; expected a non-zero slope (1 "
            "when the stored values are the intensities). The file is invalid: re-export "
            "the series, or leave it out.",
            path=path,
            patient_id=patient_id,
        )
    return array.astype(np.float64) * slope + intercept


def _optional_float(
    ds: Dataset, keyword: str, default: float, *, path: Path, patient_id: str | None
) -> float:
    value = _element(ds, keyword, path=path, patient_id=patient_id)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CorruptFileError(
            f"{keyword} = {value!r} is not a number.", path=path, patient_id=patient_id
        ) from None
    if not math.isfinite(number):
        raise CorruptFileError(
            f"{keyword} = {value!r} is not finite.", path=path, patient_id=patient_id
        )
    return number


def _series_files(folder: Path, *, patient_id: str | None) -> list[Path]:
    if not folder.is_dir():
        raise InputNotFoundError(
            "the DICOM series folder does not exist or is not a folder.",
            path=folder,
            patient_id=patient_id,
        )
    files = sorted(
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.name not in _SKIPPED_NAMES and p.is_file()
    )
    if not files:
        raise InputNotFoundError(
            "the DICOM series folder holds no files; expected one DICOM file per slice.",
            path=folder,
            patient_id=patient_id,
        )
    return files


def _series_listing(groups: dict[str, list[_SliceHeader]]) -> str:
    """One line per series: UID, description, file count and a file."""
    lines = []
    for uid, members in groups.items():
        name = repr(uid) if uid else "'' (files without SeriesInstanceUID)"
        descriptions = sorted({h.description for h in members if h.description})
        described = (
            f"SeriesDescription {', '.join(map(repr, descriptions))}"
            if descriptions
            else "no SeriesDescription"
        )
        lines.append(f"  {name}: {described}, {len(members)} file(s), e.g. {members[0].path.name}")
    return "\n".join(lines)


def _select_series(
    headers: Sequence[_SliceHeader],
    *,
    series_uid: str | None,
    folder: Path,
    patient_id: str | None,
) -> list[int]:
    """The indices of the headers of the one series to read (all of one patient)."""
    groups: dict[str, list[_SliceHeader]] = {}
    for header in headers:
        groups.setdefault(header.series_uid, []).append(header)
    if series_uid is not None:
        if series_uid not in groups:
            raise InputNotFoundError(
                f"no file has SeriesInstanceUID {series_uid!r}; the folder holds "
                f"{len(groups)} series:\n{_series_listing(groups)}\nPass one of these UIDs.",
                path=folder,
                patient_id=patient_id,
            )
        chosen = series_uid
    elif len(groups) > 1:
        raise InvalidInputError(
            f"the folder holds {len(groups)} series (files with different "
            f"SeriesInstanceUIDs), which cannot be stacked into one volume:\n"
            f"{_series_listing(groups)}\nMove each series to its own folder, or read one "
            "with series_uid=... (the command line's --series-uid).",
            path=folder,
            patient_id=patient_id,
        )
    else:
        chosen = next(iter(groups))
    indices = [i for i, h in enumerate(headers) if h.series_uid == chosen]
    patients: dict[str, list[Path]] = {}
    for i in indices:
        if headers[i].patient:
            patients.setdefault(headers[i].patient, []).append(headers[i].path)
    if len(patients) > 1:
        counts = "; ".join(
            f"{pid!r}: {len(paths)} file(s), e.g. {paths[0].name}"
            for pid, paths in patients.items()
        )
        raise InvalidInputError(
            f"the series mixes {len(patients)} PatientIDs ({counts}); a series holds the "
            "slices of one patient. Remove the other patient's files.",
            path=folder,
            patient_id=patient_id,
        )
    return indices


def _check_along_normal(
    positions: npt.NDArray[np.float64],
    normal: npt.NDArray[np.float64],
    files: Sequence[Path],
    *,
    pixel_spacing: npt.NDArray[np.float64],
    folder: Path,
    patient_id: str | None,
) -> None:
    """Refuse slices whose positions leave the line through the first one along the normal.

    Args:
        positions: ``ImagePositionPatient`` of the slices in geometric order, (S, 3), LPS.
        normal: The unit slice normal, (3,).
    """
    steps = positions - positions[0]
    along = steps @ normal
    offsets = np.linalg.norm(steps - along[:, None] * normal[None, :], axis=1)
    tolerance = _MAX_IN_PLANE_OFFSET * float(pixel_spacing.min())
    k = int(np.argmax(offsets))
    if offsets[k] <= tolerance:
        return
    angle = math.degrees(math.atan2(float(offsets[k]), abs(float(along[k]))))
    raise GeometryError(
        f"the slices are not stacked along their normal (ImageOrientationPatient's row x "
        f"column cosines): {files[k].name} lies {offsets[k]:.3f} mm beside the normal "
        f"through the first slice, {files[0].name}, and {along[k]:.3f} mm along it, a "
        f"step at {angle:.2f} degrees to the normal (gantry tilt, or a displaced slice). A "
        "volume with one grid along the normal "
        f"would put that slice {offsets[k]:.3f} mm from where its ImagePositionPatient "
        f"puts it (tolerance {tolerance:.3g} mm: {_MAX_IN_PLANE_OFFSET:g} of the smaller "
        "pixel spacing), so the series is refused. Resample it to an untilted grid first "
        "(e.g. dcm2niix, which corrects gantry tilt), or leave it out.",
        path=folder,
        patient_id=patient_id,
    )


def _check_same_geometry(
    first: _SliceHeader, other: _SliceHeader, *, patient_id: str | None
) -> None:
    if (other.rows, other.columns) != (first.rows, first.columns):
        raise GeometryError(
            f"this slice has Rows x Columns = {other.rows} x {other.columns} but "
            f"{first.path.name} has {first.rows} x {first.columns}; a series folder must "
            "hold slices of one size (is another series mixed in?).",
            path=other.path,
            patient_id=patient_id,
        )
    if not np.allclose(other.orientation, first.orientation, rtol=0, atol=_ORIENTATION_ATOL):
        raise GeometryError(
            f"this slice has ImageOrientationPatient {other.orientation.tolist()} but "
            f"{first.path.name} has {first.orientation.tolist()}; a series folder must hold "
            "slices of one orientation (is another series mixed in?).",
            path=other.path,
            patient_id=patient_id,
        )
    if not np.allclose(other.pixel_spacing, first.pixel_spacing, rtol=_SPACING_RTOL, atol=0):
        raise GeometryError(
            f"this slice has PixelSpacing {other.pixel_spacing.tolist()} but "
            f"{first.path.name} has {first.pixel_spacing.tolist()}; a series folder must "
            "hold slices of one pixel spacing (is another series mixed in?).",
            path=other.path,
            patient_id=patient_id,
        )


def _slice_spacing(
    positions: npt.NDArray[np.float64],
    files: Sequence[Path],
    ds: Dataset,
    *,
    folder: Path,
    patient_id: str | None,
    max_spacing_deviation: float,
) -> float:
    """The median gap between sorted slice positions, checked for consistency."""
    if positions.size == 1:
        for keyword in ("SliceThickness", "SpacingBetweenSlices"):
            value = _optional_float(ds, keyword, 0.0, path=files[0], patient_id=patient_id)
            if value > 0:
                return value
        return 1.0
    gaps = np.diff(positions)
    duplicates = np.flatnonzero(gaps < _DUPLICATE_ATOL)
    if duplicates.size:
        i = int(duplicates[0])
        raise GeometryError(
            f"{duplicates.size} pair(s) of slices share a position along the slice normal, "
            f"e.g. {files[i].name} and {files[i + 1].name} at {positions[i]:.4f} mm; a "
            "series folder must hold each slice once (is a series duplicated or mixed in?).",
            path=folder,
            patient_id=patient_id,
        )
    spacing = float(np.median(gaps))
    deviation = np.abs(gaps - spacing) / spacing
    bad = np.flatnonzero(deviation > max_spacing_deviation)
    if bad.size:
        i = int(bad[0])
        raise GeometryError(
            f"uneven slice spacing: the gap between {files[i].name} and {files[i + 1].name} "
            f"is {gaps[i]:.4f} mm but the median gap is {spacing:.4f} mm (relative deviation "
            f"{deviation[i]:.3f} > max_spacing_deviation={max_spacing_deviation}); slices "
            "may be missing. Pass a larger max_spacing_deviation to accept the series with "
            "its median spacing.",
            path=folder,
            patient_id=patient_id,
        )
    return spacing


def read_dicom_series(
    folder: str | os.PathLike[str],
    *,
    patient_id: str | None = None,
    mri_type: str | None = None,
    max_spacing_deviation: float = 0.1,
    series_uid: str | None = None,
) -> DicomSeries:
    """Read one DICOM series folder into a :class:`DicomSeries`, slices in geometric order.

    Every file in ``folder`` is read except hidden files (names starting with ``.``),
    sub-folders and ``DICOMDIR``. The files are grouped by ``SeriesInstanceUID`` (files
    without one form one group of their own): a folder of one series is read; a folder
    of several is refused with the list of its series (UID, ``SeriesDescription``, file
    count) unless ``series_uid`` picks one, since stacking two series makes one volume
    of alternating or concatenated contrasts. A series whose files name two different
    ``PatientID`` values is refused (files without the tag are not counted).

    Slices are ordered by ``ImagePositionPatient`` projected on the slice normal
    (``ImageOrientationPatient`` row x column cosines), never by file name or
    ``InstanceNumber``. Each slice's stored values are rescaled by
    its ``RescaleSlope`` and ``RescaleIntercept`` (defaults 1 and 0); ``MONOCHROME1``
    series are inverted to ``max + min - x`` (extrema over the whole series), so bright
    always means high signal. The slice spacing is the median gap between adjacent
    positions (a single-slice series uses ``SliceThickness``, else
    ``SpacingBetweenSlices``, else 1 mm).

    The affine maps voxel ``(i, j, k)`` of the (C, R, S) NIfTI array to RAS+ world
    coordinates: ``i`` (column index) steps along the row direction cosine times the
    column spacing, ``j`` (row index) along the column direction cosine times the row
    spacing, ``k`` along the normal times the slice spacing, and voxel ``(0, 0, 0)`` is
    the first slice's ``ImagePositionPatient``; the first two rows are negated to turn
    DICOM's LPS into RAS. That grid agrees with every file, which is checked:

    * the row and column direction cosines must be unit vectors and perpendicular, each
      within 1e-3 (``|row . column| <= 0.001``, 89.94 to 90.06 degrees; a larger angle
      would give a sheared affine);
    * every slice's ``ImagePositionPatient`` must lie on the line through the first slice
      along the normal, within 0.1 of the smaller pixel spacing; slices that step sideways
      (gantry tilt) are refused rather than placed up to several millimetres from where
      the files put them. Resample such a series first (e.g. with dcm2niix).

    Both tolerances are far above the rounding of real headers (cosines with 6 decimals,
    positions with float noise).

    Args:
        folder: The series folder (e.g. ``train/00000/FLAIR``).
        patient_id: The patient identifier, used in errors and kept on the result; when
            ``None``, the files' ``PatientID`` tag is used if set.
        mri_type: The MRI type kept on the result; when ``None``, the folder name is used
            if it is one of :data:`MRI_TYPES`.
        max_spacing_deviation: How far (a fraction of the median gap) a gap between
            adjacent slices may differ from the median gap; a larger deviation (missing
            slices) raises. Inclusive: a deviation equal to it is accepted.
        series_uid: The ``SeriesInstanceUID`` of the series to read from a folder that
            holds several (``""`` picks the files without the tag); ``None`` reads the
            folder's only series.

    Returns:
        The series, with pixels of shape (S, R, C) and dtype float32.

    Raises:
        InputNotFoundError: ``folder`` does not exist or holds no files, or no file has
            the ``series_uid`` asked for (the message lists the series present).
        CorruptFileError: A file is not DICOM, is damaged or has no pixel data.
        GeometryError: A file lacks ImagePositionPatient, ImageOrientationPatient or
            PixelSpacing; its direction cosines are not perpendicular unit vectors;
            slices differ in orientation, pixel spacing or Rows/Columns; two slices
            share a position; the spacing is uneven; or the slices are tilted (positions
            off the normal).
        MissingDecoderError: The pixel data is compressed with a transfer syntax that no
            installed plugin decodes; the message names the packages to install.
        InvalidInputError: The folder holds several series and ``series_uid`` is
            ``None``; the series mixes PatientIDs; a file holds several frames or colour
            data or has ``RescaleSlope`` 0; or the series mixes MONOCHROME1 and
            MONOCHROME2, or uses another photometric interpretation.
        ConfigurationError: ``max_spacing_deviation`` is negative or not a number.
    """
    check_range("max_spacing_deviation", max_spacing_deviation, low=0.0)
    folder = Path(folder)
    paths = _series_files(folder, patient_id=patient_id)
    read = [_read_header(path, patient_id=patient_id) for path in paths]
    chosen = _select_series(
        [header for _, header in read], series_uid=series_uid, folder=folder, patient_id=patient_id
    )
    datasets = [read[i][0] for i in chosen]
    headers = [read[i][1] for i in chosen]
    del read  # the other series' files are released
    for header in headers[1:]:
        _check_same_geometry(headers[0], header, patient_id=patient_id)
    reference = datasets[0]

    row_dir, col_dir, normal = _directions(
        headers[0].orientation, path=headers[0].path, patient_id=patient_id
    )
    projections = np.asarray([h.position @ normal for h in headers], dtype=np.float64)
    order = np.argsort(projections, kind="stable")
    positions = projections[order]
    files = tuple(headers[i].path for i in order)
    slice_spacing = _slice_spacing(
        positions,
        files,
        reference,
        folder=folder,
        patient_id=patient_id,
        max_spacing_deviation=max_spacing_deviation,
    )
    _check_along_normal(
        np.stack([headers[i].position for i in order]),
        normal,
        files,
        pixel_spacing=headers[0].pixel_spacing,
        folder=folder,
        patient_id=patient_id,
    )

    if patient_id is None:
        patient_id = next((h.patient for h in headers if h.patient), None)
    photometrics = {h.photometric for h in headers}
    if not photometrics <= {"MONOCHROME1", "MONOCHROME2"}:
        raise InvalidInputError(
            f"PhotometricInterpretation {sorted(photometrics)} is not supported; expected "
            "grayscale MONOCHROME1 or MONOCHROME2 images.",
            path=folder,
            patient_id=patient_id,
        )
    if len(photometrics) > 1:
        raise InvalidInputError(
            "the series mixes MONOCHROME1 and MONOCHROME2 slices; expected one "
            "PhotometricInterpretation per series (is another series mixed in?).",
            path=folder,
            patient_id=patient_id,
        )
    first = headers[order[0]]
    volume = np.empty((len(order), first.rows, first.columns), dtype=np.float32)
    low, high = math.inf, -math.inf
    pending = dict(enumerate(datasets))
    datasets.clear()
    for k, i in enumerate(order):
        # pop: each file's pixel bytes are released once decoded.
        values = _decode(pending.pop(int(i)), headers[i], patient_id=patient_id)
        low, high = min(low, float(values.min())), max(high, float(values.max()))
        volume[k] = values
    if photometrics == {"MONOCHROME1"}:
        np.subtract(np.float32(high + low), volume, out=volume)

    row_spacing, col_spacing = (float(v) for v in first.pixel_spacing)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * col_spacing
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = normal * slice_spacing
    lps[:3, 3] = first.position
    affine = _LPS_TO_RAS @ lps

    if mri_type is None and folder.name in MRI_TYPES:
        mri_type = folder.name
    return DicomSeries(
        pixels=volume,
        affine=affine,
        plane=PLANES[int(np.argmax(np.abs(normal)))],
        positions=positions,
        files=files,
        folder=folder,
        spacing=(row_spacing, col_spacing, slice_spacing),
        patient_id=patient_id,
        mri_type=mri_type,
    )


def series_to_nifti(
    folder: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    patient_id: str | None = None,
    mri_type: str | None = None,
    max_spacing_deviation: float = 0.1,
    series_uid: str | None = None,
) -> Path:
    """Convert one DICOM series folder to a NIfTI file, written atomically.

    The image is :meth:`DicomSeries.to_nifti_array` (float32, (C, R, S)) with
    :attr:`DicomSeries.affine` stored as both the qform and the sform (code 1,
    scanner). The file is first written to a hidden temporary file in the destination
    folder, then moved over ``out_path``, so a reader never sees a partial file.

    Args:
        folder: The series folder.
        out_path: The file to write, ending in ``.nii.gz`` (or ``.nii``); missing parent
            folders are created.
        patient_id: As in :func:`read_dicom_series`.
        mri_type: As in :func:`read_dicom_series`.
        max_spacing_deviation: As in :func:`read_dicom_series`.
        series_uid: As in :func:`read_dicom_series`.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: ``out_path`` does not end in ``.nii.gz`` or ``.nii``, or lies
            inside the series folder (it would become a slice of the series).
        RadiogenomicsError: Any error of :func:`read_dicom_series`.
    """
    out = Path(out_path)
    suffix = next((s for s in (".nii.gz", ".nii") if out.name.endswith(s)), None)
    if suffix is None or out.name == suffix:
        raise ConfigurationError(
            f"out_path={str(out_path)!r} must name a file ending in '.nii.gz' or '.nii'."
        )
    check_apart(out, [("series folder", folder)], option="the NIfTI output")
    series = read_dicom_series(
        folder,
        patient_id=patient_id,
        mri_type=mri_type,
        max_spacing_deviation=max_spacing_deviation,
        series_uid=series_uid,
    )
    affine = np.array(series.affine, dtype=np.float64)
    return write_nifti(np.asarray(series.to_nifti_array()), affine, out)


def _mri_type_folders(folder: Path) -> dict[str, Path]:
    canonical = {name.lower(): name for name in MRI_TYPES}
    found: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        name = canonical.get(child.name.lower())
        if name is not None and child.is_dir() and name not in found:
            found[name] = child
    return {name: found[name] for name in MRI_TYPES if name in found}


def _check_patient_name(name: str, folder: Path) -> str:
    if name in ("", ".", "..") or ".." in name or "/" in name or "\\" in name:
        raise InvalidInputError(
            f"patient folder name {name!r} is not a valid patient identifier (it is empty "
            "or holds a path separator or '..'); pass the folder as a resolved path, e.g. "
            "Path(root).resolve().",
            path=folder,
        )
    return name


def task2_patient_folders(root: str | os.PathLike[str]) -> dict[str, Path]:
    """The patient folders of a Task 2 split folder, by patient identifier.

    The all-digit sub-folders of ``root`` are patients; their identifiers are spelled
    by :func:`~radiogenomics.io.labels.patient_key` (``40`` and ``00040`` are both
    ``"00040"``), so they match the label file however the folder was named.

    Args:
        root: A split folder (``train/``).

    Returns:
        ``{patient_id: folder}``, sorted by identifier; empty when ``root`` holds no
        all-digit sub-folder.

    Raises:
        InputNotFoundError: ``root`` is not a folder.
        InvalidInputError: Two folders name one patient (``40`` and ``00040``).
    """
    from radiogenomics.io.labels import patient_key

    folder = Path(root)
    if not folder.is_dir():
        raise InputNotFoundError(
            "the Task 2 folder does not exist or is not a folder.", path=folder
        )
    found: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if not (_DIGITS.fullmatch(child.name) and child.is_dir()):
            continue
        key = patient_key(child.name)
        if key in found:
            raise InvalidInputError(
                f"the folders {found[key].name!r} and {child.name!r} both name patient "
                f"{key}; keep one folder per patient.",
                path=folder,
                patient_id=key,
            )
        found[key] = child
    return dict(sorted(found.items()))


def find_task2_patients(root: str | os.PathLike[str]) -> dict[str, dict[str, Path]]:
    """Find the Task 2 patients under ``root`` and their MRI-type series folders.

    ``root`` is either a split folder such as ``train/`` (its all-digit sub-folders are
    patients, e.g. ``00000``) or a single patient folder (its sub-folders are MRI-type
    folders). MRI-type folder names are matched case-insensitively and reported under
    their :data:`MRI_TYPES` spelling. A patient folder with no MRI-type folder is kept,
    with an empty mapping, so callers can still report it.

    Args:
        root: A folder of patient folders, or one patient folder.

    Returns:
        ``{patient_id: {mri_type: series_folder}}``, patients sorted by identifier,
        MRI types in :data:`MRI_TYPES` order. Numeric identifiers are zero-padded to 5
        digits whatever the folder's spelling (a folder ``40`` is patient ``"00040"``;
        see :func:`task2_patient_folders`).

    Raises:
        InputNotFoundError: ``root`` is not a folder, or holds neither patient folders
            nor MRI-type folders.
        InvalidInputError: A single patient folder's name is empty, ``.`` or ``..`` (pass
            a resolved path), or two folders name one patient.

    Example:
        >>> find_task2_patients("train")  # doctest: +SKIP
        {'00000': {'FLAIR': PosixPath('train/00000/FLAIR'), ...}, ...}
    """
    from radiogenomics.io.labels import patient_key

    folder = Path(root)
    patients = task2_patient_folders(folder)
    if patients:
        return {patient: _mri_type_folders(path) for patient, path in patients.items()}
    series = _mri_type_folders(folder)
    if series:
        return {patient_key(_check_patient_name(folder.name, folder)): series}
    raise InputNotFoundError(
        "found neither patient folders (all-digit names such as 00000) nor MRI-type folders "
        f"({', '.join(MRI_TYPES)}); pass a Task 2 split folder (train/ or test/) or one "
        "patient folder.",
        path=folder,
    )
