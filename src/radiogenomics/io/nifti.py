"""BraTS Task 1 cases stored as NIfTI volumes.

Both naming conventions are recognised:

* BraTS 2018-2021: ``<ID>_flair``, ``_t1``, ``_t1ce``, ``_t2``, ``_seg`` (enhancing tumor = 4);
* BraTS 2023: ``<ID>-t2f``, ``-t1n``, ``-t1c``, ``-t2w``, ``-seg`` (enhancing tumor = 3).

Modalities are always reported under the 2021 names (``flair``, ``t1``, ``t1ce``, ``t2``).
Volumes are read with nibabel, which applies the header's scaling factors
(``scl_slope``/``scl_inter``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    RadiogenomicsError,
)
from radiogenomics.masks import (
    LabelConvention,
    Region,
    brain_mask,
    check_label_map,
    tumor_masks,
)
from radiogenomics.records import VolumeRecord

__all__ = [
    "MAX_VOXELS",
    "MODALITIES",
    "NAMING",
    "BratsCase",
    "BratsScan",
    "LoadedCase",
    "find_brats_cases",
    "load_case",
    "read_nifti",
    "scan_brats_cases",
    "volume_records",
    "write_nifti",
]

MODALITIES: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
"""The four structural modalities, under their BraTS 2021 names."""

NAMING: Mapping[LabelConvention, Mapping[str, str]] = {
    "brats2021": {"flair": "_flair", "t1": "_t1", "t1ce": "_t1ce", "t2": "_t2", "seg": "_seg"},
    "brats2023": {"flair": "-t2f", "t1": "-t1n", "t1ce": "-t1c", "t2": "-t2w", "seg": "-seg"},
}
"""File-name suffixes (before ``.nii.gz`` or ``.nii``) of each naming convention."""

_EXTENSIONS = (".nii.gz", ".nii")
_AFFINE_ATOL = 1e-3


@dataclass(frozen=True)
class BratsCase:
    """Where the files of one BraTS Task 1 case are.

    Attributes:
        case_id: The case identifier, the file-name prefix (``"BraTS2021_00006"``).
        folder: The folder holding the case's files.
        images: Modality name (``flair``, ``t1``, ``t1ce``, ``t2``) to file path.
        label: The label map's path, or ``None`` when the case has none.
        convention: The naming (and label) convention the files follow.
    """

    case_id: str
    folder: Path
    images: Mapping[str, Path]
    label: Path | None
    convention: LabelConvention

    @property
    def patient_number(self) -> str | None:
        """The 5-digit BraTS21 patient number (``"00006"``), used by the leakage guard.

        ``BraTS2021_00006`` and ``BraTS-GLI-00006-000`` both give ``"00006"``; ``None``
        when the identifier holds no 5-digit number.
        """
        match = re.search(r"(?<!\d)(\d{5})(?!\d)", self.case_id)
        return match.group(1) if match else None


@dataclass(frozen=True, repr=False, eq=False)
class LoadedCase:
    """The decoded volumes of one case.

    Attributes:
        case: Where the volumes were read from.
        images: Modality to volume of shape (X, Y, Z), in the stored dtype (float when
            the header scales the values).
        label_map: Integer label map of shape (X, Y, Z) and dtype uint8, or ``None``.
        affine: The shared 4x4 voxel-to-world affine (RAS+, mm).
    """

    case: BratsCase
    images: Mapping[str, npt.NDArray[Any]]
    label_map: npt.NDArray[np.uint8] | None
    affine: npt.NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shared volume shape (X, Y, Z)."""
        first = next(iter(self.images.values()))
        return (int(first.shape[0]), int(first.shape[1]), int(first.shape[2]))

    def volumes(self, *, regions: Sequence[Region] = ("WT", "ET")) -> list[VolumeRecord]:
        """One record per modality, sharing the tumor masks and the brain mask.

        Args:
            regions: The mask channels, in order.

        Raises:
            InputNotFoundError: The case was loaded without a label map.
        """
        if self.label_map is None:
            raise InputNotFoundError(
                "the case was loaded without a label map; masks need one.",
                path=self.case.folder,
                patient_id=self.case.case_id,
            )
        return volume_records(
            self.case.case_id,
            self.images,
            self.label_map,
            self.affine,
            convention=self.case.convention,
            regions=regions,
            sources={m: str(p) for m, p in self.case.images.items()},
        )

    def __repr__(self) -> str:
        return (
            f"LoadedCase(case_id={self.case.case_id!r}, modalities={tuple(self.images)}, "
            f"shape={self.shape}, label={'yes' if self.label_map is not None else 'no'})"
        )


