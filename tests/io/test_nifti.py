"""BraTS Task 1 NIfTI cases: discovery under both namings, decoding and every error."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radiogenomics.errors import (
    CorruptFileError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    LabelError,
    RadiogenomicsError,
)
from radiogenomics.io import MODALITIES, NAMING, BratsCase, find_brats_cases, load_case, read_nifti
from radiogenomics.testing import make_brats_case, write_brats_cohort

SHAPE = (12, 12, 10)


@pytest.fixture
def case(tmp_path: Path) -> BratsCase:
    """One small BraTS 2021 case written under ``tmp_path/cases``."""
    return make_brats_case(seed=7, shape=SHAPE).write(tmp_path / "cases")


def save(path: Path, data: np.ndarray[Any, Any], affine: np.ndarray[Any, Any]) -> None:
    nib.save(nib.Nifti1Image(data, affine), str(path))


def affine_of(case: BratsCase) -> np.ndarray[Any, Any]:
    return np.asarray(nib.load(str(case.images["flair"])).affine)


# --- find_brats_cases ---------------------------------------------------------------


def test_finds_a_brats2021_cohort(tmp_path: Path) -> None:
    written = write_brats_cohort(tmp_path, n_cases=3, seed=1, shape=SHAPE)
    found = find_brats_cases(tmp_path)
    assert [c.case_id for c in found] == ["BraTS2021_00001", "BraTS2021_00002", "BraTS2021_00003"]
    assert found == written
    for c in found:
        assert c.convention == "brats2021"
        assert tuple(c.images) == MODALITIES
        assert c.folder == tmp_path / c.case_id
        assert c.images["t1ce"].name == f"{c.case_id}_t1ce.nii.gz"
        assert c.label == c.folder / f"{c.case_id}_seg.nii.gz"


def test_finds_a_brats2023_cohort(tmp_path: Path) -> None:
    write_brats_cohort(tmp_path, n_cases=2, seed=1, shape=SHAPE, convention="brats2023", first_id=5)
    found = find_brats_cases(tmp_path)
    assert [c.case_id for c in found] == ["BraTS-GLI-00005-000", "BraTS-GLI-00006-000"]
    for c in found:
        assert c.convention == "brats2023"
        # Modalities are reported under the 2021 names.
        assert tuple(c.images) == MODALITIES
        assert c.images["flair"].name == f"{c.case_id}-t2f.nii.gz"
        assert c.images["t1"].name == f"{c.case_id}-t1n.nii.gz"
        assert c.label is not None
        assert c.label.name == f"{c.case_id}-seg.nii.gz"
    assert [c.patient_number for c in found] == ["00005", "00006"]


def test_mixed_namings_and_nested_folders(tmp_path: Path) -> None:
    write_brats_cohort(tmp_path / "2021" / "train", n_cases=1, seed=1, shape=SHAPE)
    write_brats_cohort(tmp_path / "2023", n_cases=1, seed=2, shape=SHAPE, convention="brats2023")
    found = find_brats_cases(tmp_path)
    assert [(c.case_id, c.convention) for c in found] == [
        ("BraTS-GLI-00001-000", "brats2023"),
        ("BraTS2021_00001", "brats2021"),
    ]


def test_a_single_case_folder_as_root(case: BratsCase) -> None:
    (found,) = find_brats_cases(case.folder)
    assert found == case


def test_uncompressed_files_and_hidden_files(tmp_path: Path) -> None:
    folder = tmp_path / "BraTS2021_00042"
    folder.mkdir()
    volume = np.zeros(SHAPE, np.int16)
    for modality in MODALITIES:
        save(folder / f"BraTS2021_00042_{modality}.nii", volume, np.eye(4))
    (folder / "._BraTS2021_00099_flair.nii.gz").write_bytes(b"macOS resource fork")
    (folder / "notes.txt").write_text("not an image")
    (found,) = find_brats_cases(tmp_path)
    assert found.case_id == "BraTS2021_00042"
    assert found.images["t1"].suffix == ".nii"
    assert found.label is None


def test_missing_root_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(InputNotFoundError, match="does not exist") as info:
        find_brats_cases(missing)
    assert info.value.path == missing
    assert isinstance(info.value, FileNotFoundError)


def test_root_that_is_a_file_raises(case: BratsCase) -> None:
    with pytest.raises(InputNotFoundError, match="not a folder"):
        find_brats_cases(case.images["flair"])


def test_root_without_cases_raises(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InputNotFoundError, match="no BraTS case found") as info:
        find_brats_cases(tmp_path)
    assert "<ID>_flair.nii.gz" in str(info.value)
    assert "-t2f" in str(info.value)


def test_duplicate_case_ids_raise(tmp_path: Path) -> None:
    write_brats_cohort(tmp_path / "a", n_cases=2, seed=1, shape=SHAPE)
    write_brats_cohort(tmp_path / "b", n_cases=1, seed=1, shape=SHAPE, first_id=2)
    with pytest.raises(InvalidInputError, match=r"more than one folder: \['BraTS2021_00002'\]"):
        find_brats_cases(tmp_path)


@pytest.mark.parametrize(
    ("case_id", "number"),
    [
        ("BraTS2021_00006", "00006"),
        ("BraTS-GLI-00006-000", "00006"),
        ("BraTS-GLI-01234-001", "01234"),
        ("Synth_case", None),
        ("BraTS2021_123456", None),  # six digits: not a patient number
    ],
)
def test_patient_number(case_id: str, number: str | None) -> None:
    case = BratsCase(
        case_id=case_id, folder=Path("."), images={}, label=None, convention="brats2021"
    )
    assert case.patient_number == number


# --- load_case ----------------------------------------------------------------------


def test_load_case_round_trip(tmp_path: Path) -> None:
    synthetic = make_brats_case(seed=7, shape=SHAPE)
    loaded = load_case(synthetic.write(tmp_path))
    assert loaded.shape == SHAPE
    assert tuple(loaded.images) == MODALITIES
    for modality in MODALITIES:
        np.testing.assert_array_equal(loaded.images[modality], synthetic.images[modality])
    assert loaded.label_map is not None
    assert loaded.label_map.dtype == np.uint8
    np.testing.assert_array_equal(loaded.label_map, synthetic.label_map)
    np.testing.assert_allclose(loaded.affine, synthetic.affine)
    assert repr(loaded) == (
        "LoadedCase(case_id='BraTS2021_00007', modalities=('flair', 't1', 't1ce', 't2'), "
        "shape=(12, 12, 10), label=yes)"
    )


def test_load_case_brats2023(tmp_path: Path) -> None:
    synthetic = make_brats_case(seed=3, shape=SHAPE, convention="brats2023", case_id="BraTS-X")
    loaded = load_case(synthetic.write(tmp_path))
    assert loaded.label_map is not None
    np.testing.assert_array_equal(loaded.label_map, synthetic.label_map)
    assert 3 in loaded.label_map
    assert 4 not in loaded.label_map


def test_load_a_subset_of_modalities(case: BratsCase) -> None:
    loaded = load_case(case, modalities=("t1ce",), require_label=False)
    assert tuple(loaded.images) == ("t1ce",)
    assert loaded.label_map is not None  # read when present


def test_missing_modality_names_the_expected_file(case: BratsCase) -> None:
    case.images["t1ce"].unlink()
    (found,) = find_brats_cases(case.folder)
    assert "t1ce" not in found.images
    with pytest.raises(InputNotFoundError) as info:
        load_case(found)
    text = str(info.value)
    assert "missing modalities ['t1ce']" in text
    assert "BraTS2021_00007_t1ce.nii.gz" in text
    assert info.value.patient_id == "BraTS2021_00007"
    assert info.value.path == case.folder


def test_missing_label(case: BratsCase) -> None:
    assert case.label is not None
    case.label.unlink()
    (found,) = find_brats_cases(case.folder)
    with pytest.raises(InputNotFoundError, match=r"BraTS2021_00007_seg\.nii\.gz"):
        load_case(found)
    assert load_case(found, require_label=False).label_map is None


def test_mismatched_shape_names_the_file(case: BratsCase) -> None:
    save(case.images["t1"], np.zeros((12, 12, 9), np.int16), affine_of(case))
    with pytest.raises(GeometryError) as info:
        load_case(case)
    assert info.value.path == case.images["t1"]
    assert "shape (12, 12, 9) differs from (12, 12, 10) of BraTS2021_00007_flair.nii.gz" in str(
        info.value
    )
    assert info.value.patient_id == "BraTS2021_00007"


def test_mismatched_label_shape(case: BratsCase) -> None:
    assert case.label is not None
    save(case.label, np.zeros((11, 12, 10), np.uint8), affine_of(case))
    with pytest.raises(GeometryError) as info:
        load_case(case)
    assert info.value.path == case.label


def test_mismatched_affine_names_the_file(case: BratsCase) -> None:
    affine = affine_of(case)
    affine[0, 3] += 2.0
    save(case.images["t2"], np.zeros(SHAPE, np.int16), affine)
    with pytest.raises(GeometryError, match=r"affine differs .* \(max difference 2\)") as info:
        load_case(case)
    assert info.value.path == case.images["t2"]


def test_affines_within_tolerance_are_equal(case: BratsCase) -> None:
    affine = affine_of(case)
    affine[0, 3] += 1e-4
    data = np.asarray(nib.load(str(case.images["t2"])).dataobj)
    save(case.images["t2"], data, affine)
    assert load_case(case).shape == SHAPE


def test_truncated_file_is_corrupt(case: BratsCase) -> None:
    path = case.images["flair"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError) as info:
        load_case(case)
    assert info.value.path == path
    assert info.value.patient_id == "BraTS2021_00007"
    assert "truncated or not NIfTI" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_truncated_uncompressed_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.nii"
    save(path, np.ones((8, 8, 8), np.float32), np.eye(4))
    data = path.read_bytes()
    path.write_bytes(data[:400])
    with pytest.raises(CorruptFileError) as info:
        read_nifti(path)
    assert info.value.path == path


def test_not_a_nifti_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"this is not a NIfTI header" * 20)
    with pytest.raises(CorruptFileError, match="cannot decode"):
        read_nifti(path, patient_id="P")


def test_read_nifti_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist") as info:
        read_nifti(tmp_path / "gone.nii.gz", patient_id="P")
    assert info.value.patient_id == "P"


def test_four_dimensional_volume_is_a_geometry_error(case: BratsCase) -> None:
    save(case.images["flair"], np.zeros((*SHAPE, 2), np.int16), affine_of(case))
    with pytest.raises(GeometryError, match=r"expected a 3D volume; got shape \(12, 12, 10, 2\)"):
        load_case(case)


def test_trailing_singleton_axis_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    save(path, np.arange(24, dtype=np.int16).reshape(2, 3, 4, 1), np.eye(4))
    data, affine = read_nifti(path)
    assert data.shape == (2, 3, 4)
    np.testing.assert_array_equal(data, np.arange(24).reshape(2, 3, 4))
    np.testing.assert_array_equal(affine, np.eye(4))


def test_nan_voxels_are_rejected(case: BratsCase) -> None:
    volume = np.ones(SHAPE, np.float32)
    volume[1, 2, 3] = np.nan
    volume[2, 2, 3] = np.inf
    volume[3, 2, 3] = -np.inf
    save(case.images["t2"], volume, affine_of(case))
    with pytest.raises(InvalidInputError, match=r"1 NaN, 2 infinite, of 1440") as info:
        load_case(case)
    assert info.value.path == case.images["t2"]
    assert "not replaced" in str(info.value)


def test_a_two_dimensional_volume_is_a_geometry_error(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    save(path, np.ones((4, 5), np.int16), np.eye(4))
    with pytest.raises(GeometryError, match=r"expected a 3D volume; got shape \(4, 5\)"):
        read_nifti(path)


@pytest.mark.parametrize("value", [0, 7])
def test_a_blank_modality_is_rejected_naming_the_file(case: BratsCase, value: int) -> None:
    save(case.images["t1ce"], np.full(SHAPE, value, np.int16), affine_of(case))
    with pytest.raises(InvalidInputError, match=f"every voxel .* is {value}") as info:
        load_case(case)
    assert info.value.path == case.images["t1ce"]
    assert info.value.patient_id == "BraTS2021_00007"


def test_an_all_zero_label_map_is_a_case_without_tumor(case: BratsCase) -> None:
    assert case.label is not None
    save(case.label, np.zeros(SHAPE, np.uint8), affine_of(case))
    loaded = load_case(case)
    assert loaded.label_map is not None
    assert not loaded.label_map.any()


def test_a_non_finite_affine_is_a_geometry_error(tmp_path: Path) -> None:
    path = tmp_path / "x.nii"
    image = nib.Nifti1Image(np.ones((4, 4, 4), np.int16), np.eye(4))
    image.set_qform(None, code=0)
    image.set_sform(np.eye(4), code=1)
    nib.save(image, str(path))
    data = bytearray(path.read_bytes())
    data[280:284] = np.float32(np.nan).tobytes()  # srow_x[0] of the NIfTI-1 header
    path.write_bytes(bytes(data))
    with pytest.raises(GeometryError, match="affine holds NaN or infinite values") as info:
        read_nifti(path)
    assert info.value.path == path


@pytest.fixture(scope="module")
def small_volume(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of one small volume, as .nii and as .nii.gz."""
    folder = tmp_path_factory.mktemp("nifti-fuzz")
    volume = np.random.default_rng(0).integers(0, 500, (6, 5, 4)).astype(np.int16)
    files = {}
    for suffix in (".nii", ".nii.gz"):
        save(folder / f"x{suffix}", volume, np.diag([1.0, 1.2, 2.0, 1.0]))
        files[suffix] = (folder / f"x{suffix}").read_bytes()
    return files


