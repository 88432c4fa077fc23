"""Test-time augmentation of stage 2: zooms about the frame centre.

The reference predicts each test chunk once, zoomed in by 1.2 about the image centre
(its writeup: test tumours looked smaller relative to the brain). :func:`zoom_frames` is
that zoom on a batch of chunks; :class:`ZoomTTA` runs a model on one or more zooms and
averages the probabilities. As in MONAI's inferers, the TTA object never owns the
model: it is called as ``tta(model, frames, valid)``.

Geometry: for a scale ``s > 1`` each ``H x W`` frame is resized (bilinear, half-pixel
centres, no antialiasing: OpenCV's ``INTER_LINEAR``) to ``floor(H s) x floor(W s)`` and
its centre ``H x W`` window is kept, starting at ``((floor(H s) - H) // 2, ...)``: the
stage 1 zoom's convention (:func:`~radiogenomics.inference.zoom.zoom_in`), so 224 becomes
268 at 1.2. For ``s < 1`` the frame is shrunk to ``floor(H s) x floor(W s)`` and placed
in the centre of an ``H x W`` frame filled with ``fill`` (0 by default; pass
:data:`IMAGENET_BLACK` to pad ImageNet-normalised frames with black). ``s = 1`` returns
the frames unchanged. Every frame of every chunk gets the same transform, so a chunk's
frames stay aligned.

This module imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.data.segmentation_dataset import IMAGENET_MEAN, IMAGENET_STD
from radiogenomics.errors import ConfigurationError, GeometryError

__all__ = ["IMAGENET_BLACK", "TTAReduce", "ZoomTTA", "zoom_frames"]

IMAGENET_BLACK: tuple[float, float, float] = (
    -IMAGENET_MEAN[0] / IMAGENET_STD[0],
    -IMAGENET_MEAN[1] / IMAGENET_STD[1],
    -IMAGENET_MEAN[2] / IMAGENET_STD[2],
)
"""The value of a black (all-zero) pixel after ImageNet normalisation, per channel."""

TTAReduce = Literal["mean", "median", "max"]
"""How the probabilities of the zoomed views are combined."""

_REDUCES: tuple[TTAReduce, ...] = ("mean", "median", "max")


def _zoomed(size: int, scale: float) -> int:
    # floor(size * scale) with a tolerance for floating-point error, as the stage 1 zoom.
    return max(math.floor(size * scale + 1e-6), 1)


def zoom_frames(
    frames: torch.Tensor, scale: float, *, fill: float | Sequence[float] = 0.0
) -> torch.Tensor:
    """Zoom every frame about its centre by ``scale`` (in above 1, out below 1).

    The input is not modified; ``scale == 1`` returns a copy of it.

    Args:
        frames: Frames, channels before the last two (height, width) axes; any leading
            axes (batch, time) are kept and every frame gets the same transform.
        scale: The zoom factor, positive.
        fill: Value of the border added when zooming out: one number, or one per channel.

    Returns:
        The zoomed frames, of the input's shape and dtype.

    Raises:
        ConfigurationError: ``scale`` is not positive, or ``fill`` has the wrong length.
        GeometryError: ``frames`` has fewer than 3 axes.

    Shape:
        - frames: (..., C, H, W), floating point.
        - output: (..., C, H, W).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 2, 3, 10, 10)
        >>> x[..., 4:6, 4:6] = 1
        >>> int(zoom_frames(x, 2.0)[0, 0, 0].sum())
        16
    """
    check_range("scale", scale, low=0.0, low_inclusive=False)
    if frames.ndim < 3:
        raise GeometryError(
            f"expected frames of shape (..., C, H, W); got shape {tuple(frames.shape)}."
        )
    if not frames.is_floating_point():
        raise GeometryError(
            f"expected floating-point frames (normalised model input); got {frames.dtype}."
        )
    channels, height, width = frames.shape[-3:]
    fills = [float(fill)] * channels if isinstance(fill, (int, float)) else list(fill)
    if len(fills) != channels:
        raise ConfigurationError(
            f"fill has {len(fills)} values for frames of {channels} channels; pass one "
            "number or one per channel."
        )
    if scale == 1.0:
        return frames.clone()
    flat = frames.reshape(-1, channels, height, width)
    new_h, new_w = _zoomed(height, scale), _zoomed(width, scale)
    resized = F.interpolate(flat, size=(new_h, new_w), mode="bilinear", align_corners=False)
    if scale > 1.0:
        top, left = (new_h - height) // 2, (new_w - width) // 2
        out = resized[:, :, top : top + height, left : left + width]
    else:
        values = torch.tensor(fills, dtype=frames.dtype, device=frames.device)
        out = values[None, :, None, None].expand(flat.shape[0], -1, height, width).clone()
        top, left = (height - new_h) // 2, (width - new_w) // 2
        out[:, :, top : top + new_h, left : left + new_w] = resized
    return out.reshape(frames.shape).contiguous()


class ZoomTTA:
    """Predict chunks on zoomed views and combine the probabilities.

    The reference is ``ZoomTTA()``: one view, zoomed in by 1.2.

    Args:
        scales: Zoom factors of the views (each positive; 1 is the identity).
        include_identity: Add the unzoomed view (scale 1) when ``scales`` lacks it.
        reduce: Combine the views' probabilities by ``"mean"``, ``"median"`` or ``"max"``.
        fill: Border value when zooming out (see :func:`zoom_frames`).

    Raises:
        ConfigurationError: An option is invalid.

    Shape:
        - frames: (B, L, C, H, W); valid: (B, L); output: (B,) probabilities.

    Example:
        >>> ZoomTTA(scales=(1.0, 1.2))
        ZoomTTA(scales=(1.0, 1.2))
    """

    def __init__(
        self,
        *,
        scales: Sequence[float] = (1.2,),
        include_identity: bool = False,
        reduce: TTAReduce = "mean",
        fill: float | Sequence[float] = 0.0,
    ) -> None:
        chosen = tuple(
            float(check_range("scales", s, low=0.0, low_inclusive=False)) for s in scales
        )
        if not chosen:
            raise ConfigurationError("scales=() is empty; give at least one zoom factor.")
        check_choice("reduce", reduce, _REDUCES)
        self.scales: tuple[float, ...] = chosen
        self.include_identity = include_identity
        self.reduce: TTAReduce = reduce
        self.fill: float | tuple[float, ...] = (
            float(fill) if isinstance(fill, (int, float)) else tuple(float(v) for v in fill)
        )

    @property
    def views(self) -> tuple[float, ...]:
        """The scales actually predicted, in order."""
        if self.include_identity and 1.0 not in self.scales:
            return (1.0, *self.scales)
        return self.scales

    def __call__(
        self,
        model: Callable[..., torch.Tensor],
        frames: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The combined probability of each chunk.

        The model is called as ``model(view)`` or, when ``valid`` is given,
        ``model(view, valid)``, under ``torch.no_grad()``; it must return one logit per
        chunk, of shape (B,) or (B, 1). Put the model in ``eval()`` mode first.

        Args:
            model: Returns logits.
            frames: Normalised frames.
            valid: The validity mask, passed through unchanged.

        Returns:
            Probabilities in [0, 1].

        Raises:
            GeometryError: The model's output is not one logit per chunk.

        Shape:
            - frames: (B, L, C, H, W) (any (B, ..., C, H, W) the model accepts).
            - valid: (B, L).
            - output: (B,).
        """
        probabilities = []
        with torch.no_grad():
            for scale in self.views:
                view = zoom_frames(frames, scale, fill=self.fill)
                logits = model(view) if valid is None else model(view, valid)
                if logits.ndim == 2 and logits.shape[1] == 1:
                    logits = logits[:, 0]
                if tuple(logits.shape) != (frames.shape[0],):
                    raise GeometryError(
                        f"the model returned shape {tuple(logits.shape)}; expected one logit "
                        f"per chunk, ({frames.shape[0]},) or ({frames.shape[0]}, 1)."
                    )
                probabilities.append(torch.sigmoid(logits.float()))
        stacked = torch.stack(probabilities)
        if self.reduce == "mean":
            return stacked.mean(dim=0)
        if self.reduce == "median":
            return stacked.median(dim=0).values
        return stacked.amax(dim=0)

    def __repr__(self) -> str:
        return short_repr(
            self,
            scales=(self.scales, (1.2,)),
            include_identity=(self.include_identity, False),
            reduce=(self.reduce, "mean"),
            fill=(self.fill, 0.0),
        )
