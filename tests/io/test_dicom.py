"""Reading Kaggle Task 2 DICOM series: geometry, intensities, NIfTI export and errors."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from scipy.spatial.transform import Rotation

from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    MissingDecoderError,
    RadiogenomicsError,
)
from radiogenomics.io.dicom import (
    MRI_TYPES,
    DicomSeries,
    find_task2_patients,
    plane_from_orientation,
    read_dicom_series,
    series_to_nifti,
)
from radiogenomics.records import Plane, VolumeRecord
from radiogenomics.testing.synthetic_dicom import (
    standard_series_affine,
    write_dicom_series,
    write_task2_cohort,
)

PLANE_LIST: tuple[Plane, ...] = ("axial", "coronal", "sagittal")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
# The letter aff2axcodes gives the slice axis of each plane (either direction).
SLICE_AXIS_CODES = {"axial": {"S", "I"}, "coronal": {"A", "P"}, "sagittal": {"L", "R"}}


def grid_volume(
    shape: tuple[int, int, int], *, seed: int, slope: float = 2.0, intercept: float = -10.0
) -> npt.NDArray[np.float32]:
    """Random intensities that DICOM can store exactly with this slope and intercept."""
    stored = np.random.default_rng(seed).integers(0, 4000, size=shape)
    return (stored * slope + intercept).astype(np.float32)


def write_series(
    folder: Path,
    *,
    plane: Plane = "axial",
    shape: tuple[int, int, int] = (6, 5, 7),
    spacing: tuple[float, float, float] = (0.9, 1.1, 2.5),
    center: tuple[float, float, float] = (3.0, -7.0, 12.0),
    seed: int = 0,
    **kwargs: Any,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64], list[Path]]:
    volume = grid_volume(
        shape,
        seed=seed,
        slope=kwargs.get("rescale_slope", 2.0),
        intercept=kwargs.get("rescale_intercept", -10.0),
    )
    affine = standard_series_affine(plane, shape=shape, spacing=spacing, center=center)
    files = write_dicom_series(volume, affine, folder, seed=seed, **kwargs)
    return volume, affine, files


def edit(path: Path, change: Callable[[pydicom.Dataset], None]) -> None:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


def ipp_ras(path: Path) -> npt.NDArray[np.float64]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return LPS_TO_RAS @ np.array([float(v) for v in ds.ImagePositionPatient])


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("plane", PLANE_LIST)
def test_round_trip_reconstructs_volume_plane_and_affine(tmp_path: Path, plane: Plane) -> None:
    folder = tmp_path / "FLAIR"
    volume, affine, files = write_series(folder, plane=plane, shape=(9, 6, 8), seed=3)
    numbers = [int(p.stem.split("-")[1]) for p in files]
    assert numbers != sorted(numbers), "file numbers must not follow the geometric order"

    series = read_dicom_series(folder, patient_id="00042")

    assert series.plane == plane
    assert series.pixels.dtype == np.float32
    assert series.pixels.shape == (9, 6, 8)
    np.testing.assert_array_equal(series.pixels, volume)
    np.testing.assert_allclose(series.affine, affine, atol=1e-9)
    assert series.files == tuple(files)
    assert series.spacing == pytest.approx((0.9, 1.1, 2.5))
    assert np.all(np.diff(series.positions) > 0)
    np.testing.assert_allclose(np.diff(series.positions), 2.5)
    assert series.patient_id == "00042"
    assert series.mri_type == "FLAIR"  # from the folder name


@pytest.mark.parametrize("plane", PLANE_LIST)
def test_affine_maps_voxel_k_to_kth_image_position(tmp_path: Path, plane: Plane) -> None:
    write_series(tmp_path / "s", plane=plane, shape=(5, 4, 6), spacing=(0.8, 1.3, 3.0))
    series = read_dicom_series(tmp_path / "s")
    for k, path in enumerate(series.files):
        world = series.affine @ np.array([0.0, 0.0, k, 1.0])
        np.testing.assert_allclose(world[:3], ipp_ras(path), atol=1e-6)
    # In-plane: column index steps along the row cosine, row index along the column one.
    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_sp, col_sp = (float(v) for v in ds.PixelSpacing)
    corner = series.affine @ np.array([5.0, 3.0, 0.0, 1.0])
    expected = LPS_TO_RAS @ (
        np.array([float(v) for v in ds.ImagePositionPatient])
        + 5 * col_sp * iop[:3]
        + 3 * row_sp * iop[3:]
    )
    np.testing.assert_allclose(corner[:3], expected, atol=1e-6)


def test_plane_from_orientation_uses_dominant_normal_component() -> None:
    assert plane_from_orientation([1, 0, 0, 0, 1, 0]) == "axial"
    assert plane_from_orientation([1, 0, 0, 0, 0, -1]) == "coronal"
    assert plane_from_orientation([0, 1, 0, 0, 0, -1]) == "sagittal"
    # Slightly oblique axial: the normal is still mostly along z.
    c, s = np.cos(0.2), np.sin(0.2)
    assert plane_from_orientation([1, 0, 0, 0, c, s]) == "axial"
    with pytest.raises(GeometryError, match="parallel"):
        plane_from_orientation([1, 0, 0, 1, 0, 0])
    with pytest.raises(GeometryError, match="six"):
        plane_from_orientation([1, 0, 0])


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    n_slices=st.integers(1, 9),
    plane=st.sampled_from(PLANE_LIST),
    slice_spacing=st.floats(0.2, 8.0).map(lambda v: round(v, 3)),
    pixel_spacing=st.floats(0.3, 3.0).map(lambda v: round(v, 3)),
)
def test_property_any_file_numbering_reads_back_identically(
    data: st.DataObject, n_slices: int, plane: Plane, slice_spacing: float, pixel_spacing: float
) -> None:
    numbers = data.draw(st.permutations(range(1, n_slices + 1)))
    shape = (n_slices, 4, 3)
    volume = grid_volume(shape, seed=n_slices)
    affine = standard_series_affine(
        plane, shape=shape, spacing=(pixel_spacing, pixel_spacing, slice_spacing)
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "T2w"
        write_dicom_series(volume, affine, folder, numbers=numbers)
        series = read_dicom_series(folder)
        assert [int(p.stem.split("-")[1]) for p in series.files] == list(numbers)
        np.testing.assert_array_equal(series.pixels, volume)
        np.testing.assert_allclose(series.affine, affine, atol=1e-8)
        assert series.plane == plane
        assert series.spacing[2] == pytest.approx(slice_spacing)


# ------------------------------------------------------------------------- intensities


def test_rescale_slope_and_intercept_are_applied(tmp_path: Path) -> None:
    volume, _, _ = write_series(tmp_path / "s", rescale_slope=0.5, rescale_intercept=100.0)
    series = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(series.pixels, volume)
    ds = pydicom.dcmread(series.files[2])
    assert float(ds.RescaleSlope) == 0.5
    assert float(ds.RescaleIntercept) == 100.0
    np.testing.assert_array_equal(ds.pixel_array * 0.5 + 100.0, series.pixels[2])
    assert not np.array_equal(ds.pixel_array, series.pixels[2])


def test_missing_rescale_tags_default_to_identity(tmp_path: Path) -> None:
    write_series(tmp_path / "s", shape=(3, 4, 4), rescale_slope=1.0, rescale_intercept=0.0)

    def drop_rescale(ds: pydicom.Dataset) -> None:
        del ds.RescaleSlope
        del ds.RescaleIntercept

    for path in sorted((tmp_path / "s").iterdir()):
        edit(path, drop_rescale)
    series = read_dicom_series(tmp_path / "s")
    raw = pydicom.dcmread(series.files[0]).pixel_array
    np.testing.assert_array_equal(series.pixels[0], raw.astype(np.float32))


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    volume, _, _ = write_series(tmp_path / "s", monochrome1=True, seed=5)
    series = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(series.pixels, volume)
    ds = pydicom.dcmread(series.files[0])
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    stored = ds.pixel_array * 2.0 - 10.0
    expected = float(volume.max()) + float(volume.min()) - stored
    np.testing.assert_array_equal(series.pixels[0], expected)


def test_arrays_are_read_only_and_record_conversion(tmp_path: Path) -> None:
    write_series(tmp_path / "T1wCE", shape=(4, 5, 6))
    series = read_dicom_series(tmp_path / "T1wCE", patient_id="00007")
    assert not series.pixels.flags.writeable
    assert not series.affine.flags.writeable
    record = series.to_volume_record()
    assert isinstance(record, VolumeRecord)
    assert record.image.shape == (6, 5, 4)
    np.testing.assert_array_equal(record.image, series.pixels.transpose(2, 1, 0))
    np.testing.assert_array_equal(record.affine, series.affine)
    assert (record.patient_id, record.modality) == ("00007", "T1wCE")
    assert record.source == str(tmp_path / "T1wCE")
    assert "T1wCE" in repr(series)


def test_patient_id_falls_back_to_tag_and_unknown(tmp_path: Path) -> None:
    write_series(tmp_path / "x", patient_id="00311")
    series = read_dicom_series(tmp_path / "x")
    assert series.patient_id == "00311"
    assert series.mri_type is None
    assert series.to_volume_record().modality == "unknown"


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    volume, _, _ = write_series(tmp_path / "s")
    (tmp_path / "s" / ".DS_Store").write_bytes(b"\x00garbage")
    np.testing.assert_array_equal(read_dicom_series(tmp_path / "s").pixels, volume)


def test_small_position_jitter_is_tolerated(tmp_path: Path) -> None:
    write_series(tmp_path / "s", plane="axial", shape=(5, 4, 4))
    series = read_dicom_series(tmp_path / "s")

    def jitter(ds: pydicom.Dataset) -> None:
        x, y, z = ds.ImagePositionPatient
        ds.ImagePositionPatient = [x, y, f"{float(z) + 0.02:.4f}"]

    edit(series.files[2], jitter)
    again = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(again.pixels, series.pixels)
    assert again.spacing[2] == pytest.approx(2.5)


# ----------------------------------------------------------- one series per folder


def uid_of(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)


@pytest.mark.parametrize("offset", [1.25, 15.0], ids=["interleaved", "stacked"])
def test_two_series_in_one_folder_are_refused_with_their_list(
    tmp_path: Path, offset: float
) -> None:
    """A second series half a slice (interleaved) or a slab (stacked) away is not merged."""
    folder = tmp_path / "FLAIR"
    first, affine, files = write_series(folder, mri_type="FLAIR")
    shifted = affine.copy()
    shifted[2, 3] += offset  # axial: along the normal
    second = grid_volume(first.shape, seed=9)
    added = write_dicom_series(
        second, shifted, folder, append=True, numbers=range(7, 13), seed=1, mri_type="T2w"
    )
    uids = uid_of(files[0]), uid_of(added[0])
    assert uids[0] != uids[1]

    with pytest.raises(InvalidInputError, match="holds 2 series") as info:
        read_dicom_series(folder, patient_id="00001")
    message = str(info.value)
    for uid, description in zip(uids, ("'FLAIR'", "'T2w'"), strict=True):
        assert f"{uid!r}: SeriesDescription {description}, 6 file(s)" in message
    assert "series_uid=" in message
    assert "--series-uid" in message
    assert info.value.path == folder
    assert info.value.patient_id == "00001"
    out = tmp_path / "out.nii.gz"
    with pytest.raises(InvalidInputError, match="holds 2 series"):
        series_to_nifti(folder, out)
    assert not out.exists()

    # An explicit UID reads that series alone, with its own geometry.
    np.testing.assert_array_equal(read_dicom_series(folder, series_uid=uids[0]).pixels, first)
    picked = read_dicom_series(folder, series_uid=uids[1])
    np.testing.assert_array_equal(picked.pixels, second)
    np.testing.assert_allclose(picked.affine, shifted, atol=1e-9)
    assert series_to_nifti(folder, out, series_uid=uids[1]) == out
    np.testing.assert_array_equal(nib.load(out).get_fdata(), picked.to_nifti_array())
    with pytest.raises(
        InputNotFoundError, match=r"no file has SeriesInstanceUID '1\.2\.3'"
    ) as info:
        read_dicom_series(folder, series_uid="1.2.3")
    assert uids[0] in str(info.value)
    assert uids[1] in str(info.value)


def test_files_without_series_uid_are_one_series(tmp_path: Path) -> None:
    volume, _, files = write_series(tmp_path / "s")
    for path in files:
        edit(path, lambda ds: delattr(ds, "SeriesInstanceUID"))
    np.testing.assert_array_equal(read_dicom_series(tmp_path / "s").pixels, volume)

    # Beside files that have one, they are a series of their own, picked with "".
    volume, _, files = write_series(tmp_path / "mixed")
    for path in files[:3]:
        edit(path, lambda ds: delattr(ds, "SeriesInstanceUID"))
    with pytest.raises(InvalidInputError, match=r"'' \(files without SeriesInstanceUID\)"):
        read_dicom_series(tmp_path / "mixed")
    np.testing.assert_array_equal(
        read_dicom_series(tmp_path / "mixed", series_uid="").pixels, volume[:3]
    )


def test_a_series_mixing_patient_ids_is_refused(tmp_path: Path) -> None:
    volume, _, files = write_series(tmp_path / "s", patient_id="00001")
    for path in files[1:3]:
        edit(path, lambda ds: setattr(ds, "PatientID", "00002"))
    with pytest.raises(InvalidInputError, match="mixes 2 PatientIDs") as info:
        read_dicom_series(tmp_path / "s")
    assert "'00001': 4 file(s)" in str(info.value)
    assert f"'00002': 2 file(s), e.g. {min(files[1:3]).name}" in str(info.value)
    assert info.value.path == tmp_path / "s"

    # A file without the tag does not count as another patient.
    volume, _, files = write_series(tmp_path / "t", patient_id="00001")
    edit(files[0], lambda ds: delattr(ds, "PatientID"))
    series = read_dicom_series(tmp_path / "t")
    assert series.patient_id == "00001"
    np.testing.assert_array_equal(series.pixels, volume)


# ------------------------------------------------------------ tilt and shear


@pytest.mark.parametrize(
    ("plane", "tilt", "shown"),
    [("axial", 15.0, "15.00 degrees"), ("coronal", -2.0, "2.00 degrees")],
)
def test_tilted_slices_are_refused(tmp_path: Path, plane: Plane, tilt: float, shown: str) -> None:
    """Positions that step off the normal would be placed mm away from the files: refused."""
    shape = (6, 5, 7)
    affine = standard_series_affine(plane, shape=shape, spacing=(0.9, 1.1, 2.5))
    folder = tmp_path / "s"
    write_dicom_series(grid_volume(shape, seed=0), affine, folder, gantry_tilt=tilt)
    with pytest.raises(GeometryError, match="not stacked along their normal") as info:
        read_dicom_series(folder, patient_id="00003")
    message = str(info.value)
    assert shown in message
    assert "gantry tilt" in message
    assert "dcm2niix" in message
    assert info.value.path == folder
    assert info.value.patient_id == "00003"
    out = tmp_path / "out.nii.gz"
    with pytest.raises(GeometryError):
        series_to_nifti(folder, out)
    assert not out.exists()


def oblique_affine(angles: tuple[float, float, float], shape: tuple[int, int, int]) -> Any:
    """An axial affine rotated about x, y and z (radians), in the reader's form."""
    affine = standard_series_affine("axial", shape=shape, spacing=(0.9, 0.9, 3.0))
    rotation = Rotation.from_euler("xyz", angles).as_matrix()
    affine[:3] = rotation @ affine[:3]
    return affine