@settings(max_examples=60)
@given(
    suffix=st.sampled_from([".nii", ".nii.gz"]),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=600), st.integers(1, 255)), max_size=3
    ),
)
def test_property_a_damaged_file_raises_only_library_errors(
    small_volume: dict[str, bytes], suffix: str, cut: int | None, flips: list[tuple[int, int]]
) -> None:
    """Truncated or bit-flipped files give a RadiogenomicsError, never a raw traceback."""
    import tempfile

    data = bytearray(small_volume[suffix])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(bytes(data if cut is None else data[:cut]))
        problem: RadiogenomicsError | None = None
        try:
            volume, affine = read_nifti(path)
        except RadiogenomicsError as error:
            problem = error
        else:
            assert volume.ndim == 3
            assert np.isfinite(affine).all()
        assert problem is None or problem.path == path


def test_complex_voxels_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    save(path, np.ones((2, 2, 2), np.complex64), np.eye(4))
    with pytest.raises(InvalidInputError, match="unsupported voxel dtype complex64"):
        read_nifti(path)


def test_header_scaling_is_applied(tmp_path: Path) -> None:
    raw = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    image = nib.Nifti1Image(raw, np.eye(4))
    image.header.set_slope_inter(2.0, 1.0)
    path = tmp_path / "scaled.nii.gz"
    nib.save(image, str(path))
    assert nib.load(str(path)).get_data_dtype() == np.int16  # stored as int16 on disk
    data, _ = read_nifti(path)
    np.testing.assert_array_equal(data, 2.0 * raw + 1.0)


