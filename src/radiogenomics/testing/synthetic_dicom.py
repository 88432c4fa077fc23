"""Synthetic Kaggle Task 2 patients written as real DICOM series.

:func:`make_task2_patient` builds one patient in memory: a head (scalp, brain, ventricles)
with a tumor (enhancing rim, core, surrounding edema) sampled in each MRI type's own
acquisition plane (axial, coronal or sagittal, chosen by seed) with its own slice count.
The MGMT label is tied to a learnable image feature: in every MRI type, a methylated
(label 1) tumor has a core whose intensity differs clearly from an unmethylated
(label 0) one's (bright in T1w/T1wCE/FLAIR, dark in T2w, the reverse for label 0) and a
stripe texture, so a classifier can reach a high AUC.

:func:`write_dicom_series` writes one series as single-frame DICOM files and is the exact
inverse of :func:`~radiogenomics.io.dicom.read_dicom_series`; :func:`write_task2_cohort`
writes a Kaggle-like ``train/<id>/<MRI type>/Image-N.dcm`` tree with
``train_labels.csv``. Everything is deterministic given the seed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.records import PLANES, Plane

if TYPE_CHECKING:
    from pydicom.dataset import Dataset, FileMetaDataset

__all__ = [
    "SyntheticSeries",
    "SyntheticTask2Patient",
    "make_task2_patient",
    "standard_series_affine",
    "write_dicom_series",
    "write_task2_cohort",
]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# Row and column direction cosines (LPS) of each plane, as scanners usually store them.
_PLANE_ORIENTATION: dict[Plane, tuple[float, float, float, float, float, float]] = {
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "coronal": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}

_UINT16_MAX = 65535
_FIELD_OF_VIEW_MM = 240.0
_SLAB_MM = 180.0

# Tissue intensities (arbitrary units) per MRI type:
# scalp, brain, csf, edema, enhancing rim, core if label 0, core if label 1.
_CONTRAST: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "FLAIR": (0.50, 0.45, 0.10, 0.85, 0.70, 0.20, 0.80),
    "T1w": (0.90, 0.55, 0.15, 0.40, 0.45, 0.15, 0.70),
    "T1wCE": (0.90, 0.55, 0.15, 0.40, 1.00, 0.15, 0.75),
    "T2w": (0.60, 0.40, 1.00, 0.80, 0.65, 0.95, 0.35),
}


@dataclass(frozen=True, repr=False, eq=False)
class SyntheticSeries:
    """One synthetic MRI series, in the layout that ``read_dicom_series`` returns.

    Arrays are read-only views; see :func:`~radiogenomics.io.dicom.read_dicom_series`.

    Attributes:
        mri_type: The MRI type (``"FLAIR"``, ``"T1w"``, ``"T1wCE"``, ``"T2w"``).
        plane: The acquisition plane.
        pixels: Intensities of shape (S, R, C) and dtype float32, every value
            representable as ``rescale_slope * k + rescale_intercept`` with ``k`` a
            uint16, so writing and reading it back is exact.
        affine: The 4x4 RAS+ affine of the (C, R, S) array ``pixels.transpose(2, 1, 0)``.
        masks: Tumor masks of shape (2, S, R, C) and dtype uint8: whole tumor (WT) and
            enhancing tumor (ET).
        rescale_slope: The slope to write the series with.
        rescale_intercept: The intercept to write the series with.
    """

    mri_type: str
    plane: Plane
    pixels: npt.NDArray[np.float32]
    affine: npt.NDArray[np.float64]
    masks: npt.NDArray[np.uint8]
    rescale_slope: float
    rescale_intercept: float

    def __post_init__(self) -> None:
        for name in ("pixels", "affine", "masks"):
            view = getattr(self, name).view()
            view.flags.writeable = False
            object.__setattr__(self, name, view)

    def __repr__(self) -> str:
        return (
            f"SyntheticSeries(mri_type={self.mri_type!r}, plane={self.plane!r}, "
            f"shape={self.pixels.shape})"
        )


@dataclass(frozen=True, repr=False, eq=False)
class SyntheticTask2Patient:
    """One synthetic Task 2 patient: an MGMT label and one series per MRI type.

    Attributes:
        patient_id: The 5-digit zero-padded identifier (``"00042"``).
        label: The MGMT promoter methylation label, 0 or 1.
        series: The series, keyed by MRI type, in :data:`~radiogenomics.io.dicom.MRI_TYPES` order.
    """

    patient_id: str
    label: int
    series: Mapping[str, SyntheticSeries]

    def __repr__(self) -> str:
        planes = ", ".join(f"{k}={v.plane}" for k, v in self.series.items())
        return (
            f"SyntheticTask2Patient(patient_id={self.patient_id!r}, label={self.label}, {planes})"
        )


def standard_series_affine(
    plane: Plane,
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    center: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> npt.NDArray[np.float64]:
    """The RAS+ affine of a series acquired in a standard (non-oblique) plane.

    The direction cosines are the usual scanner ones (LPS): axial rows along +x and
    columns along +y; coronal rows along +x and columns along -z; sagittal rows along +y
    and columns along -z. The affine is in the form
    :func:`~radiogenomics.io.dicom.read_dicom_series` returns:
    for the (C, R, S) array, the third column is the slice normal (row x column
    cosines) times the slice spacing.

    Args:
        plane: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        shape: The ``(S, R, C)`` shape of the series' pixels.
        spacing: ``(row spacing, column spacing, slice spacing)`` in mm.
        center: The RAS+ world point (mm) at the centre of the volume.

    Returns:
        A 4x4 float64 affine.

    Raises:
        ConfigurationError: ``plane`` is not a plane name or a spacing is not positive.
    """
    check_choice("plane", plane, PLANES)
    for name, value in zip(
        ("row spacing", "column spacing", "slice spacing"), spacing, strict=True
    ):
        check_range(name, value, low=0.0, low_inclusive=False)
    cosines = np.asarray(_PLANE_ORIENTATION[plane], dtype=np.float64)
    row_dir, col_dir = cosines[:3], cosines[3:]
    normal = np.cross(row_dir, col_dir)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * spacing[1]
    lps[:3, 1] = col_dir * spacing[0]
    lps[:3, 2] = normal * spacing[2]
    n_slices, rows, columns = shape
    middle = np.array([(columns - 1) / 2, (rows - 1) / 2, (n_slices - 1) / 2])
    center_lps = _LPS_TO_RAS[:3, :3] @ np.asarray(center, dtype=np.float64)
    lps[:3, 3] = center_lps - lps[:3, :3] @ middle
    return _LPS_TO_RAS @ lps


_PIXEL_DATA = 0x7FE00010
_PER_SLICE_TAGS = frozenset(
    {"SOPInstanceUID", "InstanceNumber", "ImagePositionPatient", "SliceLocation", "PixelData"}
)


def _encode_elements(ds: Dataset) -> dict[int, bytes]:
    """Each element of ``ds`` encoded as Explicit VR Little Endian, keyed by tag."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    encoded: dict[int, bytes] = {}
    for element in ds:
        buffer = DicomBytesIO()
        buffer.is_little_endian = True
        buffer.is_implicit_VR = False
        write_data_element(buffer, element)
        encoded[int(element.tag)] = buffer.getvalue()
    return encoded


