"""Tumor sub-region masks from BraTS label maps, and brain masks from images.

BraTS labels: 0 background, 1 necrotic tumor core (NCR), 2 peritumoral edema (ED),
and enhancing tumor (ET) = 4 (BraTS 2018-2021) or 3 (BraTS 2023). The evaluated
sub-regions are nested:

* whole tumor WT = NCR | ED | ET,
* tumor core TC = NCR | ET,
* enhancing tumor ET.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._cv import lut_u8
from radiogenomics._options import check_choice
from radiogenomics.errors import LabelError

__all__ = [
    "ENHANCING_LABEL",
    "REGIONS",
    "LabelConvention",
    "Region",
    "brain_mask",
    "check_label_map",
    "region_mask",
    "tumor_masks",
]

LabelConvention = Literal["brats2021", "brats2023"]
"""Which BraTS label convention a label map follows (ET = 4 or ET = 3)."""

Region = Literal["WT", "TC", "ET"]
"""A BraTS tumor sub-region (whole tumor, tumor core or enhancing tumor)."""

REGIONS: tuple[Region, ...] = ("WT", "TC", "ET")

ENHANCING_LABEL: dict[LabelConvention, int] = {"brats2021": 4, "brats2023": 3}
"""The label value of enhancing tumor under each convention."""


def _region_labels(region: Region, convention: LabelConvention) -> tuple[int, ...]:
    et = ENHANCING_LABEL[convention]
    return {"WT": (1, 2, et), "TC": (1, et), "ET": (et,)}[region]


def check_label_map(
    label_map: npt.NDArray[Any],
    *,
    convention: LabelConvention = "brats2021",
    path: str | Path | None = None,
    patient_id: str | None = None,
) -> npt.NDArray[np.uint8]:
    """Validate a label map and return it as uint8.

    Accepts integer or float label maps (as some tools write them); float values must be
    whole numbers within 1e-3.

    Args:
        label_map: Label values, any shape.
        convention: Which labels are allowed: {0, 1, 2, 4} or {0, 1, 2, 3}.
        path: Named in errors.
        patient_id: Named in errors.

    Returns:
        The label map as uint8, same shape.

    Raises:
        LabelError: Non-integral values, or values the convention does not define.
    """
    check_choice("convention", convention, ENHANCING_LABEL)
    values = np.asarray(label_map)
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise LabelError(
                "the label map holds NaN or infinite values.", path=path, patient_id=patient_id
            )
        rounded = np.rint(values)
        if not np.allclose(values, rounded, atol=1e-3):
            raise LabelError(
                "the label map holds non-integer values (an image saved as a label map?); "
                "expected whole-number labels.",
                path=path,
                patient_id=patient_id,
            )
        values = rounded
    allowed = {0, 1, 2, ENHANCING_LABEL[convention]}
    in_byte_range = values.size == 0 or (int(values.min()) >= 0 and int(values.max()) <= 255)
    if in_byte_range:
        labels = values.astype(np.uint8, copy=False)
        bad = np.ones(256, dtype=np.uint8)
        bad[sorted(allowed)] = 0
        if not lut_u8(labels, bad).any():
            return labels
    present = {int(v) for v in np.unique(values)}
    unknown = sorted(present - allowed)
    if unknown:
        other: LabelConvention = "brats2023" if convention == "brats2021" else "brats2021"
        hint = (
            f" The values fit the {other} convention; name the files accordingly."
            if present <= {0, 1, 2, ENHANCING_LABEL[other]}
            else ""
        )
        raise LabelError(
            f"unexpected label values {unknown}; the {convention} convention allows "
            f"{sorted(allowed)}.{hint}",
            path=path,
            patient_id=patient_id,
        )
    return values.astype(np.uint8, copy=False)


def region_mask(
    label_map: npt.NDArray[np.integer], region: Region, *, convention: LabelConvention = "brats2021"
) -> npt.NDArray[np.bool_]:
    """Binary mask of one tumor sub-region.

    Args:
        label_map: Integer labels, any shape.
        region: ``"WT"``, ``"TC"`` or ``"ET"``.
        convention: ``"brats2021"`` (ET = 4) or ``"brats2023"`` (ET = 3).

    Returns:
        A bool array of the same shape.

    Example:
        >>> import numpy as np
        >>> labels = np.array([0, 1, 2, 4])
        >>> region_mask(labels, "TC").tolist()
        [False, True, False, True]
    """
    check_choice("region", region, REGIONS)
    check_choice("convention", convention, ENHANCING_LABEL)
    labels = _region_labels(region, convention)
    if label_map.dtype == np.uint8:
        table = np.zeros(256, dtype=np.uint8)
        table[list(labels)] = 1
        return lut_u8(label_map, table).view(np.bool_)
    mask = np.asarray(label_map == labels[0])
    for value in labels[1:]:
        mask |= label_map == value
    return mask


def tumor_masks(
    label_map: npt.NDArray[np.integer],
    *,
    regions: Sequence[Region] = ("WT", "ET"),
    convention: LabelConvention = "brats2021",
) -> npt.NDArray[np.uint8]:
    """Stack sub-region masks as channels.

    Args:
        label_map: Integer labels of shape (X, Y, Z) (or any shape S).
        regions: The channels, in order; the reference uses ``("WT", "ET")``.
        convention: ``"brats2021"`` or ``"brats2023"``.

    Returns:
        uint8 array of shape ``(len(regions), *S)`` with values 0 or 1.
    """
    return np.stack([region_mask(label_map, r, convention=convention) for r in regions]).astype(
        np.uint8
    )


def brain_mask(
    images: npt.NDArray[Any] | Sequence[npt.NDArray[Any]],
    *,
    threshold: float = 0.0,
) -> npt.NDArray[np.bool_]:
    """Brain (foreground) mask of skull-stripped images: voxels above ``threshold``.

    BraTS volumes are skull-stripped with background exactly 0, so the default marks
    every non-zero voxel. Given several co-registered images, a voxel is brain when it
    is above the threshold in any of them.

    Args:
        images: One array, or a sequence of arrays of one shape.
        threshold: Intensities strictly above it are foreground.

    Returns:
        A bool array of the images' shape.
    """
    if isinstance(images, np.ndarray):
        return np.asarray(images > threshold)
    stack = list(images)
    mask = np.asarray(stack[0] > threshold)
    for image in stack[1:]:
        mask = mask | (image > threshold)
    return mask