def test_stored_integer_dtype_is_kept(case: BratsCase) -> None:
    data, _ = read_nifti(case.images["flair"])
    assert data.dtype == np.int16


def test_label_value_7_is_a_label_error(case: BratsCase) -> None:
    assert case.label is not None
    labels = np.zeros(SHAPE, np.uint8)
    labels[1, 1, 1] = 7
    save(case.label, labels, affine_of(case))
    with pytest.raises(LabelError, match=r"unexpected label values \[7\]") as info:
        load_case(case)
    assert info.value.path == case.label
    assert info.value.patient_id == "BraTS2021_00007"


def test_brats2023_labels_in_2021_files_hint_at_the_convention(case: BratsCase) -> None:
    assert case.label is not None
    labels = np.zeros(SHAPE, np.uint8)
    labels[1, 1, 1] = 3
    save(case.label, labels, affine_of(case))
    with pytest.raises(LabelError, match="brats2023"):
        load_case(case)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_label_map_dtypes_are_accepted(case: BratsCase, dtype: type) -> None:
    assert case.label is not None
    labels = np.zeros(SHAPE, np.uint8)
    labels[2:5, 2:5, 2:5] = 2
    labels[3, 3, 3] = 4
    labels[3, 3, 4] = 1
    save(case.label, labels.astype(dtype), affine_of(case))
    loaded = load_case(case)
    assert loaded.label_map is not None
    assert loaded.label_map.dtype == np.uint8
    np.testing.assert_array_equal(loaded.label_map, labels)


