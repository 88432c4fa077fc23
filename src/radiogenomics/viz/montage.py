"""Montages: tiles of slices or frames with their tumor outlines, as one image.

No matplotlib here: tiles are drawn with OpenCV and returned as uint8 arrays in
**BGR** order (OpenCV's; ``montage[..., ::-1]`` gives RGB for matplotlib or PIL). Each
mask channel is outlined in its colour (:data:`OUTLINE_COLOURS`: whole tumor green,
enhancing tumor red, tumor core orange) and each tile gets a small label.

Tiles are laid out row by row, ``columns`` per row; the last row is padded with black
tiles, so a montage of N tiles of size (H, W) has shape
(ceil(N / columns) * H, columns * W, 3). Tiles of different shapes are resized to one
size, keeping their aspect ratio (the rest of the tile is black), so anatomy is never
stretched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics._atomic import atomic_target
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.records import SliceRecord
from radiogenomics.viz._figure import check_suffix

__all__ = [
    "LABEL_COLOUR",
    "OUTLINE_COLOURS",
    "TileSize",
    "frame_montage",
    "save_montage",
    "slice_montage",
]

TileSize = int | tuple[int, int] | None
"""The size of montage tiles, in pixels; a side (square tiles), ``(height, width)``, or
``None`` (see each function)."""

OUTLINE_COLOURS: Mapping[str, tuple[int, int, int]] = MappingProxyType(
    {"WT": (0, 200, 0), "TC": (0, 165, 255), "ET": (0, 0, 230)}
)
"""The BGR colour of each mask channel's outline (WT green, TC orange, ET red); channels
with other names are outlined in magenta."""

LABEL_COLOUR: tuple[int, int, int] = (255, 255, 0)
"""BGR colour of the tile labels (cyan, on a black outline)."""

_OTHER_COLOUR = (255, 0, 255)
_FONT_MAX_SCALE = 0.8


def _check_columns(columns: int) -> int:
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ConfigurationError(f"columns={columns!r} must be a whole number, at least 1.")
    return columns


def _tile_size(size: TileSize, shapes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The (height, width) of every tile: ``size``, or the largest height and width."""
    if size is None:
        return max(h for h, _ in shapes), max(w for _, w in shapes)
    sides = (size, size) if isinstance(size, int) else tuple(size)
    if len(sides) != 2 or any(isinstance(s, bool) or not isinstance(s, int) for s in sides):
        raise ConfigurationError(
            f"size={size!r} must be a side in pixels, a (height, width) pair or None."
        )
    if min(sides) < 8:
        raise ConfigurationError(f"size={size!r} is too small; tiles need at least 8 pixels.")
    return sides[0], sides[1]


