"""Task 2 patients on disk: finding each patient's series and reading their pixels.

A Task 2 split folder (``train/``, ``test/``) holds one folder per patient, and each
patient one series per MRI type: a DICOM folder named by the type (``FLAIR/``), or a
NIfTI volume ``<MRI type>.nii.gz`` in the layout ``radiogenomics dicom-to-nifti``
writes. :func:`find_series_inputs` finds them; :func:`load_series_pixels` reads one in
geometric order. Both stages of the library use them (preparation and prediction).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import GeometryError, InputNotFoundError, RadiogenomicsError
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.io.labels import KNOWN_BAD_SERIES, normalize_patient_id

__all__ = ["find_series_inputs", "is_excluded_series", "load_series_pixels"]

_NIFTI_SUFFIXES = (".nii.gz", ".nii")


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