def volume_records(
    case_id: str,
    images: Mapping[str, npt.NDArray[Any]],
    label_map: npt.NDArray[np.integer],
    affine: npt.NDArray[np.floating],
    *,
    convention: LabelConvention = "brats2021",
    regions: Sequence[Region] = ("WT", "ET"),
    sources: Mapping[str, str] | None = None,
) -> list[VolumeRecord]:
    """Turn co-registered modalities and their label map into one record per modality.

    Every record shares one tumor-mask array (channels ``regions``) and one brain mask
    (foreground of any modality); nothing is copied per modality.

    Args:
        case_id: The records' ``patient_id``.
        images: Modality to volume.
        label_map: The label map.
        affine: The shared affine.
        convention: The label convention.
        regions: The mask channels, in order.
        sources: Modality to file path, named in errors.

    Shape:
        - images: each (X, Y, Z); label_map: (X, Y, Z).
        - each record's masks: (len(regions), X, Y, Z).
    """
    masks = tumor_masks(label_map, regions=regions, convention=convention)
    brain = brain_mask(list(images.values()))
    return [
        VolumeRecord(
            patient_id=case_id,
            modality=modality,
            image=image,
            affine=np.asarray(affine, dtype=np.float64),
            masks=masks,
            brain=brain,
            mask_channels=tuple(regions),
            source=None if sources is None else sources.get(modality),
        )
        for modality, image in images.items()
    ]


def _strip_extension(name: str) -> str | None:
    lowered = name.lower()
    for ext in _EXTENSIONS:
        if lowered.endswith(ext):
            return name[: -len(ext)]
    return None


def _utf8_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by the OS as surrogates
        return False
    return True


def _case_in_folder(folder: Path, skipped: list[tuple[Path, str]]) -> list[BratsCase]:
    stems: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        stem = _strip_extension(path.name)
        if stem is None:
            continue
        if not _utf8_name(path.name):
            skipped.append(
                (path, "the file name is not valid UTF-8; rename the file (letters, digits, _ -)")
            )
            continue
        stems[stem] = path
    cases: list[BratsCase] = []
    claimed: set[Path] = set()
    for convention, naming in NAMING.items():
        seen: dict[str, dict[str, Path]] = {}
        for stem, path in stems.items():
            for key, suffix in naming.items():
                if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                    seen.setdefault(stem[: -len(suffix)], {})[key] = path
        for case_id, files in sorted(seen.items()):
            images = {m: files[m] for m in MODALITIES if m in files}
            if not images:
                continue
            claimed.update(files.values())
            cases.append(
                BratsCase(
                    case_id=case_id,
                    folder=folder,
                    images=images,
                    label=files.get("seg"),
                    convention=convention,
                )
            )
    known = ", ".join(sorted({s for naming in NAMING.values() for s in naming.values()}))
    skipped.extend(
        (path, f"a NIfTI file that names no modality (expected a name ending in one of {known})")
        for path in stems.values()
        if path not in claimed
    )
    return cases