def _to_uint8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """uint8 as is; booleans as 0/255; anything else min-max scaled over finite values."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    clean = np.where(finite, values, low) - low
    scaled = clean / (high - low) if high > low else clean
    return np.round(scaled * 255).astype(np.uint8)


def _fit(
    image: npt.NDArray[np.uint8], masks: Sequence[npt.NDArray[np.uint8]], size: tuple[int, int]
) -> tuple[npt.NDArray[np.uint8], list[npt.NDArray[np.uint8]]]:
    """Resize into ``size`` keeping the aspect ratio, centred on black (masks: nearest)."""
    import cv2

    height, width = size
    if image.shape == size:
        return image, [np.ascontiguousarray(m) for m in masks]
    scale = min(height / image.shape[0], width / image.shape[1])
    new_h = max(1, min(height, round(image.shape[0] * scale)))
    new_w = max(1, min(width, round(image.shape[1] * scale)))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    shrink = scale < 1
    placed = np.zeros(size, dtype=np.uint8)
    placed[top : top + new_h, left : left + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
    fitted = []
    for mask in masks:
        canvas = np.zeros(size, dtype=np.uint8)
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(
            np.ascontiguousarray(mask), (new_w, new_h), interpolation=cv2.INTER_NEAREST
        )
        fitted.append(canvas)
    return placed, fitted


def _put_label(tile: npt.NDArray[np.uint8], lines: Sequence[str]) -> None:
    """Write ``lines`` in the top-left corner, scaled down to fit the tile's width."""
    import cv2

    font = cv2.FONT_HERSHEY_PLAIN
    widest = max(cv2.getTextSize(line, font, 1.0, 1)[0][0] for line in lines)
    scale = min(_FONT_MAX_SCALE, (tile.shape[1] - 4) / max(widest, 1))
    scale = max(scale, 0.5)
    line_height = round(14 * scale) + 2
    for number, line in enumerate(lines, start=1):
        origin = (2, 1 + number * line_height)
        cv2.putText(tile, line, origin, font, scale, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(tile, line, origin, font, scale, LABEL_COLOUR, 1, cv2.LINE_AA)


def _tile(
    image: npt.NDArray[Any],
    masks: Sequence[tuple[str, npt.NDArray[np.uint8]]],
    lines: Sequence[str],
    size: tuple[int, int],
) -> npt.NDArray[np.uint8]:
    """One BGR tile: the image resized into ``size``, outlines drawn, label written."""
    import cv2

    gray, fitted = _fit(_to_uint8(image), [m for _, m in masks], size)
    tile = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    for (name, _), mask in zip(masks, fitted, strict=True):
        contours, _ = cv2.findContours(
            (mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(tile, contours, -1, OUTLINE_COLOURS.get(name, _OTHER_COLOUR), 1)
    if lines:
        _put_label(tile, lines)
    return tile


def _grid(tiles: Sequence[npt.NDArray[np.uint8]], columns: int) -> npt.NDArray[np.uint8]:
    height, width = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / columns)
    montage = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for position, tile in enumerate(tiles):
        row, column = divmod(position, columns)
        montage[row * height : (row + 1) * height, column * width : (column + 1) * width] = tile
    return montage


def slice_montage(
    slices: Sequence[SliceRecord],
    *,
    columns: int = 8,
    size: TileSize = None,
    labels: bool = True,
) -> npt.NDArray[np.uint8]:
    """Tile slices with their mask outlines into one BGR image.

    Every mask channel of a slice is outlined in its colour (:data:`OUTLINE_COLOURS`);
    slices without masks are shown plain. Images that are not uint8 are min-max scaled
    to [0, 255] tile by tile.

    Args:
        slices: The slices, in the order to show them (row by row).
        columns: Tiles per row; the last row is padded with black tiles.
        size: Tile size: a side in pixels (square tiles), ``(height, width)``, or
            ``None`` for the largest slice height and width. Slices of another shape are
            resized into the tile keeping their aspect ratio.
        labels: Write each tile's plane (first three letters), slice index and
            modality in its top-left corner, e.g. ``"axi 78"`` over ``"flair"``.

    Returns:
        The montage, uint8 BGR.

    Raises:
        InvalidInputError: No slice.
        ConfigurationError: ``columns`` or ``size`` is invalid.

    Shape:
        - output: (ceil(N / columns) * H, columns * W, 3), with (H, W) the tile size.

    Example:
        >>> from radiogenomics import SliceExtractor
        >>> from radiogenomics.testing import make_brats_case
        >>> flair = make_brats_case(seed=0, shape=(48, 48, 36)).volumes()[0]
        >>> slices = SliceExtractor(planes=("axial",))(flair)[10:13]
        >>> slice_montage(slices, columns=2, size=64).shape
        (128, 128, 3)
    """
    columns = _check_columns(columns)
    if not slices:
        raise InvalidInputError("no slice to tile; the montage needs at least one slice.")
    shape = _tile_size(size, [r.image.shape for r in slices])
    tiles = []
    for record in slices:
        masks = []
        if record.masks is not None:
            masks = [(name, record.mask(name)) for name in record.mask_channels]
        lines = [f"{record.plane[:3]} {record.index}", record.modality] if labels else []
        tiles.append(_tile(record.image, masks, lines, shape))
    return _grid(tiles, columns)


def _channels_last(frames: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if frames.ndim == 4 and frames.shape[-1] == 3:
        return frames
    if frames.ndim == 4 and frames.shape[1] == 3:
        return np.moveaxis(frames, 1, -1)
    raise GeometryError(
        f"expected frames of shape (N, H, W, 3) or (N, 3, H, W) with channels [image, "
        f"WT * 255, ET * 255]; got shape {frames.shape}."
    )


def frame_montage(
    frames: npt.NDArray[Any],
    *,
    columns: int = 8,
    size: TileSize = None,
    labels: bool | Sequence[str] = True,
) -> npt.NDArray[np.uint8]:
    """Tile stage 2 frames ``[image, WT, ET]`` with their mask outlines into one BGR image.

    The frame store's layout, (N, H, W, 3), and the model's, (N, 3, H, W), are both
    accepted (a last axis of 3 means channels last). A mask pixel counts when its
    channel is at least 128 (the store holds 0 or 255).

    Args:
        frames: uint8 frames, channels ``[image, WT * 255, ET * 255]``.
        columns: Tiles per row; the last row is padded with black tiles.
        size: Tile size: a side in pixels, ``(height, width)``, or ``None`` for the
            frames' own size.
        labels: ``True`` writes each frame's position in ``frames`` (``"#0"``,
            ``"#1"``, ...); a sequence gives each frame's text (one per frame, e.g. the
            frames' numbers in their series when showing a subset); ``False``: none.

    Returns:
        The montage, uint8 BGR.

    Raises:
        InvalidInputError: No frame.
        GeometryError: ``frames`` has another shape.
        ConfigurationError: ``columns`` or ``size`` is invalid.

    Shape:
        - frames: (N, H, W, 3) or (N, 3, H, W).
        - output: (ceil(N / columns) * H', columns * W', 3), with (H', W') the tile size.
    """
    columns = _check_columns(columns)
    array = _channels_last(np.asarray(frames))
    if array.shape[0] == 0:
        raise InvalidInputError("no frame to tile; the montage needs at least one frame.")
    shape = _tile_size(size, [array.shape[1:3]])
    if isinstance(labels, bool):
        texts = [f"#{number}" if labels else "" for number in range(array.shape[0])]
    else:
        texts = [str(text) for text in labels]
        if len(texts) != array.shape[0]:
            raise ConfigurationError(
                f"got {len(texts)} labels for {array.shape[0]} frames; pass one per frame, "
                "or True/False."
            )
    tiles = []
    for frame, text in zip(array, texts, strict=True):
        masks = [
            (name, (frame[..., channel] >= 128).astype(np.uint8))
            for channel, name in ((1, "WT"), (2, "ET"))
        ]
        tiles.append(_tile(frame[..., 0], masks, [text] if text else [], shape))
    return _grid(tiles, columns)


def _write_png(image: npt.NDArray[np.uint8], path: Path) -> Path:
    import cv2

    with atomic_target(path, suffix=".png") as temporary:
        if not cv2.imwrite(str(temporary), image):
            raise InvalidInputError(
                f"OpenCV could not encode an image of shape {image.shape} as PNG.", path=path
            )
    return path


def save_montage(
    slices: Sequence[SliceRecord] | npt.NDArray[Any],
    path: str | os.PathLike[str],
    **kwargs: Any,
) -> Path:
    """Write a montage as a PNG file, atomically (complete or not at all).

    Args:
        slices: Slice records (tiled by :func:`slice_montage`) or stage 2 frames as an
            array (tiled by :func:`frame_montage`).
        path: The ``.png`` file to write (its folder is created).
        **kwargs: ``columns``, ``size`` and ``labels``, as the montage functions take.

    Returns:
        ``path``.

    Raises:
        ConfigurationError: ``path`` does not end in ``.png``, or an option is invalid.
        InvalidInputError, GeometryError: As the montage functions.
    """
    target = check_suffix(path, (".png",))
    if isinstance(slices, np.ndarray):
        image = frame_montage(slices, **kwargs)
    else:
        image = slice_montage(slices, **kwargs)
    return _write_png(image, target)