def test_non_integral_float_labels_raise(case: BratsCase) -> None:
    assert case.label is not None
    labels = np.zeros(SHAPE, np.float32)
    labels[1, 1, 1] = 1.5
    save(case.label, labels, affine_of(case))
    with pytest.raises(LabelError, match="non-integer values"):
        load_case(case)


def test_files_are_not_modified(case: BratsCase) -> None:
    before = {p: p.read_bytes() for p in case.folder.iterdir()}
    load_case(case)
    assert {p: p.read_bytes() for p in case.folder.iterdir()} == before


def test_a_copied_case_folder_loads_the_same(case: BratsCase, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / case.case_id
    shutil.copytree(case.folder, copy)
    (found,) = find_brats_cases(copy)
    a, b = load_case(case), load_case(found)
    for modality in MODALITIES:
        np.testing.assert_array_equal(a.images[modality], b.images[modality])


def test_naming_table() -> None:
    assert NAMING["brats2021"]["t1ce"] == "_t1ce"
    assert NAMING["brats2023"]["flair"] == "-t2f"
    assert set(NAMING["brats2021"]) == set(NAMING["brats2023"]) == {*MODALITIES, "seg"}


# --- the real BraTS case ------------------------------------------------------------


@pytest.mark.realdata
def test_real_case_discovery(real_case_dir: Path) -> None:
    (found,) = find_brats_cases(real_case_dir)
    assert found.case_id == "BraTS2021_00006"
    assert found.convention == "brats2021"
    assert found.patient_number == "00006"
    assert tuple(found.images) == MODALITIES
    assert found.label is not None


@pytest.mark.realdata
def test_real_case_volumes(real_case: Any) -> None:
    assert real_case.shape == (240, 240, 155)
    for image in real_case.images.values():
        assert image.shape == (240, 240, 155)
        assert image.min() == 0  # skull-stripped: background exactly 0
    values, counts = np.unique(real_case.label_map, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        0: 8790089,
        1: 25506,
        2: 85957,
        4: 26448,
    }
    expected = np.diag([-1.0, -1.0, 1.0, 1.0])
    expected[1, 3] = 239.0
    np.testing.assert_allclose(real_case.affine, expected)


def test_write_nifti_is_atomic_keeps_dtype_and_geometry_and_normal_permissions(
    tmp_path: Path,
) -> None:
    import os
    import stat

    import nibabel as nib

    from radiogenomics.io import write_nifti

    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    affine = np.diag([-1.0, -1.0, 2.0, 1.0])
    out = write_nifti(data, affine, tmp_path / "sub" / "v.nii.gz")
    image = nib.load(str(out))
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), data)
    assert image.get_data_dtype() == np.int16
    np.testing.assert_array_equal(image.affine, affine)
    assert int(image.header["sform_code"]) == 1
    assert int(image.header["qform_code"]) == 1
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in out.parent.iterdir()] == ["v.nii.gz"], "no temporary file left"


