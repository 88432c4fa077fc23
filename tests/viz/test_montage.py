"""Montages of slices and frames: layout, outline colours, labels, resizing, PNG output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.records import SliceRecord
from radiogenomics.viz import (
    LABEL_COLOUR,
    OUTLINE_COLOURS,
    frame_montage,
    save_montage,
    slice_montage,
)


def _record(
    index: int = 0,
    *,
    shape: tuple[int, int] = (32, 32),
    masks: bool = True,
    value: int = 90,
    plane: str = "axial",
) -> SliceRecord:
    height, width = shape
    image = np.full(shape, value, dtype=np.uint8)
    wt = np.zeros(shape, dtype=np.uint8)
    wt[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1
    et = np.zeros(shape, dtype=np.uint8)
    et[height // 2 - 2 : height // 2 + 2, width // 2 - 2 : width // 2 + 2] = 1
    return SliceRecord(
        patient_id="BraTS2021_00001",
        modality="flair",
        plane=plane,  # type: ignore[arg-type]
        index=index,
        image=image,
        masks=np.stack([wt, et]) if masks else None,
    )


def _has(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(image == np.array(colour, dtype=np.uint8), axis=-1)


def test_layout_pads_the_last_row_with_black_tiles() -> None:
    montage = slice_montage([_record(i) for i in range(5)], columns=3, labels=False)
    assert montage.shape == (64, 96, 3)
    assert montage.dtype == np.uint8
    assert not montage[32:, 64:].any()  # the sixth tile is blank
    assert montage[32:, 32:64].any()


@given(
    n=st.integers(1, 12),
    columns=st.integers(1, 6),
    side=st.integers(8, 24),
)
def test_shape_property(n: int, columns: int, side: int) -> None:
    slices = [_record(i, shape=(16, 20)) for i in range(n)]
    montage = slice_montage(slices, columns=columns, size=side, labels=False)
    rows = -(-n // columns)
    assert montage.shape == (rows * side, columns * side, 3)


def test_outlines_in_their_colours_and_image_elsewhere() -> None:
    record = _record()
    tile = slice_montage([record], columns=1, labels=False)
    wt = _has(tile, OUTLINE_COLOURS["WT"])
    et = _has(tile, OUTLINE_COLOURS["ET"])
    # WT outline: the border of the 16x16 square at (8, 8); ET: the 4x4 square's border.
    assert wt[8, 8:24].all()
    assert wt[23, 8:24].all()
    assert not wt[9:23, 9:23].any()
    assert et[14, 14:18].all()
    assert et.sum() == 12
    # Everywhere else: the image, grey.
    rest = ~(wt | et)
    assert (tile[rest] == 90).all()


def test_slices_without_masks_are_plain_and_unknown_channels_magenta() -> None:
    plain = slice_montage([_record(masks=False)], columns=1, labels=False)
    assert (plain == 90).all()
    record = _record()
    other = SliceRecord(
        patient_id="p",
        modality="t2",
        plane="axial",
        index=0,
        image=record.image,
        masks=record.masks,
        mask_channels=("WT", "necrosis"),
    )
    tile = slice_montage([other], columns=1, labels=False)
    assert _has(tile, (255, 0, 255)).sum() == 12


def test_labels_are_cyan_text_in_the_top_left_corner() -> None:
    record = _record(shape=(96, 96))
    labelled = slice_montage([record], columns=1, size=96)
    bare = slice_montage([record], columns=1, size=96, labels=False)
    changed = np.any(labelled != bare, axis=-1)
    rows, cols = np.nonzero(changed)
    assert rows.max() < 40  # two short lines at the top
    assert cols.max() < 80
    assert _has(labelled, LABEL_COLOUR).any()


def test_tiles_of_other_shapes_are_fitted_keeping_their_aspect() -> None:
    wide = _record(shape=(16, 32), masks=False, value=200)
    square = _record(shape=(32, 32), masks=False, value=100)
    montage = slice_montage([wide, square], columns=2, labels=False)
    assert montage.shape == (32, 64, 3)
    first = montage[:, :32, 0]
    # The 16x32 slice is centred on black: 8 black rows above and below.
    assert not first[:8].any()
    assert not first[24:].any()
    assert (first[8:24] == 200).all()
    assert (montage[:, 32:, 0] == 100).all()
    assert slice_montage([wide], columns=1, size=(20, 40), labels=False).shape == (20, 40, 3)


def test_images_that_are_not_uint8_are_scaled_per_tile() -> None:
    image = np.linspace(-1.0, 3.0, 16 * 16).reshape(16, 16)
    image[0, 0] = np.nan
    record = SliceRecord(patient_id="p", modality="t1", plane="axial", index=0, image=image)
    tile = slice_montage([record], columns=1, labels=False)
    assert tile[..., 0].max() == 255
    assert tile[0, 1, 0] == 0  # the smallest finite value
    assert tile[0, 0, 0] == 0  # NaN shown as the minimum


def test_errors() -> None:
    with pytest.raises(InvalidInputError, match="no slice"):
        slice_montage([])
    with pytest.raises(ConfigurationError, match="columns=0"):
        slice_montage([_record()], columns=0)
    with pytest.raises(ConfigurationError, match="size="):
        slice_montage([_record()], size=4)
    with pytest.raises(ConfigurationError, match="size="):
        slice_montage([_record()], size=(8, 8, 8))  # type: ignore[arg-type]


def _frames(n: int = 3, size: int = 24) -> np.ndarray:
    frames = np.zeros((n, size, size, 3), dtype=np.uint8)
    frames[..., 0] = 70
    frames[:, 6:18, 6:18, 1] = 255
    frames[:, 10:14, 10:14, 2] = 255
    return frames


def test_frame_montage_reads_both_layouts_and_does_not_mutate() -> None:
    frames = _frames()
    before = frames.copy()
    last = frame_montage(frames, columns=2)
    first = frame_montage(np.moveaxis(frames, -1, 1), columns=2)
    np.testing.assert_array_equal(first, last)
    np.testing.assert_array_equal(frames, before)
    assert last.shape == (48, 48, 3)
    bare = frame_montage(frames, columns=3, labels=False)
    assert _has(bare, OUTLINE_COLOURS["WT"]).sum() == 3 * 44
    assert _has(bare, OUTLINE_COLOURS["ET"]).sum() == 3 * 12
    custom = frame_montage(frames, columns=3, labels=["#10", "#20", "#30"])
    assert (custom != bare).any()


def test_frame_montage_errors() -> None:
    with pytest.raises(GeometryError, match=r"\(N, H, W, 3\)"):
        frame_montage(np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="no frame"):
        frame_montage(np.zeros((0, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ConfigurationError, match="2 labels for 3 frames"):
        frame_montage(_frames(), labels=["a", "b"])


def test_save_montage_writes_a_lossless_png(tmp_path: Path) -> None:
    slices = [_record(i) for i in range(3)]
    path = save_montage(slices, tmp_path / "sub" / "montage.png", columns=2)
    assert path == tmp_path / "sub" / "montage.png"
    read = cv2.imread(str(path))
    np.testing.assert_array_equal(read, slice_montage(slices, columns=2))
    assert sorted(p.name for p in path.parent.iterdir()) == ["montage.png"]  # no temporary
    frames = save_montage(_frames(), tmp_path / "frames.png", columns=3, labels=False)
    np.testing.assert_array_equal(
        cv2.imread(str(frames)), frame_montage(_frames(), columns=3, labels=False)
    )


def test_save_montage_wants_png(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\.png"):
        save_montage([_record()], tmp_path / "montage.jpg")
    assert not list(tmp_path.iterdir())


def test_importing_viz_is_cheap() -> None:
    code = (
        "import sys, radiogenomics.viz; "
        "print(sorted(m for m in ('cv2', 'matplotlib', 'torch', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
