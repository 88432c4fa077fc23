"""Deterministic, BraTS-like synthetic Task 1 cases for tests, demos and benchmarks.

Each case is a brain-shaped ellipsoid with ventricles and smooth tissue texture, holding
a tumor made of a necrotic core (label 1) inside an enhancing rim (label 4, or 3 under
the BraTS 2023 convention) inside edema (label 2). The four modalities show the regions
with the contrasts radiologists expect: edema bright on FLAIR and T2, the rim bright on
T1ce, necrosis dark on T1 and T1ce. Everything is drawn from ``numpy.random.default_rng``
seeded by the caller: the same seed gives the same case, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from radiogenomics.io.nifti import MODALITIES, NAMING, BratsCase, volume_records
from radiogenomics.masks import ENHANCING_LABEL, LabelConvention
from radiogenomics.records import VolumeRecord

__all__ = ["SyntheticCase", "make_brats_case", "write_brats_cohort"]

# Mean intensity of (brain, CSF, edema, enhancing rim, necrosis) per modality.
_CONTRAST: Mapping[str, tuple[float, float, float, float, float]] = {
    "flair": (0.45, 0.15, 0.95, 0.70, 0.55),
    "t1": (0.60, 0.20, 0.45, 0.50, 0.20),
    "t1ce": (0.55, 0.20, 0.45, 1.00, 0.15),
    "t2": (0.40, 0.95, 0.85, 0.60, 0.90),
}


@dataclass(frozen=True, repr=False, eq=False)
class SyntheticCase:
    """One synthetic BraTS-like case held in memory.

    Attributes:
        case_id: ``"Synth_00001"``-style identifier.
        images: Modality to int16 volume of shape (X, Y, Z).
        label_map: uint8 label map of shape (X, Y, Z).
        affine: The 4x4 voxel-to-world affine (BraTS-like LPS storage).
        convention: The label convention of ``label_map``.
    """

    case_id: str
    images: Mapping[str, npt.NDArray[np.int16]]
    label_map: npt.NDArray[np.uint8]
    affine: npt.NDArray[np.float64]
    convention: LabelConvention = "brats2021"

    def volumes(self, *, regions: Sequence[str] = ("WT", "ET")) -> list[VolumeRecord]:
        """One :class:`~radiogenomics.records.VolumeRecord` per modality, with masks.

        Args:
            regions: The mask channels (``"WT"``, ``"TC"``, ``"ET"``).
        """
        return volume_records(
            self.case_id,
            self.images,
            self.label_map,
            self.affine,
            convention=self.convention,
            regions=tuple(regions),  # type: ignore[arg-type]
        )

    def write(self, root: str | Path) -> BratsCase:
        """Write the case as NIfTI files under ``root/<case_id>/``, named by convention.

        Returns:
            The written case, as :func:`~radiogenomics.io.find_brats_cases` finds it.
        """
        import nibabel as nib

        folder = Path(root) / self.case_id
        folder.mkdir(parents=True, exist_ok=True)
        names = NAMING[self.convention]
        paths: dict[str, Path] = {}
        for modality, image in self.images.items():
            path = folder / f"{self.case_id}{names[modality]}.nii.gz"
            nib.save(nib.Nifti1Image(image, self.affine), str(path))
            paths[modality] = path
        label_path = folder / f"{self.case_id}{names['seg']}.nii.gz"
        nib.save(nib.Nifti1Image(self.label_map, self.affine), str(label_path))
        return BratsCase(
            case_id=self.case_id,
            folder=folder,
            images=paths,
            label=label_path,
            convention=self.convention,
        )

    def __repr__(self) -> str:
        return f"SyntheticCase(case_id={self.case_id!r}, shape={self.label_map.shape})"


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int, int], sigma: float
) -> npt.NDArray[np.float32]:
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=sigma)
    std = float(noise.std())
    out: npt.NDArray[np.float32] = noise / np.float32(std) if std > 0 else noise
    return out


def _ellipsoid(
    grid: tuple[npt.NDArray[np.float32], ...],
    centre: npt.NDArray[np.float64],
    radii: npt.NDArray[np.float64],
    wobble: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.bool_]:
    distance = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    if wobble is not None:
        distance = distance + wobble
    return np.asarray(distance <= 1.0)


def make_brats_case(
    *,
    seed: int,
    shape: tuple[int, int, int] = (64, 64, 48),
    case_id: str | None = None,
    convention: LabelConvention = "brats2021",
    tumor_scale: float = 1.0,
    satellite: bool = False,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> SyntheticCase:
    """Generate one BraTS-like case.

    Args:
        seed: Seed of the case's random generator.
        shape: Volume shape (X, Y, Z); BraTS is (240, 240, 155).
        case_id: Identifier; default ``f"BraTS2021_{seed:05d}"``.
        convention: Label convention (ET = 4 or 3) and file naming.
        tumor_scale: Multiplies the tumor radii (1.0: about 1/4 of the brain's radius).
        satellite: Add a small second lesion, to exercise contour counting.
        spacing: Voxel size in mm.

    Returns:
        The case; the same arguments always give the same arrays.

    Example:
        >>> case = make_brats_case(seed=1, shape=(32, 32, 24))
        >>> sorted(int(v) for v in np.unique(case.label_map))
        [0, 1, 2, 4]
    """
    rng = np.random.default_rng(seed)
    dims = np.asarray(shape, dtype=np.float64)
    grid = tuple(
        np.asarray(g, dtype=np.float32) for g in np.ogrid[: shape[0], : shape[1], : shape[2]]
    )
    brain_centre = dims / 2 + rng.uniform(-0.03, 0.03, 3) * dims
    brain_radii = dims * rng.uniform(0.38, 0.44, 3)
    wobble = 0.08 * _smooth_noise(rng, shape, sigma=max(shape) / 8)
    brain = _ellipsoid(grid, brain_centre, brain_radii, wobble)
    ventricles = np.zeros(shape, dtype=bool)
    for side in (-1.0, 1.0):
        centre = brain_centre + np.array([side * 0.12, -0.05, 0.05]) * dims
        ventricles |= _ellipsoid(grid, centre, dims * np.array([0.05, 0.16, 0.10]))
    # Tumor: a point well inside the brain, away from the midline.
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tumor_centre = brain_centre + direction * brain_radii * rng.uniform(0.25, 0.45)
    base = brain_radii.mean() * rng.uniform(0.22, 0.3) * tumor_scale
    radii = base * rng.uniform(0.85, 1.15, 3)
    tumor_wobble = 0.15 * _smooth_noise(rng, shape, sigma=max(2.0, base / 3))
    edema = _ellipsoid(grid, tumor_centre, radii * 1.7, tumor_wobble) & brain
    rim = _ellipsoid(grid, tumor_centre, radii, tumor_wobble) & brain
    necrosis = _ellipsoid(grid, tumor_centre, radii * 0.55, tumor_wobble) & brain
    if satellite:
        offset = -direction * brain_radii * 0.45
        edema |= _ellipsoid(grid, brain_centre + offset, radii * 0.6) & brain
    et_label = ENHANCING_LABEL[convention]
    labels = np.zeros(shape, dtype=np.uint8)
    labels[edema] = 2
    labels[rim] = et_label
    labels[necrosis] = 1
    texture = _smooth_noise(rng, shape, sigma=1.5)
    images: dict[str, npt.NDArray[np.int16]] = {}
    for modality in MODALITIES:
        tissue, csf, ed, enh, nec = _CONTRAST[modality]
        volume = np.full(shape, tissue, dtype=np.float32)
        volume[ventricles] = csf
        volume[labels == 2] = ed
        volume[labels == et_label] = enh
        volume[labels == 1] = nec
        volume += 0.04 * texture + 0.02 * rng.standard_normal(shape).astype(np.float32)
        volume *= rng.uniform(700, 1300)
        volume[~brain] = 0
        images[modality] = np.clip(volume, 0, 32767).astype(np.int16)
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[1, 3] = (shape[1] - 1) * spacing[1]
    labels[~brain] = 0
    return SyntheticCase(
        case_id=case_id if case_id is not None else f"BraTS2021_{seed:05d}",
        images=images,
        label_map=labels,
        affine=affine,
        convention=convention,
    )


def write_brats_cohort(
    root: str | Path,
    *,
    n_cases: int,
    seed: int = 0,
    shape: tuple[int, int, int] = (64, 64, 48),
    convention: LabelConvention = "brats2021",
    first_id: int = 1,
) -> list[BratsCase]:
    """Write ``n_cases`` synthetic cases as a BraTS Task 1 folder.

    Case ``i`` (0-based) is ``make_brats_case(seed=seed * 100_003 + i, ...)`` named
    ``BraTS2021_{first_id + i:05d}`` (or ``BraTS-GLI-{id:05d}-000`` under the 2023
    convention).

    Returns:
        The written cases, sorted by identifier.
    """
    cases = []
    for i in range(n_cases):
        number = first_id + i
        case_id = (
            f"BraTS2021_{number:05d}"
            if convention == "brats2021"
            else f"BraTS-GLI-{number:05d}-000"
        )
        case = make_brats_case(
            seed=seed * 100_003 + i,
            shape=shape,
            case_id=case_id,
            convention=convention,
            satellite=(i % 4 == 3),
        )
        cases.append(case.write(root))
    return sorted(cases, key=lambda c: c.case_id)
