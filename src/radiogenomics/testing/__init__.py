"""Public synthetic data for tests, demos and benchmarks."""

from radiogenomics.testing.synthetic import SyntheticCase, make_brats_case, write_brats_cohort
from radiogenomics.testing.synthetic_dicom import (
    SyntheticSeries,
    SyntheticTask2Patient,
    make_task2_patient,
    standard_series_affine,
    write_dicom_series,
    write_task2_cohort,
)
from radiogenomics.testing.synthetic_frames import (
    make_synthetic_frames,
    write_synthetic_frame_store,
)

__all__ = [
    "SyntheticCase",
    "SyntheticSeries",
    "SyntheticTask2Patient",
    "make_brats_case",
    "make_synthetic_frames",
    "make_task2_patient",
    "standard_series_affine",
    "write_brats_cohort",
    "write_dicom_series",
    "write_synthetic_frame_store",
    "write_task2_cohort",
]