@settings(max_examples=20, deadline=None)
@given(
    angles=st.tuples(*[st.floats(-0.6, 0.6)] * 3),
    noise_seed=st.integers(0, 2**16),
)
def test_property_rounded_oblique_headers_are_accepted_and_placed(
    angles: tuple[float, float, float], noise_seed: int
) -> None:
    """Real headers: cosines with 6 decimals, positions with 0.005 mm noise, still read."""
    shape = (8, 4, 4)
    affine = oblique_affine(angles, shape)
    rng = np.random.default_rng(noise_seed)

    def roughen(ds: pydicom.Dataset) -> None:
        ds.ImageOrientationPatient = [f"{float(v):.6f}" for v in ds.ImageOrientationPatient]
        noisy = np.array([float(v) for v in ds.ImagePositionPatient]) + rng.uniform(
            -0.005, 0.005, 3
        )
        ds.ImagePositionPatient = [f"{v:.5f}" for v in noisy]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "s"
        files = write_dicom_series(grid_volume(shape, seed=1), affine, folder)
        for path in files:
            edit(path, roughen)
        series = read_dicom_series(folder)
        np.testing.assert_allclose(series.affine, affine, atol=0.02)
        for k, path in enumerate(series.files):
            world = series.affine @ np.array([0.0, 0.0, k, 1.0])
            np.testing.assert_allclose(world[:3], ipp_ras(path), atol=0.03)


