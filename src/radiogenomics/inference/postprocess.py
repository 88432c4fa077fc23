"""Clean-up of predicted masks: drop the small connected components (off by default).

A stage 1 model trained on tumor slices only tends to mark small specks on slices without
tumor, and stage 2 turns every slice with a predicted tumor into a frame. Most such specks
are small and alone, while a tumor is one large blob across neighbouring slices, so
dropping the connected components below a size removes many false masks and little tumor.

:class:`MaskCleanup` does that per mask channel, in 2D (each slice alone: components of
pixels) or in 3D (components of voxels across consecutive slices). The 3D form takes the
slices it is given as neighbours, in the order given: give it a whole volume or series
in geometric order (as :meth:`~radiogenomics.inference.MaskPredictor.predict_volume`,
:meth:`~radiogenomics.inference.MaskPredictor.predict_series` and the stage 2 frame
recipe, ``FrameRecipe``, do). Sizes are in pixels or voxels of the
slices as given (their native resolution), not in millimetres.

Components are found with ``scipy.ndimage.label`` and full connectivity (8
neighbours in 2D, 26 in 3D): two pixels touching at a corner are one component.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, short_repr
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError

__all__ = ["CleanupDims", "MaskCleanup", "remove_small_components"]

CleanupDims = Literal["2d", "3d"]
"""Where components are found (``"2d"`` in each slice alone, ``"3d"`` across slices)."""

_DIMS: tuple[CleanupDims, ...] = ("2d", "3d")


def _check_drop_below(drop_below: object) -> int:
    if isinstance(drop_below, bool) or not isinstance(drop_below, int | np.integer):
        raise ConfigurationError(
            f"drop_below={drop_below!r} must be a whole number of pixels (voxels in 3D)."
        )
    if drop_below < 0:
        raise ConfigurationError(f"drop_below={drop_below} must be at least 0 (0 drops nothing).")
    return int(drop_below)


def remove_small_components(
    masks: npt.NDArray[Any], *, drop_below: int, dims: CleanupDims = "3d"
) -> npt.NDArray[np.uint8]:
    """Binary masks without their connected components of fewer than ``drop_below`` voxels.

    Each channel is cleaned on its own. A component of exactly ``drop_below`` pixels
    (voxels) is kept; one of ``drop_below - 1`` is dropped; ``drop_below`` 0 or 1 drops
    nothing.

    Args:
        masks: 0/1 masks of a stack of slices, in geometric order for ``"3d"``.
        drop_below: Components with fewer pixels (2D) or voxels (3D) are dropped.
        dims: ``"2d"``: components within each slice; ``"3d"``: across consecutive
            slices.

    Returns:
        A new uint8 array of 0 and 1, of the input's shape; the input is not changed.

    Raises:
        GeometryError: ``masks`` is not (N, C, H, W).
        InvalidInputError: ``masks`` holds values other than 0 and 1.
        ConfigurationError: ``drop_below`` or ``dims`` is invalid.

    Shape:
        masks: (N, C, H, W); output: (N, C, H, W).

    Example:
        >>> import numpy as np
        >>> masks = np.zeros((3, 1, 6, 6), np.uint8)
        >>> masks[:, 0, 1:3, 1:3] = 1  # a 2 x 2 blob on three slices: 12 voxels in 3D
        >>> masks[1, 0, 5, 5] = 1  # one stray voxel
        >>> int(remove_small_components(masks, drop_below=4).sum())
        12
        >>> int(remove_small_components(masks, drop_below=5, dims="2d").sum())
        0
    """
    from scipy.ndimage import generate_binary_structure, label

    limit = _check_drop_below(drop_below)
    check_choice("dims", dims, _DIMS)
    data = np.asarray(masks)
    if data.ndim != 4:
        raise GeometryError(f"expected masks of shape (N, C, H, W); got shape {data.shape}.")
    if data.size and (data.min() < 0 or data.max() > 1):
        raise InvalidInputError(
            f"masks must hold 0 and 1 only; found values in [{data.min()}, {data.max()}]."
        )
    out = np.ascontiguousarray(data, dtype=np.uint8).copy()
    if limit <= 1 or not out.any():
        return out
    if dims == "3d":
        volumes = [out[:, c] for c in range(out.shape[1])]  # (N, H, W) per channel
        structure = generate_binary_structure(3, 3)
    else:
        volumes = [out[n, c] for n in range(out.shape[0]) for c in range(out.shape[1])]
        structure = generate_binary_structure(2, 2)
    for volume in volumes:  # views into out: cleaned in place
        labels, count = label(volume, structure=structure)
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        small = sizes < limit
        small[0] = False  # the background
        volume[small[labels]] = 0
    return out


class MaskCleanup:
    """Drop the small connected components of predicted masks (a mask post-processing).

    Called on the (N, C, H, W) masks of a stack of slices, it returns
    :func:`remove_small_components` of them. :class:`~radiogenomics.inference.MaskPredictor`
    takes one (``cleanup=``) and applies it to every stack it predicts.

    Args:
        drop_below: Components with fewer pixels (``"2d"``) or voxels (``"3d"``) than
            this are dropped; at least 2 (a smaller value would drop nothing).
        dims: ``"3d"`` (the default): components across consecutive slices, which must
            be given in geometric order; ``"2d"``: within each slice.

    Example:
        >>> MaskCleanup(drop_below=50)
        MaskCleanup(drop_below=50)
        >>> MaskCleanup(drop_below=20, dims="2d").to_dict()
        {'drop_below': 20, 'dims': '2d'}
    """

    def __init__(self, *, drop_below: int, dims: CleanupDims = "3d") -> None:
        limit = _check_drop_below(drop_below)
        if limit < 2:
            raise ConfigurationError(
                f"drop_below={limit} would drop nothing (every component has at least one "
                "voxel); use 2 or more, or no clean-up at all."
            )
        self.drop_below = limit
        self.dims: CleanupDims = check_choice("dims", dims, _DIMS)  # type: ignore[assignment]

    def __call__(self, masks: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
        """The masks without their small components (a new array).

        Shape:
            masks: (N, C, H, W); output: (N, C, H, W).
        """
        return remove_small_components(masks, drop_below=self.drop_below, dims=self.dims)

    def to_dict(self) -> dict[str, object]:
        """The settings, as JSON-ready data."""
        return {"drop_below": self.drop_below, "dims": self.dims}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskCleanup):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.drop_below, self.dims))

    def __repr__(self) -> str:
        return short_repr(self, drop_below=(self.drop_below, None), dims=(self.dims, "3d"))
