"""Predicted WT/ET masks as one label map, written as NIfTI.

Encoding of :func:`masks_to_label_map` (what ``radiogenomics segment`` writes):

* 0: background;
* 1: whole tumor (WT) without enhancing tumor;
* 2: enhancing tumor (ET). ET lies inside WT by definition; a voxel predicted ET is
  labelled 2 even where the model did not predict WT there (ET overrides).

So ``labels >= 1`` is the predicted WT (union with ET) and ``labels == 2`` the ET.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import ConfigurationError, GeometryError
from radiogenomics.io.nifti import write_nifti

__all__ = ["ET_LABEL", "WT_LABEL", "check_nifti_path", "masks_to_label_map", "save_label_map"]

WT_LABEL = 1
"""Label of whole-tumor voxels that are not enhancing tumor."""

ET_LABEL = 2
"""Label of enhancing-tumor voxels."""


def masks_to_label_map(masks: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """Encode two binary masks (WT, ET) as one uint8 label map (0, 1, 2).

    Args:
        masks: WT then ET, binary (any non-zero value is in the mask).

    Returns:
        A new uint8 array: 0 background, :data:`WT_LABEL` WT only, :data:`ET_LABEL` ET.

    Shape:
        - masks: (2, X, Y, Z) (or (2, ...) for any spatial shape).
        - output: (X, Y, Z).

    Raises:
        GeometryError: ``masks`` does not have exactly two channels.

    Example:
        >>> import numpy as np
        >>> masks_to_label_map(np.array([[1, 1, 0], [0, 1, 1]])).tolist()
        [1, 2, 2]
    """
    data = np.asarray(masks)
    if data.ndim < 1 or data.shape[0] != 2:
        raise GeometryError(
            f"expected two mask channels (WT, ET) along the first axis; got shape {data.shape}."
        )
    labels = np.zeros(data.shape[1:], dtype=np.uint8)
    labels[data[0] != 0] = WT_LABEL
    labels[data[1] != 0] = ET_LABEL
    return labels


def check_nifti_path(path: str | os.PathLike[str], *, name: str = "out") -> str:
    """The NIfTI suffix of ``path`` (``".nii.gz"`` or ``".nii"``), or a clear error.

    Raises:
        ConfigurationError: ``path`` does not name a file ending in ``.nii.gz`` or ``.nii``.
    """
    file_name = Path(path).name
    suffix = next((s for s in (".nii.gz", ".nii") if file_name.endswith(s)), None)
    if suffix is None or file_name == suffix:
        raise ConfigurationError(
            f"{name}={str(path)!r} must name a file ending in '.nii.gz' or '.nii'."
        )
    return suffix


def save_label_map(
    labels: npt.NDArray[Any],
    affine: npt.NDArray[np.floating],
    path: str | os.PathLike[str],
) -> Path:
    """Write a uint8 label map as NIfTI, atomically, with ``affine`` as qform and sform.

    The file is written to a hidden temporary file beside ``path`` and then moved over
    it, so a reader never sees a partial file; missing parent folders are created.

    Args:
        labels: The label map (stored as uint8).
        affine: Its 4x4 voxel-to-world (RAS+) affine, stored with code 1 (scanner).
        path: A file ending in ``.nii.gz`` or ``.nii``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Shape:
        - labels: (X, Y, Z).
        - affine: (4, 4).

    Raises:
        ConfigurationError: ``path`` does not end in ``.nii.gz`` or ``.nii``.
        GeometryError: ``labels`` is not 3D or ``affine`` not 4x4.
    """
    check_nifti_path(path, name="path")
    data = np.asarray(labels)
    matrix = np.array(affine, dtype=np.float64)
    if data.ndim != 3:
        raise GeometryError(f"expected a 3D label map; got shape {data.shape}.")
    if matrix.shape != (4, 4):
        raise GeometryError(f"expected a 4x4 affine; got shape {matrix.shape}.")
    return write_nifti(data.astype(np.uint8), matrix, path)
