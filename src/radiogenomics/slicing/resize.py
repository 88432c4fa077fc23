"""Resizing slices and their masks together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.records import SliceRecord

__all__ = ["ResizeSlices", "resize_slice"]


def _resize(array: npt.NDArray[Any], size: int, *, nearest: bool) -> npt.NDArray[Any]:
    import cv2

    if array.shape[:2] == (size, size):
        return np.array(array)
    src = np.ascontiguousarray(array)
    if nearest:
        interpolation = cv2.INTER_NEAREST
    elif src.shape[0] >= size and src.shape[1] >= size:
        interpolation = cv2.INTER_AREA
    else:
        interpolation = cv2.INTER_LINEAR
    return np.asarray(cv2.resize(src, (size, size), interpolation=interpolation))


def resize_slice(
    image: npt.NDArray[Any],
    masks: npt.NDArray[np.uint8] | None,
    brain: npt.NDArray[np.bool_] | None,
    *,
    size: int,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint8] | None, npt.NDArray[np.bool_] | None]:
    """Resize an image slice and its masks to ``size`` x ``size``.

    The image uses area interpolation when shrinking and bilinear when growing; masks
    use nearest neighbour so they stay binary. One 2D array at a time (OpenCV 5 refuses
    arrays of more than 128 channels).

    Args:
        image: Shape (H, W).
        masks: Shape (C, H, W) or ``None``.
        brain: Shape (H, W) or ``None``.
        size: Output side length.

    Returns:
        New arrays of shapes (size, size), (C, size, size) and (size, size).
    """
    out_image = _resize(image, size, nearest=False)
    # Masks and brain go through one multi-channel nearest-neighbour resize.
    layers = [] if masks is None else list(masks)
    if brain is not None:
        layers.append(brain.view(np.uint8) if brain.dtype == np.bool_ else brain.astype(np.uint8))
    out_masks: npt.NDArray[np.uint8] | None = None
    out_brain: npt.NDArray[np.bool_] | None = None
    if layers:
        stacked = _resize(np.dstack(layers), size, nearest=True)
        stacked = stacked.reshape(size, size, len(layers))
        if masks is not None:
            out_masks = np.ascontiguousarray(np.moveaxis(stacked[..., : len(masks)], -1, 0))
            out_masks = out_masks.astype(np.uint8, copy=False)
        if brain is not None:
            out_brain = stacked[..., -1].astype(bool)
    return out_image, out_masks, out_brain


class ResizeSlices:
    """Pipeline step: resize every slice (and its masks) to ``size`` x ``size``.

    Args:
        size: Output side length (224 for the reference models).
    """

    def __init__(self, *, size: int = 224) -> None:
        if not isinstance(size, int) or size < 1:
            raise ConfigurationError(f"size={size!r} must be a positive integer.")
        self.size = size

    def __call__(self, records: Sequence[SliceRecord]) -> list[SliceRecord]:
        """Return resized copies of ``records``, in order."""
        out = []
        for record in records:
            image, masks, brain = resize_slice(
                record.image, record.masks, record.brain, size=self.size
            )
            out.append(record.replace(image=image, masks=masks, brain=brain))
        return out

    def __repr__(self) -> str:
        return short_repr(self, size=(self.size, 224))
