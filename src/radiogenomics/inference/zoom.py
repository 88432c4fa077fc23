"""The reference's test-time zoom about the slice centre, and its exact inverse.

Stage 2 of the reference predicts tumor masks with the stage 1 model on slices zoomed
in by 1.2: each slice is resized to ``268 x 268`` and its central ``224 x 224`` window is
kept; the prediction is mapped back by padding it with zeros to ``268 x 268`` and
resizing it to the native slice size. :func:`zoom_in` and :func:`zoom_out` are those two
maps for any ``size`` and ``factor``.

The zoomed side is ``floor(size * factor)``: 268 for the reference's 224 and 1.2 (the
rounded value would be 269; the reference uses 268). Slices are resized to a square
whatever their aspect ratio, as the reference does: a ``(H, W)`` slice is stretched to
``(Z, Z)`` and the prediction stretched back to ``(H, W)``, so the two maps stay exact
inverses of each other up to interpolation.

Both functions work on one 2D slice, channels last (OpenCV's layout), and never modify
their input.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range
from radiogenomics.errors import ConfigurationError, GeometryError

__all__ = [
    "MAX_ZOOM",
    "Interpolation",
    "check_zoom",
    "crop_box",
    "zoom_in",
    "zoom_out",
    "zoomed_size",
]

Interpolation = Literal["linear", "nearest", "area"]
"""How a slice is resampled — bilinear (the reference's choice), nearest neighbour (for
label or binary masks, keeps values exact) or pixel-area averaging (for shrinking)."""

_INTERPOLATIONS: tuple[Interpolation, ...] = ("linear", "nearest", "area")
_CV_NATIVE = frozenset(
    {np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16)}
    | {np.dtype(np.float32), np.dtype(np.float64)}
)
_MAX_CHANNELS = 512


def zoomed_size(size: int, factor: float) -> int:
    """The side of the square a slice is resized to before the centre crop.

    ``floor(size * factor)``, with a tolerance of 1e-6 for floating-point error
    (``100 * 1.15`` is ``114.99999999999999``, read as 115).

    Args:
        size: The side of the model's input, in pixels.
        factor: The zoom factor, at least 1.

    Returns:
        The zoomed side, at least ``size``.

    Raises:
        ConfigurationError: ``size`` is not a positive integer or ``factor`` is below 1.

    Example:
        >>> zoomed_size(224, 1.2)
        268
        >>> zoomed_size(224, 1.0)
        224
    """
    _check_size_factor(size, factor)
    return max(math.floor(size * factor + 1e-6), size)


def crop_box(size: int, factor: float) -> tuple[int, int]:
    """Where the centre crop starts in the zoomed square, and the zoomed side.

    The crop starts at ``(Z - size) // 2`` on both axes (the extra pixel of an odd
    margin goes after the crop), as albumentations' ``CenterCrop`` does.

    Args:
        size: The side of the model's input.
        factor: The zoom factor, at least 1.

    Returns:
        ``(start, zoomed)``: the first row (and column) kept, and :func:`zoomed_size`.

    Example:
        >>> crop_box(224, 1.2)
        (22, 268)
    """
    zoomed = zoomed_size(size, factor)
    return (zoomed - size) // 2, zoomed


MAX_ZOOM = 4.0
"""The largest zoom factor accepted.