def test_a_slightly_tilted_stack_within_the_tolerance_is_read(tmp_path: Path) -> None:
    """0.1 degree over 6 slices of 2.5 mm moves the last one 0.02 mm: under 0.09 mm."""
    shape = (6, 5, 7)
    affine = standard_series_affine("axial", shape=shape, spacing=(0.9, 1.1, 2.5))
    write_dicom_series(grid_volume(shape, seed=0), affine, tmp_path / "s", gantry_tilt=0.1)
    np.testing.assert_allclose(read_dicom_series(tmp_path / "s").affine, affine, atol=0.03)


@pytest.mark.parametrize(
    ("cosines", "match"),
    [
        (["1", "0", "0", "0.5", "0.866025", "0"], "60.00 degrees apart"),
        (["1", "0", "0", "0.008727", "0.999962", "0"], "89.50 degrees apart"),
        (["1", "0", "0", "0", "0.9", "0"], "lengths 1 and 0.9"),
    ],
    ids=["60-degrees", "89.5-degrees", "not-unit"],
)
def test_non_orthogonal_orientation_is_refused(
    tmp_path: Path, cosines: list[str], match: str
) -> None:
    """Cosines that would make a sheared or scaled grid, on every slice, are refused."""
    _, _, files = write_series(tmp_path / "s")
    for path in files:
        edit(path, lambda ds: setattr(ds, "ImageOrientationPatient", cosines))
    with pytest.raises(GeometryError, match=match) as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path is not None
    assert info.value.path.parent == tmp_path / "s"
    with pytest.raises(GeometryError, match=match):
        plane_from_orientation([float(c) for c in cosines])


