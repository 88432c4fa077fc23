"""Which stored array axis holds which anatomical plane, and how to lay a slice out.

nibabel's :func:`~nibabel.orientations.io_orientation` tells, for each array axis, the
closest RAS+ world axis and its direction. A slice perpendicular to world x is
sagittal, to y coronal, to z axial, whatever order the axes are stored in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import GeometryError
from radiogenomics.records import PLANES, Plane

__all__ = ["Orientation", "SliceLayout", "plane_axes", "slice_layout"]

Orientation = Literal["native", "radiological"]
"""How a 2D slice is laid out.

``"native"``: the stored array's axes, as the released code does (rows = the first of
the two in-plane array axes). ``"radiological"``: the display convention of DICOM
viewers, whatever the stored orientation: axial slices have rows anterior to posterior
and columns patient right to left; coronal rows superior to inferior and columns right
to left; sagittal rows superior to inferior and columns anterior to posterior.
"""

# Desired (world axis, sign) of the row and column directions under "radiological".
# RAS+ world: +x points to the patient's right, +y anterior, +z superior.
_RADIOLOGICAL: dict[Plane, tuple[tuple[int, int], tuple[int, int]]] = {
    "axial": ((1, -1), (0, -1)),  # rows towards posterior (-y), columns towards left (-x)
    "coronal": ((2, -1), (0, -1)),  # rows towards inferior (-z), columns towards left (-x)
    "sagittal": ((2, -1), (1, -1)),  # rows towards inferior (-z), columns towards posterior
}


def plane_axes(affine: npt.NDArray[np.floating], *, source: str | None = None) -> dict[Plane, int]:
    """Map each anatomical plane to the array axis perpendicular to it.

    Args:
        affine: A 4x4 voxel-to-world (RAS+) affine.
        source: Named in errors.

    Returns:
        ``{"sagittal": a, "coronal": b, "axial": c}`` with ``{a, b, c} == {0, 1, 2}``.

    Raises:
        GeometryError: The affine is singular.

    Example:
        >>> import numpy as np
        >>> plane_axes(np.diag([-1.0, -1.0, 1.0, 1.0]))
        {'sagittal': 0, 'coronal': 1, 'axial': 2}
    """
    from nibabel.orientations import io_orientation

    matrix = np.asarray(affine, dtype=np.float64)
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise GeometryError(f"the affine is singular:\n{matrix}", path=source)
    ornt = io_orientation(matrix)
    mapping: dict[Plane, int] = {}
    for axis, (world, _flip) in enumerate(ornt):
        mapping[PLANES[int(world)]] = axis
    return {plane: mapping[plane] for plane in PLANES}


@dataclass(frozen=True)
class SliceLayout:
    """How to cut one plane's slices from a volume and lay them out in 2D.

    Attributes:
        axis: The array axis the slices are cut along.
        transpose: Swap the two in-plane axes.
        flip_rows: Reverse the row order (after the transpose).
        flip_cols: Reverse the column order (after the transpose).
    """

    axis: int
    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def apply(self, volume: npt.NDArray[Any], index: int) -> npt.NDArray[Any]:
        """Slice ``index`` along :attr:`axis`, laid out; a view, never a copy.

        Args:
            volume: Shape (X, Y, Z), or (C, X, Y, Z) for channel stacks.
            index: The slice index along :attr:`axis`.

        Returns:
            Shape (H, W), or (C, H, W).
        """
        lead = volume.ndim - 3
        key: list[slice | int] = [slice(None)] * volume.ndim
        key[lead + self.axis] = index
        out = volume[tuple(key)]
        if self.transpose:
            out = np.swapaxes(out, -1, -2)
        if self.flip_rows:
            out = out[..., ::-1, :]
        if self.flip_cols:
            out = out[..., :, ::-1]
        return out


def slice_layout(
    affine: npt.NDArray[np.floating], plane: Plane, *, orientation: Orientation = "native"
) -> SliceLayout:
    """How to cut and lay out the slices of ``plane`` from a volume with ``affine``.

    Args:
        affine: The volume's 4x4 voxel-to-world (RAS+) affine.
        plane: The anatomical plane wanted.
        orientation: ``"native"`` or ``"radiological"`` (see :data:`Orientation`).

    Returns:
        The layout; ``SliceLayout.apply(volume, k)`` gives slice ``k``.
    """
    from nibabel.orientations import io_orientation

    axis = plane_axes(affine)[plane]
    if orientation == "native":
        return SliceLayout(axis=axis)
    ornt = io_orientation(np.asarray(affine, dtype=np.float64))
    row_axis, col_axis = (a for a in range(3) if a != axis)
    (want_row_world, want_row_sign), (_want_col_world, want_col_sign) = _RADIOLOGICAL[plane]
    transpose = int(ornt[row_axis][0]) != want_row_world
    if transpose:
        row_axis, col_axis = col_axis, row_axis
    flip_rows = int(ornt[row_axis][1]) != want_row_sign
    flip_cols = int(ornt[col_axis][1]) != want_col_sign
    return SliceLayout(axis=axis, transpose=transpose, flip_rows=flip_rows, flip_cols=flip_cols)