Beyond it the crop keeps under 1/16 of the slice (the reference uses 1.2), and the
zoomed square would only cost memory."""


def check_zoom(name: str, factor: float) -> float:
    """``factor`` if it is a zoom factor in ``[1, MAX_ZOOM]``, else a clear error.

    Raises:
        ConfigurationError: Not a number, below 1, or above :data:`MAX_ZOOM`.
    """
    return check_range(name, factor, low=1.0, high=MAX_ZOOM)


def _check_size_factor(size: int, factor: float) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigurationError(f"size={size!r} must be a positive integer (e.g. 224).")
    check_zoom("factor", factor)


def _check_slice(array: npt.NDArray[Any], name: str) -> None:
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise GeometryError(
            f"{name} must be one non-empty 2D slice of shape (H, W) or (H, W, C); got shape "
            f"{array.shape}. Call it once per slice (channels last)."
        )
    if array.ndim == 3 and array.shape[2] > _MAX_CHANNELS:
        raise GeometryError(
            f"{name} has {array.shape[2]} channels; at most {_MAX_CHANNELS} are supported. "
            "Is the array channels-first? Expected (H, W, C)."
        )
    if array.dtype.kind not in "biuf":
        raise GeometryError(f"{name} must hold numbers; got dtype {array.dtype}.")


def _resize(
    array: npt.NDArray[Any], shape: tuple[int, int], interpolation: Interpolation
) -> npt.NDArray[Any]:
    """Resize (H, W) or (H, W, C) to ``shape`` (rows, columns), keeping the dtype."""
    import cv2

    flags = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}
    dtype = array.dtype
    if dtype == np.bool_:
        work = array.astype(np.uint8)
    elif dtype in _CV_NATIVE:
        work = np.ascontiguousarray(array)
    elif dtype == np.float16:
        work = array.astype(np.float32)
    else:  # int8, int32, int64, uint32, uint64: exact enough in float64
        work = array.astype(np.float64)
    if work.shape[:2] == shape:
        out = np.array(work)
    else:
        out = np.asarray(cv2.resize(work, (shape[1], shape[0]), interpolation=flags[interpolation]))
    if array.ndim == 3 and out.ndim == 2:  # OpenCV drops a single trailing channel
        out = out[:, :, None]
    if dtype == np.bool_:
        return out.astype(bool)  # linear on 0/1 uint8 rounds: the same as a 0.5 threshold
    if out.dtype != dtype:
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return out.astype(dtype)
    return out


def zoom_in(
    image: npt.NDArray[Any],
    *,
    factor: float = 1.2,
    size: int = 224,
    interpolation: Interpolation = "linear",
) -> npt.NDArray[Any]:
    """Zoom a slice in about its centre: resize to ``Z x Z``, keep the central ``size x size``.

    ``Z`` is :func:`zoomed_size` (``floor(size * factor)``, 268 for 224 and 1.2). The
    aspect ratio is not kept: a non-square slice is stretched to the square, as the
    reference does. With ``factor=1`` this is a plain resize to ``size x size``.

    Args:
        image: One slice, of shape (H, W) or (H, W, C), any numeric dtype.
        factor: The zoom factor, at least 1 (1.2 in the reference).
        size: The side of the output (the model's input size, 224 in the reference).
        interpolation: ``"linear"`` (the reference), ``"nearest"`` or ``"area"``.

    Returns:
        A new array of the input's dtype (integers rounded, booleans thresholded at 0.5).

    Shape:
        - image: (H, W) or (H, W, C).
        - output: (size, size) or (size, size, C).

    Raises:
        ConfigurationError: ``factor`` below 1, ``size`` not positive, or an unknown
            ``interpolation``.
        GeometryError: ``image`` is not one non-empty 2D slice.

    Example:
        >>> import numpy as np
        >>> zoom_in(np.zeros((240, 200), dtype=np.uint8)).shape
        (224, 224)
    """
    check_choice("interpolation", interpolation, _INTERPOLATIONS)
    start, zoomed = crop_box(size, factor)
    data = np.asarray(image)
    _check_slice(data, "image")
    resized = _resize(data, (zoomed, zoomed), interpolation)
    return np.ascontiguousarray(resized[start : start + size, start : start + size])


def zoom_out(
    mask: npt.NDArray[Any],
    *,
    factor: float = 1.2,
    native_shape: tuple[int, int],
    interpolation: Interpolation = "linear",
) -> npt.NDArray[Any]:
    """The inverse of :func:`zoom_in`: pad with zeros to ``Z x Z``, resize to the native size.

    The ``size x size`` prediction is placed where :func:`zoom_in` cropped it from, in a
    zero ``Z x Z`` square (the border that the zoom cut off is predicted empty), and the
    square is resized to ``native_shape``. Use ``"linear"`` (the default) on
    probabilities and threshold afterwards; this differs from thresholding first and
    resizing the binary mask only at the mask's edges. Use ``"nearest"`` to map a binary
    or label mask back and keep its values exact.

    Args:
        mask: A prediction on the zoomed slice, of shape (size, size) or (size, size, C):
            probabilities, logits or a binary mask.
        factor: The zoom factor :func:`zoom_in` used.
        native_shape: The ``(H, W)`` of the slice given to :func:`zoom_in`.
        interpolation: ``"linear"`` (default, for probabilities), ``"nearest"`` or
            ``"area"``.

    Returns:
        A new array of the input's dtype (integers rounded, booleans thresholded at 0.5).

    Shape:
        - mask: (size, size) or (size, size, C).
        - output: (H, W) or (H, W, C), with ``(H, W) = native_shape``.

    Raises:
        ConfigurationError: ``factor`` below 1, an unknown ``interpolation``, or
            ``native_shape`` not two positive integers.
        GeometryError: ``mask`` is not a square 2D slice.

    Example:
        >>> import numpy as np
        >>> zoom_out(np.ones((224, 224), dtype=np.float32), native_shape=(240, 200)).shape
        (240, 200)
    """
    check_choice("interpolation", interpolation, _INTERPOLATIONS)
    data = np.asarray(mask)
    _check_slice(data, "mask")
    size = int(data.shape[0])
    if data.shape[1] != size:
        raise GeometryError(
            f"mask must be the square prediction of shape (size, size) or (size, size, C) "
            f"that zoom_in's output gave; got shape {data.shape}."
        )
    native = tuple(native_shape)
    if len(native) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in native
    ):
        raise ConfigurationError(
            f"native_shape={native_shape!r} must be two positive integers (H, W), the shape "
            "of the slice given to zoom_in."
        )
    start, zoomed = crop_box(size, factor)
    padded = np.zeros((zoomed, zoomed, *data.shape[2:]), dtype=data.dtype)
    padded[start : start + size, start : start + size] = data
    return _resize(padded, (int(native[0]), int(native[1])), interpolation)
