"""Per-volume intensity normalisation to 8 bits."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radiogenomics._cv import scale_to_u8
from radiogenomics._options import check_choice
from radiogenomics.errors import InvalidInputError

__all__ = ["IntensityMethod", "to_uint8"]

IntensityMethod = Literal["minmax", "percentile"]
_METHODS = ("minmax", "percentile")


def to_uint8(
    volume: npt.NDArray[Any],
    *,
    method: IntensityMethod = "minmax",
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> npt.NDArray[np.uint8]:
    """Rescale a whole volume (or series) to [0, 255] and round to uint8.

    ``"minmax"`` maps the volume's minimum to 0 and maximum to 255, as the reference
    does for both stages. ``"percentile"`` clips to the given percentiles of the
    non-zero voxels first, which is robust to a few very bright voxels.
    A constant volume maps to zeros.

    Args:
        volume: Intensities of any shape and real dtype.
        method: ``"minmax"`` or ``"percentile"``.
        percentiles: Low and high percentiles for ``"percentile"``.

    Returns:
        uint8 array of the same shape (a new array; the input is unchanged).

    Raises:
        InvalidInputError: The intensities hold NaN or infinite values, or are not real
            numbers.

    Example:
        >>> import numpy as np
        >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
        [0, 128, 255]
    """
    check_choice("method", method, _METHODS)
    data = np.asarray(volume)
    if data.size == 0:
        return np.zeros(data.shape, dtype=np.uint8)
    if data.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"expected real intensities (integers or floats); got dtype {data.dtype}."
        )
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        nan = int(np.isnan(data).sum())
        raise InvalidInputError(
            f"the intensities hold {nan} NaN and {int(np.isinf(data).sum())} infinite values "
            f"of {data.size}; they have no place on an 8-bit scale. Fix or mask them first "
            "(e.g. numpy.nan_to_num, if zero means background)."
        )
    if method == "minmax":
        low, high = float(data.min()), float(data.max())
    else:
        foreground = data[data != 0]
        sample = foreground if foreground.size else data.ravel()
        low, high = (float(v) for v in np.percentile(sample, percentiles))
        data = np.clip(data, low, high)
    if high <= low:
        return np.zeros(data.shape, dtype=np.uint8)
    alpha = 255.0 / (high - low)
    return scale_to_u8(data, alpha, -low * alpha)