def test_write_nifti_on_a_full_disk_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from radiogenomics.errors import StorageError
    from radiogenomics.io import write_nifti

    def full(image: object, filename: str) -> None:
        with open(filename, "wb") as handle:
            handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(nib, "save", full)
    target = tmp_path / "out" / "T1wCE.nii.gz"
    with pytest.raises(StorageError, match="no space left on device") as info:
        write_nifti(np.zeros((2, 2, 2), np.float32), np.eye(4), target)
    assert info.value.errno == errno.ENOSPC
    assert "T1wCE.nii.gz" in str(info.value)
    assert list((tmp_path / "out").iterdir()) == [], "no partial or temporary file is left"


# -- what the search finds, follows and reports (it used to skip in silence) -------------


def _rename_all(folder: Path, rename: Any) -> None:
    for path in sorted(folder.iterdir()):
        path.rename(folder / rename(path.name))


def test_upper_case_names_and_extensions_are_found(tmp_path: Path) -> None:
    from radiogenomics.io import scan_brats_cases

    cases = write_brats_cohort(tmp_path, n_cases=2, shape=(16, 16, 12))
    _rename_all(cases[0].folder, lambda n: n.replace("_flair", "_FLAIR").replace("_seg", "_SEG"))
    _rename_all(cases[1].folder, lambda n: n.replace(".nii.gz", ".NII.GZ"))
    scan = scan_brats_cases(tmp_path)
    assert [c.case_id for c in scan.cases] == [c.case_id for c in cases]
    assert all(set(c.images) == set(MODALITIES) for c in scan.cases)
    assert all(c.label is not None for c in scan.cases)
    assert scan.skipped == []
    loaded = load_case(scan.cases[1])
    assert loaded.label_map is not None


