"""Reading MRI data: BraTS NIfTI cases, Kaggle DICOM series, label files."""

from radiogenomics.io.dicom import (
    MRI_TYPES,
    DicomSeries,
    find_task2_patients,
    plane_from_orientation,
    read_dicom_series,
    series_to_nifti,
)
from radiogenomics.io.labels import (
    KNOWN_BAD_SERIES,
    drop_known_bad,
    exclude_task2_overlap,
    is_known_bad,
    normalize_patient_id,
    read_folds,
    read_labels,
    task2_patient_ids,
)
from radiogenomics.io.nifti import (
    MODALITIES,
    NAMING,
    BratsCase,
    LoadedCase,
    find_brats_cases,
    load_case,
    read_nifti,
    volume_records,
    write_nifti,
)

__all__ = [
    "KNOWN_BAD_SERIES",
    "MODALITIES",
    "MRI_TYPES",
    "NAMING",
    "BratsCase",
    "DicomSeries",
    "LoadedCase",
    "drop_known_bad",
    "exclude_task2_overlap",
    "find_brats_cases",
    "find_task2_patients",
    "is_known_bad",
    "load_case",
    "normalize_patient_id",
    "plane_from_orientation",
    "read_dicom_series",
    "read_folds",
    "read_labels",
    "read_nifti",
    "series_to_nifti",
    "task2_patient_ids",
    "volume_records",
    "write_nifti",
]