def test_nearly_orthogonal_rounded_cosines_are_accepted() -> None:
    """Cosines rounded to 6 decimals are 1e-6 off: far inside the 1e-3 tolerance."""
    c, s = round(float(np.cos(0.3)), 6), round(float(np.sin(0.3)), 6)
    assert plane_from_orientation([c, s, 0.0, -s, c, 0.0]) == "axial"
    assert plane_from_orientation([1.0, 0.0, 0.0, 0.0002, 0.9999, 0.0]) == "axial"


# ---------------------------------------------------------------------------- NIfTI


@pytest.mark.parametrize("plane", PLANE_LIST)
def test_series_to_nifti_round_trips_voxels_and_affine(tmp_path: Path, plane: Plane) -> None:
    write_series(tmp_path / "T2w", plane=plane, shape=(5, 6, 7))
    series = read_dicom_series(tmp_path / "T2w")
    out = series_to_nifti(tmp_path / "T2w", tmp_path / "nifti" / "00001_T2w.nii.gz")

    assert out == tmp_path / "nifti" / "00001_T2w.nii.gz"
    assert [p.name for p in out.parent.iterdir()] == [out.name], "no temporary file left"
    image = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(image.dataobj), series.to_nifti_array())
    np.testing.assert_allclose(image.affine, series.affine, atol=1e-5)
    qform, qcode = image.get_qform(coded=True)
    sform, scode = image.get_sform(coded=True)
    assert (int(qcode), int(scode)) == (1, 1)
    np.testing.assert_allclose(qform, series.affine, atol=1e-5)
    np.testing.assert_allclose(sform, series.affine, atol=1e-5)
    codes = nib.aff2axcodes(image.affine)
    assert codes[2] in SLICE_AXIS_CODES[plane]
    assert codes[:2] == {"axial": ("L", "P"), "coronal": ("L", "I"), "sagittal": ("P", "I")}[plane]


