"""Synthetic Kaggle Task 2 patients and cohorts written as DICOM."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pydicom
import pytest
from sklearn.metrics import roc_auc_score

from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.io.dicom import MRI_TYPES, find_task2_patients, read_dicom_series
from radiogenomics.testing.synthetic_dicom import (
    SyntheticTask2Patient,
    make_task2_patient,
    standard_series_affine,
    write_dicom_series,
    write_task2_cohort,
)


def test_make_task2_patient_is_deterministic() -> None:
    a = make_task2_patient("00001", label=1, seed=7, size=24)
    b = make_task2_patient("00001", label=1, seed=7, size=24)
    c = make_task2_patient("00001", label=1, seed=8, size=24)
    assert tuple(a.series) == MRI_TYPES
    for mri_type in MRI_TYPES:
        np.testing.assert_array_equal(a.series[mri_type].pixels, b.series[mri_type].pixels)
        np.testing.assert_array_equal(a.series[mri_type].affine, b.series[mri_type].affine)
        assert a.series[mri_type].plane == b.series[mri_type].plane
    assert any(
        a.series[t].pixels.shape != c.series[t].pixels.shape
        or not np.array_equal(a.series[t].pixels, c.series[t].pixels)
        for t in MRI_TYPES
    )


def test_patient_series_shapes_planes_and_pixel_grid() -> None:
    patient = make_task2_patient("00012", label=0, seed=1, size=32, rescale_slope=2.0)
    assert isinstance(patient, SyntheticTask2Patient)
    assert (patient.patient_id, patient.label) == ("00012", 0)
    for mri_type, series in patient.series.items():
        n_slices, rows, columns = series.pixels.shape
        assert (rows, columns) == (32, 32)
        assert 32 // 4 <= n_slices <= 32 // 2
        assert series.mri_type == mri_type
        assert series.masks.shape == (2, *series.pixels.shape)
        assert series.masks.dtype == np.uint8
        assert series.masks[0].any(), "the tumor is visible"
        assert np.all(series.masks[1] <= series.masks[0]), "ET lies inside WT"
        stored = (series.pixels - series.rescale_intercept) / series.rescale_slope
        np.testing.assert_array_equal(stored, np.round(stored))
        assert stored.min() >= 0
        assert series.pixels.max() > 100, "a head is there"


def test_planes_and_slice_counts_vary_across_patients() -> None:
    patients = [make_task2_patient(f"{i:05d}", label=i % 2, seed=i, size=16) for i in range(6)]
    planes = {s.plane for p in patients for s in p.series.values()}
    counts = {s.pixels.shape[0] for p in patients for s in p.series.values()}
    assert planes == {"axial", "coronal", "sagittal"}
    assert len(counts) > 1


def test_planes_and_slices_can_be_fixed() -> None:
    patient = make_task2_patient(
        "00003",
        label=1,
        seed=2,
        size=16,
        n_slices=5,
        planes={"FLAIR": "sagittal"},
        mri_types=("FLAIR", "T2w"),
    )
    assert tuple(patient.series) == ("FLAIR", "T2w")
    assert patient.series["FLAIR"].plane == "sagittal"
    assert patient.series["T2w"].plane == "axial"
    assert {s.pixels.shape[0] for s in patient.series.values()} == {5}
    every = make_task2_patient("00003", label=1, seed=2, size=16, planes="coronal")
    assert {s.plane for s in every.series.values()} == {"coronal"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"label": 2}, "label"),
        ({"mri_types": ("DWI",)}, "mri_types"),
        ({"planes": "oblique"}, "planes"),
        ({"size": 2}, "size"),
    ],
)
def test_make_task2_patient_rejects_bad_options(kwargs: dict[str, object], match: str) -> None:
    options: dict[str, object] = {"label": 0, "seed": 0, "size": 16, **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        make_task2_patient("00001", **options)  # type: ignore[arg-type]


def _core_contrast(patient: SyntheticTask2Patient, mri_type: str) -> float:
    """Intensity at the tumor's centre (centroid of the enhancing rim) over the head's."""
    series = patient.series[mri_type]
    centre = np.rint(np.argwhere(series.masks[1] > 0).mean(axis=0)).astype(int)
    head = series.pixels[series.pixels > 0]
    return float(series.pixels[tuple(centre)] / np.median(head))


@pytest.mark.parametrize(
    ("mri_type", "brighter"), [("FLAIR", True), ("T1w", True), ("T1wCE", True), ("T2w", False)]
)
def test_label_is_learnable_from_the_image(mri_type: str, brighter: bool) -> None:
    # Methylated (label 1) cores differ from unmethylated ones in every MRI type:
    # brighter in FLAIR/T1w/T1wCE, darker in T2w.
    labels = [i % 2 for i in range(16)]
    patients = [
        make_task2_patient(
            f"{i:05d}", label=label, seed=100 + i, size=32, n_slices=32, mri_types=(mri_type,)
        )
        for i, label in enumerate(labels)
    ]
    scores = [_core_contrast(p, mri_type) for p in patients]
    auc = roc_auc_score(labels, scores)
    assert auc >= 0.95 if brighter else auc <= 0.05


def test_write_dicom_series_files_are_valid_mr_images(tmp_path: Path) -> None:
    volume = np.full((4, 3, 5), 90.0, dtype=np.float32)
    affine = standard_series_affine("coronal", shape=(4, 3, 5), spacing=(1.0, 1.0, 2.0))
    files = write_dicom_series(
        volume,
        affine,
        tmp_path / "s",
        patient_id="00017",
        mri_type="T2w",
        extra_tags={"SeriesNumber": 7},
    )
    assert len(files) == 4
    names = [p.name for p in files]
    assert sorted(names) == [f"Image-{n}.dcm" for n in range(1, 5)]
    ds = pydicom.dcmread(files[0], force=False)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == pydicom.uid.MRImageStorage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert (ds.PatientID, ds.SeriesDescription, ds.SeriesNumber) == ("00017", "T2w", 7)
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.pixel_array.dtype == np.uint16
    assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (2.0, -10.0)
    assert int(ds.pixel_array[0, 0]) == 50  # (90 + 10) / 2
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in files}) == 4


def test_write_dicom_series_numbering(tmp_path: Path) -> None:
    volume = np.zeros((5, 2, 2), dtype=np.float32)
    affine = standard_series_affine("axial", shape=(5, 2, 2))
    plain = write_dicom_series(volume, affine, tmp_path / "a", shuffle_numbers=False)
    assert [p.name for p in plain] == [f"Image-{n}.dcm" for n in range(1, 6)]
    chosen = write_dicom_series(volume, affine, tmp_path / "b", numbers=[10, 3, 7, 1, 2])
    assert [p.name for p in chosen] == [f"Image-{n}.dcm" for n in (10, 3, 7, 1, 2)]
    assert [int(pydicom.dcmread(p).InstanceNumber) for p in chosen] == [10, 3, 7, 1, 2]
    with pytest.raises(ConfigurationError, match="distinct"):
        write_dicom_series(volume, affine, tmp_path / "c", numbers=[1, 1, 2, 3, 4])


def test_write_dicom_series_rejects_bad_inputs(tmp_path: Path) -> None:
    volume = np.zeros((3, 2, 2), dtype=np.float32)
    affine = standard_series_affine("axial", shape=(3, 2, 2))
    write_dicom_series(volume, affine, tmp_path / "used")
    with pytest.raises(InvalidInputError, match="already holds files"):
        write_dicom_series(volume, affine, tmp_path / "used")
    flipped = affine.copy()
    flipped[:, 2] *= -1
    with pytest.raises(GeometryError, match="slice normal"):
        write_dicom_series(volume, flipped, tmp_path / "flipped")
    with pytest.raises(InvalidInputError, match="cannot be stored"):
        write_dicom_series(volume - 100.0, affine, tmp_path / "negative")
    with pytest.raises(InvalidInputError, match="finite"):
        write_dicom_series(volume * np.nan, affine, tmp_path / "nan")
    with pytest.raises(ConfigurationError, match="unknown DICOM keywords"):
        write_dicom_series(volume, affine, tmp_path / "tags", extra_tags={"NotATag": 1})
    with pytest.raises(ConfigurationError, match="per-slice"):
        write_dicom_series(
            volume, affine, tmp_path / "tags2", extra_tags={"ImagePositionPatient": [0, 0, 0]}
        )
    assert not (tmp_path / "flipped").exists(), "nothing written on error"


def test_write_dicom_series_appends_a_second_series(tmp_path: Path) -> None:
    volume = np.zeros((3, 2, 2), dtype=np.float32)
    affine = standard_series_affine("axial", shape=(3, 2, 2))
    first = write_dicom_series(volume, affine, tmp_path / "s", shuffle_numbers=False)
    with pytest.raises(InvalidInputError, match="already exist") as info:
        write_dicom_series(volume, affine, tmp_path / "s", append=True, numbers=[4, 2, 5])
    assert info.value.path == tmp_path / "s" / "Image-2.dcm"
    assert len(list((tmp_path / "s").iterdir())) == 3, "nothing written on a clash"
    again = write_dicom_series(volume, affine, tmp_path / "s", append=True, numbers=[4, 5, 6])
    same = write_dicom_series(
        volume, affine, tmp_path / "s", append=True, numbers=[7, 8, 9], seed=0
    )
    other = write_dicom_series(
        volume, affine, tmp_path / "s", append=True, numbers=[10, 11, 12], seed=1
    )
    uid = [str(pydicom.dcmread(f[0]).SeriesInstanceUID) for f in (first, again, same, other)]
    assert uid[0] == uid[1] == uid[2] != uid[3]


@pytest.mark.parametrize("tilt", [15.0, -30.0])
def test_write_dicom_series_gantry_tilt_moves_slices_off_the_normal(
    tmp_path: Path, tilt: float
) -> None:
    volume = np.zeros((4, 2, 3), dtype=np.float32)
    affine = standard_series_affine("sagittal", shape=(4, 2, 3), spacing=(1.0, 1.0, 2.5))
    flat = write_dicom_series(volume, affine, tmp_path / "flat")
    tilted = write_dicom_series(volume, affine, tmp_path / "tilted", gantry_tilt=tilt)

    def position(path: Path) -> np.ndarray:
        return np.array([float(v) for v in pydicom.dcmread(path).ImagePositionPatient])

    ds = pydicom.dcmread(tilted[0])
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    normal = np.cross(cosines[:3], cosines[3:])
    for k, (a, b) in enumerate(zip(flat, tilted, strict=True)):
        step = position(b) - position(a)
        expected = k * 2.5 * np.tan(np.radians(tilt)) * cosines[3:]
        np.testing.assert_allclose(step, expected, atol=1e-9)
        assert float(pydicom.dcmread(b).SliceLocation) == pytest.approx(position(b) @ normal)
    with pytest.raises(ConfigurationError, match="gantry_tilt=90"):
        write_dicom_series(volume, affine, tmp_path / "x", gantry_tilt=90.0)


def test_write_dicom_series_does_not_mutate_inputs(tmp_path: Path) -> None:
    volume = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 2
    affine = standard_series_affine("sagittal", shape=(2, 3, 4))
    before = volume.copy(), affine.copy()
    write_dicom_series(volume, affine, tmp_path / "s", monochrome1=True)
    np.testing.assert_array_equal(volume, before[0])
    np.testing.assert_array_equal(affine, before[1])


def test_written_patient_reads_back_exactly(tmp_path: Path) -> None:
    patient = make_task2_patient("00021", label=1, seed=4, size=16)
    for mri_type, series in patient.series.items():
        folder = tmp_path / mri_type
        write_dicom_series(series.pixels, series.affine, folder, mri_type=mri_type)
        read = read_dicom_series(folder)
        np.testing.assert_array_equal(read.pixels, series.pixels)
        np.testing.assert_allclose(read.affine, series.affine, atol=1e-8)
        assert read.plane == series.plane


def test_write_task2_cohort_layout_and_labels(tmp_path: Path) -> None:
    root = write_task2_cohort(tmp_path / "kaggle", n_patients=5, seed=3, size=12, n_slices=3)
    assert root == tmp_path / "kaggle"
    with open(root / "train_labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["BraTS21ID", "MGMT_value"]
    ids = [r[0] for r in rows[1:]]
    labels = [int(r[1]) for r in rows[1:]]
    assert all(len(i) == 5 and i.isdigit() for i in ids)
    assert ids == sorted(set(ids))
    assert sorted(labels) == [0, 0, 0, 1, 1]
    found = find_task2_patients(root / "train")
    assert list(found) == ids
    for patient_id, series in found.items():
        assert tuple(series) == MRI_TYPES
        files = sorted((series["FLAIR"]).iterdir())
        assert [p.name for p in files] == ["Image-1.dcm", "Image-2.dcm", "Image-3.dcm"]
        assert read_dicom_series(series["FLAIR"]).patient_id == patient_id


def test_write_task2_cohort_is_deterministic(tmp_path: Path) -> None:
    a = write_task2_cohort(tmp_path / "a", n_patients=2, seed=9, size=10, n_slices=2)
    b = write_task2_cohort(tmp_path / "b", n_patients=2, seed=9, size=10, n_slices=2)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_write_task2_cohort_test_split_and_bad_options(tmp_path: Path) -> None:
    root = write_task2_cohort(
        tmp_path, n_patients=1, seed=0, size=10, n_slices=2, split="test", mri_types=("T1wCE",)
    )
    assert (root / "test_labels.csv").is_file()
    (patient,) = (root / "test").iterdir()
    assert [p.name for p in patient.iterdir()] == ["T1wCE"]
    with pytest.raises(ConfigurationError):
        write_task2_cohort(tmp_path, n_patients=0, seed=0)
    with pytest.raises(ConfigurationError, match="split"):
        write_task2_cohort(tmp_path, n_patients=1, seed=0, split="../x")


def test_random_labels_keep_the_labels_and_break_their_link_to_the_images(
    tmp_path: Path,
) -> None:
    options = {"n_patients": 8, "seed": 3, "size": 32, "n_slices": 8, "mri_types": ("FLAIR",)}
    learnable = write_task2_cohort(tmp_path / "a", **options)  # type: ignore[arg-type]
    shuffled = write_task2_cohort(tmp_path / "b", random_labels=True, **options)  # type: ignore[arg-type]
    labels = (learnable / "train_labels.csv").read_text()
    assert (shuffled / "train_labels.csv").read_text() == labels
    same = [
        np.array_equal(
            read_dicom_series(learnable / "train" / p / "FLAIR").pixels,
            read_dicom_series(shuffled / "train" / p / "FLAIR").pixels,
        )
        for p in find_task2_patients(learnable / "train")
    ]
    # Patients whose random label matches keep their images; the others show the other label.
    assert 0 < sum(same) < len(same)