def test_symlinked_case_folders_are_followed_once(tmp_path: Path) -> None:
    from radiogenomics.io import scan_brats_cases

    store = tmp_path / "store"
    cases = write_brats_cohort(store, n_cases=2, shape=(16, 16, 12))
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(store, target_is_directory=True)
    (store / "loop").symlink_to(root, target_is_directory=True)  # root -> store -> root
    scan = scan_brats_cases(root)
    assert [c.case_id for c in scan.cases] == [c.case_id for c in cases]
    assert any("symbolic link loop" in reason for _, reason in scan.skipped)


def test_files_left_out_are_reported_with_the_reason(tmp_path: Path) -> None:
    import os

    from radiogenomics.io import scan_brats_cases

    cases = write_brats_cohort(tmp_path, n_cases=2, shape=(16, 16, 12))
    folder = cases[0].folder
    (folder / "notes.nii.gz").write_bytes(b"")
    bad = os.fsdecode(b"BraTS2021_00009\xff_flair.nii.gz")
    shutil.copy(cases[1].images["flair"], folder / bad)
    scan = scan_brats_cases(tmp_path)
    assert [c.case_id for c in scan.cases] == [c.case_id for c in cases]
    reasons = {p.name: r for p, r in scan.skipped}
    assert "names no modality" in reasons["notes.nii.gz"]
    assert "not valid UTF-8" in reasons[bad]


def test_a_header_claiming_a_huge_volume_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 30 KB .nii.gz whose header claimed 2000 x 2000 x 1250 voxels used 9.8 GB of memory
    # for 23 s before failing.
    from radiogenomics.errors import ConfigurationError
    from radiogenomics.io.nifti import MAX_VOXELS

    image = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    image.header.set_data_shape((2000, 2000, 1250))
    path = tmp_path / "bomb.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), str(path))
    raw = gzip.decompress(path.read_bytes())
    header = bytearray(raw[:352])
    header[40:56] = np.array([3, 2000, 2000, 1250, 1, 1, 1, 1], dtype="<i2").tobytes()
    path.write_bytes(gzip.compress(bytes(header) + raw[352:]))
    assert path.stat().st_size < 1000
    with pytest.raises(CorruptFileError, match="claims 5,000,000,000 voxels"):
        read_nifti(path)
    small = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), str(small))
    assert read_nifti(small)[0].shape == (8, 8, 8)
    with pytest.raises(CorruptFileError, match="limit of 100"):
        read_nifti(small, max_voxels=100)
    monkeypatch.setenv("RADIOGENOMICS_MAX_VOXELS", "100")
    with pytest.raises(CorruptFileError, match="limit of 100"):
        read_nifti(small)
    monkeypatch.setenv("RADIOGENOMICS_MAX_VOXELS", "lots")
    with pytest.raises(ConfigurationError, match="RADIOGENOMICS_MAX_VOXELS"):
        read_nifti(small)
    assert MAX_VOXELS >= 512 * 512 * 400  # a long Kaggle series still fits