def test_series_to_nifti_rejects_other_extensions(tmp_path: Path) -> None:
    write_series(tmp_path / "s", shape=(2, 3, 3))
    with pytest.raises(ConfigurationError, match=r"\.nii\.gz"):
        series_to_nifti(tmp_path / "s", tmp_path / "out.png")


# --------------------------------------------------------------------------- errors


def test_empty_or_missing_folder_raises_input_not_found(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden").write_text("x")
    with pytest.raises(InputNotFoundError, match="no files") as info:
        read_dicom_series(tmp_path / "empty", patient_id="00001")
    assert info.value.path == tmp_path / "empty"
    assert info.value.patient_id == "00001"
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(InputNotFoundError):
        read_dicom_series(tmp_path / "nope")


def test_non_dicom_file_raises_corrupt_file_naming_it(tmp_path: Path) -> None:
    write_series(tmp_path / "s")
    bad = tmp_path / "s" / "notes.txt"
    bad.write_text("not a DICOM file")
    with pytest.raises(CorruptFileError, match="not a DICOM file") as info:
        read_dicom_series(tmp_path / "s", patient_id="00002")
    assert info.value.path == bad
    assert "notes.txt" in str(info.value)
    assert "00002" in str(info.value)


@pytest.mark.parametrize("keep", [400, -20])
def test_truncated_file_raises_corrupt_file_naming_it(tmp_path: Path, keep: int) -> None:
    _, _, files = write_series(tmp_path / "s")
    data = files[2].read_bytes()
    files[2].write_bytes(data[:keep])
    with pytest.raises(CorruptFileError) as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[2]


@pytest.mark.parametrize("tag", ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"])
def test_missing_geometry_tag_raises_geometry_error_naming_file_and_tag(
    tmp_path: Path, tag: str
) -> None:
    _, _, files = write_series(tmp_path / "s")
    edit(files[3], lambda ds: delattr(ds, tag))
    with pytest.raises(GeometryError, match=tag) as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[3]
    assert isinstance(info.value, ValueError)


def test_duplicate_positions_raise_geometry_error_naming_folder(tmp_path: Path) -> None:
    _, _, files = write_series(tmp_path / "s")
    position = pydicom.dcmread(files[1]).ImagePositionPatient

    def duplicate(ds: pydicom.Dataset) -> None:
        ds.ImagePositionPatient = position

    edit(files[4], duplicate)
    with pytest.raises(GeometryError, match="share a position") as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == tmp_path / "s"


def test_an_empty_file_and_a_file_without_pixels_are_corrupt(tmp_path: Path) -> None:
    _, _, files = write_series(tmp_path / "s")
    files[0].write_bytes(b"")
    with pytest.raises(CorruptFileError) as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[0]
    shutil.rmtree(tmp_path / "s")
    _, _, files = write_series(tmp_path / "s")
    edit(files[1], lambda ds: delattr(ds, "PixelData"))
    with pytest.raises(CorruptFileError, match="no Pixel Data") as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[1]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda ds: setattr(ds, "Rows", 0), "Rows/Columns"),
        (lambda ds: delattr(ds, "Columns"), "Rows/Columns"),
        (lambda ds: ds.add_new(0x00281053, "LO", "abc"), "RescaleSlope = 'abc'"),
        (lambda ds: setattr(ds, "PixelSpacing", [0, 1]), "must be positive"),
        (lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 1, 0, 0]), "parallel"),
        (lambda ds: setattr(ds, "RescaleSlope", "0"), "RescaleSlope = 0"),
        (lambda ds: setattr(ds, "RescaleSlope", "0.0"), "RescaleSlope = 0"),
        (lambda ds: ds.add_new(0x00281052, "LO", "inf"), "RescaleIntercept = 'inf'"),
    ],
    ids=[
        "zero-rows",
        "no-columns",
        "text-slope",
        "zero-spacing",
        "parallel-directions",
        "zero-slope",
        "zero-slope-decimal",
        "infinite-intercept",
    ],
)
def test_damaged_tags_raise_library_errors_naming_the_file(
    tmp_path: Path, change: Callable[[pydicom.Dataset], None], match: str
) -> None:
    _, _, files = write_series(tmp_path / "s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values written here
        edit(files[2], change)
    with pytest.raises(InvalidInputError, match=match) as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[2]


@pytest.mark.parametrize(
    ("vr", "raised"),
    [(b"QQ", "NotImplementedError"), (b"FL", "BytesLengthException")],
    ids=["unknown-vr", "odd-length-float"],
)
def test_a_damaged_element_is_corrupt_not_a_pydicom_error(
    tmp_path: Path, vr: bytes, raised: str
) -> None:
    """pydicom parses elements lazily and raises its own types; they become library errors."""
    _, _, files = write_series(tmp_path / "s")
    data = bytearray(files[0].read_bytes())
    at = data.index(b"\x20\x00\x32\x00DS")  # ImagePositionPatient, explicit VR DS
    data[at + 4 : at + 6] = vr
    files[0].write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=f"ImagePositionPatient .*{raised}") as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[0]