def _encode_file_meta(meta: FileMetaDataset) -> bytes:
    """The File Meta Information group, with its group length, as bytes."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    write_file_meta_info(buffer, meta, enforce_standard=True)
    data: bytes = buffer.getvalue()
    return data


def _format_ds(value: float) -> str:
    from pydicom.valuerep import format_number_as_ds

    text: str = format_number_as_ds(float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0
    return text


def _geometry_from_affine(
    affine: npt.NDArray[np.float64], n_slices: int
) -> tuple[list[float], tuple[float, float], float, npt.NDArray[np.float64]]:
    """Direction cosines, pixel spacing, slice spacing and LPS slice positions."""
    lps = _LPS_TO_RAS @ affine
    col_step, row_step, slice_step = lps[:3, 0], lps[:3, 1], lps[:3, 2]
    col_spacing = float(np.linalg.norm(col_step))
    row_spacing = float(np.linalg.norm(row_step))
    slice_spacing = float(np.linalg.norm(slice_step))
    if min(col_spacing, row_spacing, slice_spacing) <= 0:
        raise GeometryError(f"the affine has a zero-length axis:\n{affine}")
    row_dir, col_dir = col_step / col_spacing, row_step / row_spacing
    normal = np.cross(row_dir, col_dir)
    if (
        abs(float(row_dir @ col_dir)) > 1e-6
        or not np.allclose(slice_step / slice_spacing, normal, atol=1e-6)
        or not np.allclose(affine[3], [0.0, 0.0, 0.0, 1.0])
    ):
        raise GeometryError(
            "the affine is not in the form read_dicom_series returns: its first two "
            "columns must be orthogonal and its third column must point along their cross "
            "product (in LPS), the slice normal; build it with standard_series_affine. "
            f"Got:\n{affine}"
        )
    positions = lps[:3, 3][None, :] + np.arange(n_slices)[:, None] * slice_step[None, :]
    cosines = [*row_dir.tolist(), *col_dir.tolist()]
    return cosines, (row_spacing, col_spacing), slice_spacing, positions


def _stored_values(
    pixels: npt.NDArray[Any], *, slope: float, intercept: float, monochrome1: bool
) -> npt.NDArray[np.uint16]:
    values = np.asarray(pixels, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise InvalidInputError("pixels must be finite; got NaN or infinite values.")
    if monochrome1:
        values = (float(values.max()) + float(values.min())) - values
    stored = np.rint((values - intercept) / slope)
    if stored.min() < 0 or stored.max() > _UINT16_MAX:
        low, high = intercept, slope * _UINT16_MAX + intercept
        raise InvalidInputError(
            f"pixels in [{values.min():g}, {values.max():g}] cannot be stored as uint16 "
            f"with RescaleSlope={slope:g} and RescaleIntercept={intercept:g}; expected "
            f"values in [{min(low, high):g}, {max(low, high):g}]. Change the slope or "
            "intercept."
        )
    return stored.astype(np.uint16)


def write_dicom_series(
    pixels: npt.ArrayLike,
    affine: npt.ArrayLike,
    folder: str | os.PathLike[str],
    *,
    rescale_slope: float = 2.0,
    rescale_intercept: float = -10.0,
    shuffle_numbers: bool = True,
    numbers: Sequence[int] | None = None,
    seed: int = 0,
    monochrome1: bool = False,
    patient_id: str = "00000",
    mri_type: str | None = None,
    extra_tags: Mapping[str, object] | None = None,
    append: bool = False,
    gantry_tilt: float = 0.0,
) -> list[Path]:
    """Write a volume as one single-frame MR DICOM file per slice, ``Image-N.dcm``.

    This is the inverse of :func:`~radiogenomics.io.dicom.read_dicom_series`: reading
    the folder back returns ``pixels`` (exactly, when every value is representable as
    ``rescale_slope * k + rescale_intercept`` for an integer ``k`` in [0, 65535]; other
    values are rounded to the nearest representable one) and ``affine`` (to the
    precision of DICOM decimal strings, about 1e-10 relative). Files are Explicit VR
    Little Endian, MR Image Storage, uint16 with the given rescale tags.

    Two options write the series that the reader refuses, to test that it does:
    ``append`` adds a series to a folder that already holds one (a folder of two series),
    and ``gantry_tilt`` moves the slices sideways (positions off the slice normal).

    The UIDs derive from ``patient_id``, ``mri_type``, ``seed`` and the folder name, so
    a series appended with another ``seed`` (or ``mri_type``) gets its own
    ``SeriesInstanceUID``, and one appended with the same values shares it.

    Args:
        pixels: Intensities of shape (S, R, C): slices in geometric order, then rows,
            then columns (the layout of :attr:`~radiogenomics.io.dicom.DicomSeries.pixels`).
        affine: The 4x4 RAS+ affine of the (C, R, S) array, in the form
            :func:`~radiogenomics.io.dicom.read_dicom_series` returns (see
            :func:`standard_series_affine`):
            orthogonal first two columns, third column along the slice normal.
        folder: The series folder to create; it must not hold files already.
        rescale_slope: The ``RescaleSlope`` tag, non-zero.
        rescale_intercept: The ``RescaleIntercept`` tag.
        shuffle_numbers: Number the files (and ``InstanceNumber``) in a random order
            drawn from ``seed`` rather than in geometric order, as Task 2 data can be.
        numbers: The file number of each slice, in geometric order; overrides
            ``shuffle_numbers``. Must be distinct non-negative integers.
        seed: Seeds the shuffled numbering and the UIDs.
        monochrome1: Store the series as ``MONOCHROME1`` (inverted as
            ``max + min - x`` over the series, which the reader undoes).
        patient_id: The ``PatientID`` tag.
        mri_type: The ``SeriesDescription`` tag, if given.
        extra_tags: More tags to set on every file, by DICOM keyword
            (``{"SliceThickness": "5"}``).
        append: Write into a folder that already holds files; ``numbers`` must then
            avoid the existing file names.
        gantry_tilt: Degrees, in (-90, 90): slice ``k`` is moved by ``k x slice spacing
            x tan(gantry_tilt)`` along the column direction, so the positions step at
            this angle to the slice normal (as a CT series acquired with a tilted
            gantry) while ``ImageOrientationPatient`` and the affine's rotation stay.
            Such a series does not read back (the reader refuses tilts of more than a
            tenth of a pixel).

    Returns:
        The written files, in geometric order (slice 0 first).

    Raises:
        GeometryError: ``pixels`` is not 3D or ``affine`` is not in the expected form.
        InvalidInputError: ``folder`` already holds files (without ``append``) or a file
            of the same name, or ``pixels`` cannot be stored with the given slope and
            intercept.
        ConfigurationError: ``numbers``, ``rescale_slope``, ``extra_tags`` or
            ``gantry_tilt`` is invalid.
    """
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        PYDICOM_IMPLEMENTATION_UID,
        ExplicitVRLittleEndian,
        MRImageStorage,
        generate_uid,
    )

    volume = np.asarray(pixels)
    matrix = np.asarray(affine, dtype=np.float64)
    if volume.ndim != 3 or 0 in volume.shape:
        raise GeometryError(f"expected non-empty pixels of shape (S, R, C); got {volume.shape}.")
    if matrix.shape != (4, 4):
        raise GeometryError(f"expected a 4x4 affine; got shape {matrix.shape}.")
    if rescale_slope == 0 or not np.isfinite(rescale_slope) or not np.isfinite(rescale_intercept):
        raise ConfigurationError(
            f"rescale_slope={rescale_slope!r} must be finite and non-zero and "
            f"rescale_intercept={rescale_intercept!r} finite."
        )
    n_slices, rows, columns = (int(v) for v in volume.shape)
    if numbers is None:
        order = np.arange(1, n_slices + 1)
        if shuffle_numbers:
            order = np.random.default_rng(seed).permutation(order)
        file_numbers = [int(v) for v in order]
    else:
        file_numbers = [int(v) for v in numbers]
        if len(file_numbers) != n_slices or len(set(file_numbers)) != n_slices:
            raise ConfigurationError(
                f"numbers must hold {n_slices} distinct integers, one per slice; got {numbers!r}."
            )
        if min(file_numbers) < 0:
            raise ConfigurationError(f"numbers must be non-negative; got {numbers!r}.")
    tags = dict(extra_tags or {})
    unknown = sorted(k for k in tags if tag_for_keyword(k) is None)
    if unknown:
        raise ConfigurationError(f"extra_tags has unknown DICOM keywords: {unknown}.")
    per_slice = sorted(_PER_SLICE_TAGS.intersection(tags))
    if per_slice:
        raise ConfigurationError(
            f"extra_tags cannot set the per-slice tags {per_slice}; edit the files after "
            "writing them instead."
        )

    check_range(
        "gantry_tilt", gantry_tilt, low=-90.0, high=90.0, low_inclusive=False, high_inclusive=False
    )
    cosines, (row_spacing, col_spacing), slice_spacing, positions = _geometry_from_affine(
        matrix, n_slices
    )
    normal = np.cross(np.asarray(cosines[:3]), np.asarray(cosines[3:]))
    if gantry_tilt:
        sideways = slice_spacing * np.tan(np.radians(gantry_tilt)) * np.asarray(cosines[3:])
        positions = positions + np.arange(n_slices)[:, None] * sideways[None, :]
    stored = _stored_values(
        volume, slope=rescale_slope, intercept=rescale_intercept, monochrome1=monochrome1
    )

    out = Path(folder)
    if not append and out.exists() and any(out.iterdir()):
        raise InvalidInputError(
            "the series folder already holds files; write each series to a new folder "
            "(or pass append=True to add a second series).",
            path=out,
        )
    clashes = [out / f"Image-{n}.dcm" for n in file_numbers if (out / f"Image-{n}.dcm").exists()]
    if clashes:
        raise InvalidInputError(
            f"{len(clashes)} file(s) to write already exist; pass numbers that avoid the "
            "existing Image-N.dcm names.",
            path=clashes[0],
        )
    out.mkdir(parents=True, exist_ok=True)

    series_key = f"{patient_id}/{mri_type}/{seed}/{out.name}"
    study_uid = generate_uid(entropy_srcs=[f"study/{patient_id}"])
    series_uid = generate_uid(entropy_srcs=[f"series/{series_key}"])
    frame_uid = generate_uid(entropy_srcs=[f"frame/{patient_id}"])

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"image/{series_key}/0"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    # The series-wide elements, encoded once: pydicom's writer costs about 0.1 ms per
    # element, and a cohort writes hundreds of files.
    template = Dataset()
    template.SOPClassUID = MRImageStorage
    template.StudyInstanceUID = study_uid
    template.SeriesInstanceUID = series_uid
    template.FrameOfReferenceUID = frame_uid
    template.Modality = "MR"
    template.PatientID = patient_id
    template.PatientName = patient_id
    if mri_type is not None:
        template.SeriesDescription = mri_type
    template.SeriesNumber = 1
    template.ImageOrientationPatient = [_format_ds(v) for v in cosines]
    template.PixelSpacing = [_format_ds(row_spacing), _format_ds(col_spacing)]
    template.SliceThickness = _format_ds(slice_spacing)
    template.SpacingBetweenSlices = _format_ds(slice_spacing)
    template.Rows = rows
    template.Columns = columns
    template.SamplesPerPixel = 1
    template.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    template.BitsAllocated = 16
    template.BitsStored = 16
    template.HighBit = 15
    template.PixelRepresentation = 0
    template.RescaleSlope = _format_ds(rescale_slope)
    template.RescaleIntercept = _format_ds(rescale_intercept)
    template.RescaleType = "US"
    for keyword, value in tags.items():
        setattr(template, keyword, value)
    constant = _encode_elements(template)
    little_endian = stored.astype("<u2", copy=False)
    written: list[Path] = []
    for index in range(n_slices):
        number = file_numbers[index]
        path = out / f"Image-{number}.dcm"
        sop_uid = generate_uid(entropy_srcs=[f"image/{series_key}/{index}"])
        meta.MediaStorageSOPInstanceUID = sop_uid
        varying = Dataset()
        varying.SOPInstanceUID = sop_uid
        varying.InstanceNumber = number
        varying.ImagePositionPatient = [_format_ds(v) for v in positions[index]]
        varying.SliceLocation = _format_ds(float(positions[index] @ normal))
        varying.add_new(_PIXEL_DATA, "OW", little_endian[index].tobytes())
        elements = {**constant, **_encode_elements(varying)}
        body = b"".join(elements[tag] for tag in sorted(elements))
        path.write_bytes(b"\0" * 128 + b"DICM" + _encode_file_meta(meta) + body)
        written.append(path)
    return written


def _phantom_parameters(rng: np.random.Generator) -> dict[str, Any]:
    """Per-patient anatomy: head size and position, tumor position and size (RAS, mm)."""
    brain_axes = np.array([68.0, 84.0, 62.0]) * rng.uniform(0.9, 1.05)
    brain_center = rng.uniform(-6.0, 6.0, size=3)
    tumor_radius = rng.uniform(14.0, 22.0)
    # Somewhere in the brain, away from its edge and from the midline ventricles.
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tumor_center = brain_center + direction * brain_axes * rng.uniform(0.3, 0.55)
    return {
        "brain_axes": brain_axes,
        "brain_center": brain_center,
        "tumor_center": tumor_center,
        "tumor_radius": tumor_radius,
        "stripe_direction": direction,
    }


_BACKGROUND, _SCALP, _BRAIN, _CSF, _EDEMA, _RIM, _CORE = range(7)


def _tissue_map(
    affine: npt.NDArray[np.float64], shape: tuple[int, int, int], anatomy: Mapping[str, Any]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """Tissue labels of a series' voxels, and each voxel's position along the stripes.

    Returns:
        Labels of shape (S, R, C) (``_BACKGROUND`` ... ``_CORE``) and the projection (mm)
        of each voxel's RAS position on the stripe direction, of the same shape.
    """
    n_slices, rows, columns = shape
    s = np.arange(n_slices, dtype=np.float32)[:, None, None]
    r = np.arange(rows, dtype=np.float32)[None, :, None]
    c = np.arange(columns, dtype=np.float32)[None, None, :]
    world = [
        np.float32(affine[axis, 0]) * c
        + np.float32(affine[axis, 1]) * r
        + np.float32(affine[axis, 2]) * s
        + np.float32(affine[axis, 3])
        for axis in range(3)
    ]
    center, axes = anatomy["brain_center"], anatomy["brain_axes"]
    head = sum(((world[i] - center[i]) / axes[i]) ** 2 for i in range(3))
    ventricle = sum(
        ((world[i] - center[i] - offset) / half) ** 2
        for i, offset, half in zip(range(3), (0.0, 5.0, 8.0), (9.0, 28.0, 12.0), strict=True)
    )
    tumor = sum((world[i] - anatomy["tumor_center"][i]) ** 2 for i in range(3))
    radius = float(anatomy["tumor_radius"])
    labels = np.zeros(shape, dtype=np.uint8)
    labels[(head > 1.04**2) & (head <= 1.14**2)] = _SCALP
    brain = head <= 1.0
    labels[brain] = _BRAIN
    labels[brain & (ventricle <= 1.0)] = _CSF
    labels[brain & (tumor <= (1.6 * radius) ** 2)] = _EDEMA
    labels[brain & (tumor <= radius**2)] = _RIM
    labels[brain & (tumor <= (0.6 * radius) ** 2)] = _CORE
    direction = anatomy["stripe_direction"]
    along = sum(np.float32(direction[i]) * world[i] for i in range(3))
    return labels, np.broadcast_to(along, shape).astype(np.float32)


def make_task2_patient(
    patient_id: str,
    *,
    label: int,
    seed: int,
    size: int = 64,
    n_slices: int | None = None,
    mri_types: Sequence[str] = MRI_TYPES,
    planes: Plane | Mapping[str, Plane] | None = None,
    rescale_slope: float = 2.0,
    rescale_intercept: float = -10.0,
) -> SyntheticTask2Patient:
    """Build one synthetic Task 2 patient in memory.

    The same head and tumor (placed by ``seed``) is sampled in every MRI type with that
    type's tissue contrast, in its own plane and slice count, over a 240 mm field of view
    (``size`` x ``size`` pixels) and a 180 mm slab, with Gaussian noise. The label
    changes the tumor core: label 1 cores have a different brightness from label 0 cores
    in every MRI type and carry a stripe texture (period 4 pixels).

    Args:
        patient_id: The patient identifier, e.g. ``"00042"``.
        label: The MGMT label, 0 or 1.
        seed: Seeds everything (anatomy, planes, slice counts, noise).
        size: Rows and columns of every slice.
        n_slices: Slices per series; ``None`` draws a different count per series in
            ``[size // 4, size // 2]``.
        mri_types: Which MRI types to build, from :data:`~radiogenomics.io.dicom.MRI_TYPES`.
        planes: The plane of every series, or a plane per MRI type (axial for the types
            it does not name); ``None`` draws each series' plane from ``seed``.
        rescale_slope: Pixels are made representable with this ``RescaleSlope``.
        rescale_intercept: Pixels are made representable with this ``RescaleIntercept``.

    Returns:
        The patient, with one :class:`SyntheticSeries` per MRI type.

    Raises:
        ConfigurationError: An option is out of range or names an unknown MRI type or plane.
    """
    if label not in (0, 1):
        raise ConfigurationError(f"label={label!r} must be 0 or 1.")
    check_range("size", size, low=8)
    if n_slices is not None:
        check_range("n_slices", n_slices, low=1)
    if not mri_types:
        raise ConfigurationError("mri_types must name at least one MRI type.")
    for mri_type in mri_types:
        check_choice("mri_types", mri_type, MRI_TYPES)
    if rescale_slope <= 0:
        raise ConfigurationError(f"rescale_slope={rescale_slope!r} must be positive.")

    rng = np.random.default_rng(seed)
    anatomy = _phantom_parameters(rng)
    pixel_spacing = _FIELD_OF_VIEW_MM / size
    built: dict[str, SyntheticSeries] = {}
    for mri_type in [t for t in MRI_TYPES if t in mri_types]:
        if planes is None:
            plane: Plane = PLANES[int(rng.integers(len(PLANES)))]
        elif isinstance(planes, str):
            plane = planes
        else:
            plane = planes.get(mri_type, "axial")
        check_choice("planes", plane, PLANES)
        count = n_slices if n_slices is not None else int(rng.integers(size // 4, size // 2 + 1))
        count = max(int(count), 1)
        slice_spacing = round(_SLAB_MM / count, 2)
        shape = (count, size, size)
        center = tuple(float(v) for v in rng.uniform(-4.0, 4.0, size=3))
        affine = standard_series_affine(
            plane,
            shape=shape,
            spacing=(pixel_spacing, pixel_spacing, slice_spacing),
            center=(center[0], center[1], center[2]),
        )
        labels, along = _tissue_map(affine, shape, anatomy)
        scalp, brain, csf, edema, rim, core0, core1 = _CONTRAST[mri_type]
        lookup = np.array([0.0, scalp, brain, csf, edema, rim, core1 if label else core0])
        image = lookup[labels]
        if label == 1:
            core = labels == _CORE
            stripes = 0.5 + 0.5 * np.sin(along[core] * (2 * np.pi / (4 * pixel_spacing)))
            image[core] *= 0.75 + 0.5 * stripes
        image += (labels > _BACKGROUND) * rng.normal(0.0, 0.03, size=image.shape)
        gain = rng.uniform(600.0, 1200.0)
        values = np.clip(image, 0.0, None) * gain
        stored = np.clip(np.rint((values - rescale_intercept) / rescale_slope), 0, _UINT16_MAX)
        pixels = (stored * rescale_slope + rescale_intercept).astype(np.float32)
        masks = np.stack([labels >= _EDEMA, labels == _RIM]).astype(np.uint8)
        built[mri_type] = SyntheticSeries(
            mri_type=mri_type,
            plane=plane,
            pixels=pixels,
            affine=affine,
            masks=masks,
            rescale_slope=float(rescale_slope),
            rescale_intercept=float(rescale_intercept),
        )
    return SyntheticTask2Patient(
        patient_id=patient_id, label=int(label), series=MappingProxyType(built)
    )


def write_task2_cohort(
    root: str | os.PathLike[str],
    *,
    n_patients: int,
    seed: int,
    size: int = 64,
    n_slices: int | None = None,
    mri_types: Sequence[str] = MRI_TYPES,
    split: str = "train",
    random_labels: bool = False,
) -> Path:
    """Write a Kaggle-like Task 2 cohort of synthetic DICOM patients.

    Layout: ``<root>/<split>/<5-digit id>/<MRI type>/Image-N.dcm`` (file numbers
    shuffled) and ``<root>/<split>_labels.csv`` with the header ``BraTS21ID,MGMT_value``
    and zero-padded identifiers. Labels are balanced (``n_patients // 2`` ones, in a
    seeded order); identifiers are distinct, drawn from ``seed`` and sorted.

    Args:
        root: The cohort folder, created if missing.
        n_patients: How many patients to write.
        seed: Seeds identifiers, labels and every patient.
        size: Rows and columns of every slice (see :func:`make_task2_patient`).
        n_slices: Slices per series (see :func:`make_task2_patient`).
        mri_types: Which MRI types to write.
        split: The split folder name (``"train"`` or ``"test"``).
        random_labels: Break the link between images and labels: each patient's images
            show a label drawn at random (a permutation of the labels seeded by
            ``seed``, independent of the written one). Identifiers, written labels and
            every other draw are those of the default cohort, so the two can be
            compared patient for patient; no model can beat chance on this one.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: An option is out of range.
        InvalidInputError: A series folder to write already holds files.
    """
    check_range("n_patients", n_patients, low=1)
    if not split or "/" in split or "\\" in split or split in (".", ".."):
        raise ConfigurationError(f"split={split!r} must be a plain folder name.")
    rng = np.random.default_rng(seed)
    pool = max(1000, 2 * n_patients)
    ids = sorted(int(v) for v in rng.choice(pool, size=n_patients, replace=False))
    labels = np.zeros(n_patients, dtype=np.int64)
    labels[: n_patients // 2] = 1
    labels = rng.permutation(labels)
    patient_seeds = rng.integers(0, 2**31 - 1, size=n_patients)
    shown = np.random.default_rng([seed, 1]).permutation(labels) if random_labels else labels
    out = Path(root)
    split_dir = out / split
    split_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, int]] = []
    for number, label, image_label, patient_seed in zip(
        ids, labels, shown, patient_seeds, strict=True
    ):
        patient_id = f"{number:05d}"
        patient = make_task2_patient(
            patient_id,
            label=int(image_label),
            seed=int(patient_seed),
            size=size,
            n_slices=n_slices,
            mri_types=mri_types,
        )
        for mri_type, series in patient.series.items():
            write_dicom_series(
                series.pixels,
                series.affine,
                split_dir / patient_id / mri_type,
                rescale_slope=series.rescale_slope,
                rescale_intercept=series.rescale_intercept,
                seed=int(patient_seed),
                patient_id=patient_id,
                mri_type=mri_type,
            )
        rows.append((patient_id, int(label)))
    with open(out / f"{split}_labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["BraTS21ID", "MGMT_value"])
        writer.writerows(rows)
    return out