def _folders(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``root`` and every folder under it, following symbolic links once each."""
    found: list[Path] = []
    loops: list[tuple[Path, str]] = []
    visited: set[str] = set()
    for current, dirs, _ in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in visited:
            loops.append((Path(current), f"already searched as {real} (a symbolic link loop)"))
            dirs.clear()
            continue
        visited.add(real)
        dirs.sort()
        found.append(Path(current))
    return found, loops


@dataclass(frozen=True)
class BratsScan:
    """What :func:`scan_brats_cases` found under a folder.

    Attributes:
        root: The folder searched.
        cases: The cases found, sorted by ``case_id``.
        skipped: ``(path, reason)`` of every NIfTI file (or linked folder) that was not
            taken, and why.
    """

    root: Path
    cases: list[BratsCase]
    skipped: list[tuple[Path, str]]


def scan_brats_cases(root: str | Path) -> BratsScan:
    """Find the BraTS Task 1 cases under a folder, and say what was left out and why.

    Like :func:`find_brats_cases`, but NIfTI files that belong to no case (a name that
    names no modality, a name that is not valid UTF-8) and symbolic-link loops are
    reported in :attr:`BratsScan.skipped` instead of being passed over in silence.

    Raises:
        InputNotFoundError: ``root`` does not exist or holds no case.
        InvalidInputError: One case identifier is found in more than one folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(
            "the BraTS folder does not exist or is not a folder; pass the folder that holds "
            "the case folders (e.g. .../BraTS2021_Training_Data).",
            path=root,
        )
    folders, skipped = _folders(root)
    cases = [case for folder in folders for case in _case_in_folder(folder, skipped)]
    if not cases:
        raise InputNotFoundError(
            "no BraTS case found: expected files named <ID>_flair.nii.gz, <ID>_t1.nii.gz, "
            "<ID>_t1ce.nii.gz, <ID>_t2.nii.gz (BraTS 2021) or <ID>-t2f/-t1n/-t1c/-t2w.nii.gz "
            "(BraTS 2023), in any letter case.",
            path=root,
        )
    ids = [c.case_id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidInputError(
            f"case identifiers found in more than one folder: {duplicates[:5]}; keep one copy "
            "of each case under the root.",
            path=root,
        )
    return BratsScan(root=root, cases=sorted(cases, key=lambda c: c.case_id), skipped=skipped)


def find_brats_cases(root: str | Path) -> list[BratsCase]:
    """Find the BraTS Task 1 cases under a folder.

    ``root`` may be a single case folder or hold case folders at any depth; symbolic
    links to folders are followed (each real folder is searched once). Cases are
    recognised by their file names under either naming convention (see :data:`NAMING`),
    in any letter case (``_FLAIR.nii.gz``, ``.NII.GZ``), and returned sorted by case
    identifier. A case missing some modality is returned as found; :func:`load_case`
    reports what is missing. :func:`scan_brats_cases` also reports the files left out.

    Args:
        root: A case folder or a folder of case folders.

    Returns:
        The cases found, sorted by ``case_id``.

    Raises:
        InputNotFoundError: ``root`` does not exist or holds no case.
        InvalidInputError: One case identifier is found in more than one folder.
    """
    return scan_brats_cases(root).cases


MAX_VOXELS = 2**28
"""The most voxels :func:`read_nifti` reads by default (268 million: 1 GiB as float32).

A BraTS volume has 8.9 million voxels; a long Kaggle series as NIfTI, 512 x 512 x 400
= 105 million. A header claiming more is checked before anything is allocated (a 30 KB
damaged file once claimed 5 billion voxels and took 9.8 GB of memory before failing).
Override it per call (``max_voxels=``) or for a whole run with the environment variable
``RADIOGENOMICS_MAX_VOXELS``."""


def _voxel_limit(max_voxels: int | None) -> int:
    if max_voxels is not None:
        return int(max_voxels)
    raw = os.environ.get("RADIOGENOMICS_MAX_VOXELS")
    if raw is None:
        return MAX_VOXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(
            f"RADIOGENOMICS_MAX_VOXELS={raw!r} must be a positive whole number of voxels."
        )
    return value


def read_nifti(
    path: str | Path, *, patient_id: str | None = None, max_voxels: int | None = None
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """Read a 3D NIfTI volume (header scaling applied) with its affine.

    The stored dtype is kept (int16 stays int16, no float copy) unless the header's
    ``scl_slope``/``scl_inter`` scale the values, in which case nibabel returns floats.
    The size the header claims is checked against ``max_voxels`` before any voxel is
    read, so a damaged header cannot make the reader allocate gigabytes.

    Args:
        path: A ``.nii`` or ``.nii.gz`` file.
        patient_id: Named in errors, when known.
        max_voxels: The most voxels accepted; default :data:`MAX_VOXELS` (or the
            ``RADIOGENOMICS_MAX_VOXELS`` environment variable).

    Returns:
        The volume, of shape (X, Y, Z), and its 4x4 affine.

    Raises:
        InputNotFoundError: The file does not exist.
        CorruptFileError: The file cannot be decoded (truncated, not NIfTI), or its header
            claims more than ``max_voxels`` voxels.
        GeometryError: The volume is not 3D (a trailing axis of length 1 is dropped) or
            its affine holds NaN or infinite values.
        InvalidInputError: The volume holds NaN or infinite values (rejected, never
            replaced: the message gives the counts), or values that are not numbers.
    """
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("the NIfTI file does not exist.", path=path, patient_id=patient_id)
    limit = _voxel_limit(max_voxels)
    try:
        image = nib.load(str(path))  # reads the header only
        claimed = math.prod(int(v) for v in image.header.get_data_shape())
        if claimed > limit:
            raise CorruptFileError(
                f"the header claims {claimed:,} voxels (shape "
                f"{tuple(int(v) for v in image.header.get_data_shape())}), more than the "
                f"limit of {limit:,}; the header is damaged, or the volume is far larger than "
                "an MRI series. If it is real, raise the limit (max_voxels=, or the "
                "RADIOGENOMICS_MAX_VOXELS environment variable).",
                path=path,
                patient_id=patient_id,
            )
        data = np.asanyarray(image.dataobj)
        affine = np.asarray(image.affine, dtype=np.float64)
    except RadiogenomicsError:
        raise
    except Exception as error:  # nibabel raises many types (ImageFileError, EOFError, zlib...)
        raise CorruptFileError(
            f"cannot decode the NIfTI file ({type(error).__name__}: {error}); the file is "
            "truncated or not NIfTI. Re-download or re-export it.",
            path=path,
            patient_id=patient_id,
        ) from error
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise GeometryError(
            f"expected a 3D volume; got shape {data.shape}. Split 4D files into one volume "
            "per modality.",
            path=path,
            patient_id=patient_id,
        )
    if data.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"unsupported voxel dtype {data.dtype}; expected integer or float intensities.",
            path=path,
            patient_id=patient_id,
        )
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        nan = int(np.count_nonzero(np.isnan(data)))
        inf = int(np.count_nonzero(np.isinf(data)))
        raise InvalidInputError(
            f"the volume holds non-finite voxels ({nan} NaN, {inf} infinite, of {data.size}); "
            "they are not replaced, as any value chosen would change the slices and masks. "
            "Fix the export (or the header scaling) that produced them, or leave the case out.",
            path=path,
            patient_id=patient_id,
        )
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise GeometryError(
            f"the affine holds NaN or infinite values ({affine.tolist()}); the header's "
            "qform/sform or pixel dimensions are damaged. Re-export the file.",
            path=path,
            patient_id=patient_id,
        )
    return data, affine


def _check_not_blank(data: npt.NDArray[Any], path: Path, case_id: str) -> None:
    """Refuse a modality whose voxels all hold one value (an empty or failed export)."""
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if low == high:
        raise InvalidInputError(
            f"every voxel of this {data.shape} volume is {low:g}: the image is blank (an empty "
            "or failed export). Its slices would pair a blank image with the tumor masks; "
            "re-export the modality, or leave the case out.",
            path=path,
            patient_id=case_id,
        )


def load_case(
    case: BratsCase,
    *,
    modalities: Iterable[str] = MODALITIES,
    require_label: bool = True,
) -> LoadedCase:
    """Decode a case's volumes and check that they share shape and affine.

    Args:
        case: The case, from :func:`find_brats_cases`.
        modalities: The modalities to read.
        require_label: Fail when the case has no label map.

    Returns:
        The decoded case; label values are checked against the case's convention. An
        all-zero label map is valid (a case without tumor: it gives no slice).

    Raises:
        InputNotFoundError: A requested modality or the label map is missing.
        GeometryError: Volumes differ in shape or affine.
        LabelError: The label map holds values its convention does not define.
        CorruptFileError: A file cannot be decoded.
        InvalidInputError: A modality is blank (every voxel the same value, e.g. all
            zero), or holds NaN or infinite values.
    """
    modalities = tuple(modalities)
    missing = [m for m in modalities if m not in case.images]
    if missing:
        expected = ", ".join(case.case_id + NAMING[case.convention][m] + ".nii.gz" for m in missing)
        raise InputNotFoundError(
            f"missing modalities {missing}; expected files {expected}.",
            path=case.folder,
            patient_id=case.case_id,
        )
    if require_label and case.label is None:
        raise InputNotFoundError(
            f"no label map; expected {case.case_id}{NAMING[case.convention]['seg']}.nii.gz "
            "(pass require_label=False to read images only).",
            path=case.folder,
            patient_id=case.case_id,
        )
    images: dict[str, npt.NDArray[Any]] = {}
    reference: tuple[Path, tuple[int, ...], npt.NDArray[np.float64]] | None = None

    def check(path: Path, shape: tuple[int, ...], affine: npt.NDArray[np.float64]) -> None:
        nonlocal reference
        if reference is None:
            reference = (path, shape, affine)
            return
        ref_path, ref_shape, ref_affine = reference
        if shape != ref_shape:
            raise GeometryError(
                f"shape {shape} differs from {ref_shape} of {ref_path.name}; all modalities "
                "and the label map must be co-registered on one grid.",
                path=path,
                patient_id=case.case_id,
            )
        if not np.allclose(affine, ref_affine, atol=_AFFINE_ATOL):
            raise GeometryError(
                f"affine differs from that of {ref_path.name} (max difference "
                f"{float(np.abs(affine - ref_affine).max()):.4g}); resample the volumes onto "
                "one grid first.",
                path=path,
                patient_id=case.case_id,
            )

    for modality in modalities:
        path = case.images[modality]
        data, affine = read_nifti(path, patient_id=case.case_id)
        check(path, data.shape, affine)
        _check_not_blank(data, path, case.case_id)
        images[modality] = data
    label_map: npt.NDArray[np.uint8] | None = None
    if case.label is not None:
        raw, affine = read_nifti(case.label, patient_id=case.case_id)
        check(case.label, raw.shape, affine)
        label_map = check_label_map(
            raw, convention=case.convention, path=case.label, patient_id=case.case_id
        )
    assert reference is not None
    return LoadedCase(case=case, images=images, label_map=label_map, affine=reference[2])


def write_nifti(
    data: npt.NDArray[Any], affine: npt.NDArray[np.floating], path: str | os.PathLike[str]
) -> Path:
    """Write a volume as NIfTI, atomically, with ``affine`` as both qform and sform.

    The file appears complete or not at all (written beside ``path``, then renamed);
    missing parent folders are created. The affine is stored with code 1 (scanner
    coordinates), units in millimetres.

    Args:
        data: The voxels; their dtype is kept.
        affine: The 4x4 voxel-to-world (RAS+) affine.
        path: A ``.nii.gz`` or ``.nii`` file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Shape:
        - data: (X, Y, Z).
        - affine: (4, 4).
    """
    import nibabel as nib

    from radiogenomics._atomic import atomic_target

    out = Path(path)
    matrix = np.asarray(affine, dtype=np.float64)
    image = nib.Nifti1Image(np.asarray(data), matrix)
    image.set_qform(matrix, code=1)
    image.set_sform(matrix, code=1)
    image.header.set_xyzt_units("mm")
    suffix = ".nii.gz" if out.name.endswith(".gz") else ".nii"
    with atomic_target(out, suffix=suffix) as temporary:
        nib.save(image, str(temporary))
    return out