@pytest.fixture(scope="module")
def small_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "series"
    write_series(folder, shape=(3, 4, 4))
    return folder


@settings(max_examples=40)
@given(
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=1200)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=1200), st.integers(1, 255)), max_size=3
    ),
)
def test_property_a_damaged_file_raises_only_library_errors(
    small_series: Path, cut: int | None, flips: list[tuple[int, int]]
) -> None:
    """Truncated or bit-flipped files give a RadiogenomicsError, never a raw traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "series"
        shutil.copytree(small_series, folder)
        target = sorted(folder.iterdir())[1]
        data = bytearray(target.read_bytes())
        for position, mask in flips:
            data[position % len(data)] ^= mask
        target.write_bytes(bytes(data if cut is None else data[:cut]))
        problem: RadiogenomicsError | None = None
        try:
            series = read_dicom_series(folder)
        except RadiogenomicsError as error:
            problem = error
        else:
            assert series.pixels.shape[1:] == (4, 4)
        assert problem is None or problem.path is not None


def test_missing_slice_raises_unless_tolerance_is_raised(tmp_path: Path) -> None:
    volume, _, files = write_series(tmp_path / "s", shape=(6, 4, 4))
    files[3].unlink()
    with pytest.raises(GeometryError, match="max_spacing_deviation"):
        read_dicom_series(tmp_path / "s")
    series = read_dicom_series(tmp_path / "s", max_spacing_deviation=float("inf"))
    np.testing.assert_array_equal(series.pixels, np.delete(volume, 3, axis=0))
    with pytest.raises(ConfigurationError):
        read_dicom_series(tmp_path / "s", max_spacing_deviation=-1.0)


def test_mixed_rows_columns_raise_geometry_error(tmp_path: Path) -> None:
    write_series(tmp_path / "s", shape=(4, 5, 6))
    _, _, other = write_series(tmp_path / "other", shape=(4, 5, 7), center=(0.0, 0.0, 40.0))
    intruder = tmp_path / "s" / "Image-99.dcm"
    intruder.write_bytes(other[0].read_bytes())
    # Of the same series (another series is refused as such, before its geometry is read).
    host_uid = pydicom.dcmread(tmp_path / "s" / "Image-1.dcm").SeriesInstanceUID
    edit(intruder, lambda ds: setattr(ds, "SeriesInstanceUID", host_uid))
    with pytest.raises(GeometryError, match="Rows x Columns") as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == intruder


def test_mixed_orientations_raise_geometry_error(tmp_path: Path) -> None:
    _, _, files = write_series(tmp_path / "s", plane="axial")

    def tilt(ds: pydicom.Dataset) -> None:
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]

    edit(files[2], tilt)
    with pytest.raises(GeometryError, match="ImageOrientationPatient") as info:
        read_dicom_series(tmp_path / "s")
    assert info.value.path == files[2]


def test_mixed_photometric_interpretations_raise(tmp_path: Path) -> None:
    _, _, files = write_series(tmp_path / "s")
    edit(files[0], lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME1"))
    with pytest.raises(InvalidInputError, match="MONOCHROME1"):
        read_dicom_series(tmp_path / "s")


@pytest.mark.parametrize(
    "uid",
    [
        pydicom.uid.JPEGLosslessSV1,  # no decoder in a plain install
        pydicom.uid.JPEGLSLossless,
        pydicom.uid.JPEG2000Lossless,  # Pillow may decode this one
    ],
)
def test_compressed_pixel_data_without_decoder(tmp_path: Path, uid: str) -> None:
    _, _, files = write_series(tmp_path / "s", shape=(3, 4, 4))

    def compress(ds: pydicom.Dataset) -> None:
        ds.file_meta.TransferSyntaxUID = uid
        ds.PixelData = encapsulate([b"\xff\x4f not a real codestream " * 4])
        ds["PixelData"].VR = "OB"

    edit(files[1], compress)
    if get_decoder(uid).is_available:
        # A decoder is installed: the garbage is reported as a damaged file instead.
        with pytest.raises(CorruptFileError) as corrupt:
            read_dicom_series(tmp_path / "s")
        assert corrupt.value.path == files[1]
        return
    with pytest.raises(MissingDecoderError) as info:
        read_dicom_series(tmp_path / "s", patient_id="00003")
    message = str(info.value)
    assert info.value.path == files[1]
    assert info.value.patient_id == "00003"
    assert str(files[1]) in message
    assert uid in message
    assert pydicom.uid.UID(uid).name in message
    assert "pip install" in message
    assert "pylibjpeg" in message
    assert "radiogenomics[decoders]" in message
    assert "python-gdcm" in message
    assert isinstance(info.value, RuntimeError)


# ----------------------------------------------------------------------- discovery


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kaggle")
    return write_task2_cohort(root, n_patients=3, seed=11, size=12, n_slices=3)


def test_find_task2_patients_on_cohort(cohort: Path) -> None:
    found = find_task2_patients(cohort / "train")
    assert len(found) == 3
    assert list(found) == sorted(found)
    for patient_id, series in found.items():
        assert len(patient_id) == 5
        assert patient_id.isdigit()
        assert tuple(series) == MRI_TYPES
        for mri_type, folder in series.items():
            assert folder == cohort / "train" / patient_id / mri_type
            read = read_dicom_series(folder)
            assert read.patient_id == patient_id
            assert read.mri_type == mri_type


def test_find_task2_patients_on_one_patient_folder(cohort: Path) -> None:
    patient = sorted((cohort / "train").iterdir())[0]
    found = find_task2_patients(patient)
    assert list(found) == [patient.name]
    assert found[patient.name]["T1wCE"] == patient / "T1wCE"


def test_find_task2_patients_matches_case_and_keeps_padding(tmp_path: Path) -> None:
    (tmp_path / "00109" / "flair").mkdir(parents=True)
    (tmp_path / "00109" / "T2w").mkdir()
    (tmp_path / "00109" / "notes").mkdir()
    (tmp_path / "00005").mkdir()
    (tmp_path / "train_labels.csv").write_text("BraTS21ID,MGMT_value\n")
    found = find_task2_patients(tmp_path)
    assert found == {
        "00005": {},
        "00109": {"FLAIR": tmp_path / "00109" / "flair", "T2w": tmp_path / "00109" / "T2w"},
    }


def test_find_task2_patients_rejects_dotdot_and_nothing(tmp_path: Path, cohort: Path) -> None:
    patient = sorted((cohort / "train").iterdir())[0]
    with pytest.raises(InvalidInputError, match=r"'\.\.'"):
        find_task2_patients(patient / "FLAIR" / "..")
    (tmp_path / "misc").mkdir()
    with pytest.raises(InputNotFoundError, match="neither patient folders"):
        find_task2_patients(tmp_path)
    with pytest.raises(InputNotFoundError):
        find_task2_patients(tmp_path / "missing")


def test_errors_survive_pickling(tmp_path: Path) -> None:
    import pickle

    with pytest.raises(RadiogenomicsError) as info:
        read_dicom_series(tmp_path / "missing", patient_id="00001")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is InputNotFoundError
    assert clone.patient_id == "00001"


def test_dicom_series_validates_its_fields(tmp_path: Path) -> None:
    with pytest.raises(GeometryError, match=r"\(S, R, C\)"):
        DicomSeries(
            pixels=np.zeros((2, 2), np.float32),
            affine=np.eye(4),
            plane="axial",
            positions=np.zeros(2),
            files=(tmp_path,),
            folder=tmp_path,
            spacing=(1.0, 1.0, 1.0),
        )
