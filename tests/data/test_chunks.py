"""Chunk arithmetic (Hypothesis), frame sources and the chunk dataset."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, default_collate

from radiogenomics.data.chunks import (
    ArrayFrames,
    ChunkDataset,
    FrameSource,
    LazyFrames,
    as_frame_source,
    augment_frames,
    chunk_starts,
    normalise_frames,
)
from radiogenomics.data.segmentation_dataset import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugmentParams,
)
from radiogenomics.errors import (
    ConfigurationError,
    GeometryError,
    InvalidInputError,
    LabelError,
    RadiogenomicsError,
)

sizes = st.integers(min_value=1, max_value=300)
policies = st.sampled_from(["pad", "shift"])


@st.composite
def windows(draw: st.DrawFn, max_length: int = 60) -> tuple[int, int]:
    """A chunk length and a stride no larger than it."""
    length = draw(st.integers(min_value=1, max_value=max_length))
    return length, draw(st.integers(min_value=1, max_value=length))


def _series(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    """Frames whose first pixel encodes the frame number (n <= 255)."""
    frames = np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(n, dtype=np.uint8)
    return frames


# -- chunk_starts ----------------------------------------------------------------------


@given(n=sizes, window=windows(), policy=policies)
def test_count_is_the_reference_formula(n: int, window: tuple[int, int], policy: str) -> None:
    length, stride = window
    starts = chunk_starts(n, length=length, stride=stride, policy=policy)  # type: ignore[arg-type]
    assert len(starts) == max(math.ceil((n - length) / stride) + 1, 1)


@given(n=sizes, window=windows(), policy=policies)
def test_every_frame_is_covered(n: int, window: tuple[int, int], policy: str) -> None:
    length, stride = window
    starts = chunk_starts(n, length=length, stride=stride, policy=policy)  # type: ignore[arg-type]
    covered = np.zeros(n, dtype=bool)
    for start in starts:
        covered[start : start + length] = True
    assert covered.all()
    assert all(0 <= s < n for s in starts)


@given(n=sizes, window=windows(), policy=policies)
def test_starts_strictly_increase(n: int, window: tuple[int, int], policy: str) -> None:
    length, stride = window
    starts = chunk_starts(n, length=length, stride=stride, policy=policy)  # type: ignore[arg-type]
    assert starts[0] == 0
    assert all(a < b for a, b in itertools.pairwise(starts))


@given(n=sizes, window=windows())
def test_pad_starts_are_multiples_of_stride(n: int, window: tuple[int, int]) -> None:
    length, stride = window
    starts = chunk_starts(n, length=length, stride=stride, policy="pad")
    assert starts == tuple(k * stride for k in range(len(starts)))


@given(n=sizes, window=windows())
def test_shift_last_chunk_ends_at_the_series_end(n: int, window: tuple[int, int]) -> None:
    length, stride = window
    pad = chunk_starts(n, length=length, stride=stride, policy="pad")
    shift = chunk_starts(n, length=length, stride=stride, policy="shift")
    assert shift[:-1] == pad[:-1]
    if n >= length:
        assert shift[-1] + length == n
    else:
        assert shift == (0,)


def test_reference_examples() -> None:
    assert chunk_starts(35) == (0,)
    assert chunk_starts(36) == (0, 5)
    assert chunk_starts(40) == (0, 5)
    assert chunk_starts(41) == (0, 5, 10)
    assert chunk_starts(41, policy="shift") == (0, 5, 6)
    assert chunk_starts(1) == (0,)
    assert chunk_starts(0) == ()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n": -1}, ConfigurationError),
        ({"n": 5, "length": 0}, ConfigurationError),
        ({"n": 5, "stride": 0}, ConfigurationError),
        ({"n": 5, "length": 3, "stride": 4}, ConfigurationError),
        ({"n": 5, "policy": "padd"}, ConfigurationError),
    ],
)
def test_chunk_starts_rejects_bad_options(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        chunk_starts(**kwargs)  # type: ignore[arg-type]


def test_policy_error_suggests_the_close_name() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'pad'"):
        chunk_starts(5, policy="padd")  # type: ignore[arg-type]


# -- dataset: validity and content -----------------------------------------------------


@given(n=st.integers(min_value=1, max_value=40), window=windows(max_length=12), policy=policies)
def test_validity_mask_and_frames_are_exact(n: int, window: tuple[int, int], policy: str) -> None:
    length, stride = window
    frames = _series(n, size=4)
    data = ChunkDataset(
        {("00001", "T1w"): frames},
        {"00001": 1},
        length=length,
        stride=stride,
        last=policy,  # type: ignore[arg-type]
    )
    starts = chunk_starts(n, length=length, stride=stride, policy=policy)  # type: ignore[arg-type]
    assert [ref.start for ref in data.index] == list(starts)
    expected_all = normalise_frames(frames)
    for position, start in enumerate(starts):
        item = data[position]
        real = min(length, n - start)
        assert item["valid"].dtype == torch.bool
        assert item["valid"].tolist() == [True] * real + [False] * (length - real)
        assert torch.equal(item["frames"][:real], expected_all[start : start + real])
        assert torch.count_nonzero(item["frames"][real:]) == 0
        assert item["start"] == start
        assert data.index[position].num_valid == real


def test_item_layout_and_collate() -> None:
    data = ChunkDataset(
        {("00001", "FLAIR"): _series(12), ("00002", "FLAIR"): _series(3)},
        {"00001": 1, "00002": 0},
        length=6,
        stride=3,
    )
    assert len(data) == 3 + 1
    item = data[0]
    assert item["frames"].shape == (6, 3, 8, 8)
    assert item["frames"].dtype == torch.float32
    assert item["label"].shape == ()
    batch = default_collate([data[i] for i in range(len(data))])
    assert batch["frames"].shape == (4, 6, 3, 8, 8)
    assert batch["valid"].shape == (4, 6)
    assert batch["valid"].sum(dim=1).tolist() == [6, 6, 6, 3]
    assert batch["label"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert batch["patient_id"] == ["00001"] * 3 + ["00002"]
    assert batch["mri_type"] == ["FLAIR"] * 4
    assert batch["start"].tolist() == [0, 3, 6, 0]
    assert next(iter(DataLoader(data, batch_size=2)))["frames"].shape == (2, 6, 3, 8, 8)


def test_normalisation_is_imagenet_on_unit_range() -> None:
    frames = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    out = normalise_frames(frames)
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    assert out.shape == (1, 3, 2, 2)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor(expected))


def test_unlabelled_items_have_nan_labels() -> None:
    data = ChunkDataset({("00001", "T2w"): _series(4)}, None, length=4, stride=2)
    assert math.isnan(float(data[0]["label"]))


def test_missing_label_names_the_patient() -> None:
    with pytest.raises(LabelError, match="00007") as info:
        ChunkDataset({("00007", "T2w"): _series(4)}, {"00001": 0})
    assert info.value.patient_id == "00007"


def test_series_without_frames_gives_no_chunk() -> None:
    empty = np.zeros((0, 8, 8, 3), dtype=np.uint8)
    data = ChunkDataset(
        {("00001", "T2w"): empty, ("00002", "T2w"): _series(2)}, {"00001": 0, "00002": 1}
    )
    assert [ref.patient_id for ref in data.index] == ["00002"]
    assert data.series_keys() == (("00001", "T2w"), ("00002", "T2w"))


def test_index_and_negative_positions() -> None:
    data = ChunkDataset({("00001", "T2w"): _series(10)}, {"00001": 0}, length=4, stride=4)
    assert data[-1]["start"] == data.index[-1].start == 8
    with pytest.raises(IndexError):
        data[len(data)]


def test_image_size_resizes_frames() -> None:
    data = ChunkDataset(
        {("00001", "T2w"): _series(3, size=10)}, {"00001": 0}, length=3, stride=1, image_size=6
    )
    assert data[0]["frames"].shape == (3, 3, 6, 6)


def test_inputs_are_not_mutated() -> None:
    frames = _series(9)
    before = frames.copy()
    labels = {"00001": 1}
    data = ChunkDataset(
        {("00001", "T2w"): frames}, labels, length=4, stride=2, augment=AugmentConfig(affine=1.0)
    )
    for position in range(len(data)):
        data[position]
    np.testing.assert_array_equal(frames, before)
    assert labels == {"00001": 1}


# -- frame sources -----------------------------------------------------------------------


def test_memmap_and_lazy_sources(tmp_path: pytest.TempPathFactory) -> None:
    frames = _series(11)
    path = tmp_path / "frames.npy"  # type: ignore[operator]
    np.save(path, frames)
    mapped = np.load(path, mmap_mode="r")
    calls: list[int] = []

    def load() -> np.ndarray:
        calls.append(1)
        return frames

    lazy = LazyFrames(load, num_frames=11)
    assert isinstance(lazy, FrameSource)
    assert not calls  # counting chunks reads nothing
    a = ChunkDataset({("1", "T1w"): frames}, {"1": 1}, length=5, stride=3)
    b = ChunkDataset({("1", "T1w"): mapped}, {"1": 1}, length=5, stride=3)
    c = ChunkDataset({("1", "T1w"): lazy}, {"1": 1}, length=5, stride=3)
    assert not calls
    for position in range(len(a)):
        assert torch.equal(a[position]["frames"], b[position]["frames"])
        assert torch.equal(a[position]["frames"], c[position]["frames"])
    assert len(calls) == len(a)


def test_lazy_source_checks_the_promised_count() -> None:
    data = ChunkDataset({("1", "T1w"): LazyFrames(lambda: _series(3), num_frames=5)}, {"1": 0})
    with pytest.raises(GeometryError, match="num_frames=5"):
        data[0]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((3, 8, 8), np.uint8), np.zeros((3, 8, 8, 4), np.uint8), np.zeros((3, 8, 8, 3))],
)
def test_array_frames_are_checked(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        ArrayFrames(bad)


def test_unknown_frame_input_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="FrameSource"):
        as_frame_source([1, 2, 3])  # type: ignore[arg-type]


# -- augmentation ----------------------------------------------------------------------


def test_augmentation_is_identical_for_every_frame_of_a_chunk() -> None:
    one = _series(1, size=16)
    frames = np.repeat(one, 7, axis=0)
    params = AugmentParams(hflip=True, vflip=True, angle=30.0, scale=1.1, dx=0.05, dy=-0.05)
    out = augment_frames(frames, params)
    assert out.shape == frames.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out[0], one[0])
    for frame in out[1:]:
        np.testing.assert_array_equal(frame, out[0])


def test_flips_only_are_exact() -> None:
    frames = _series(2)
    out = augment_frames(frames, AugmentParams(hflip=True))
    np.testing.assert_array_equal(out, frames[:, :, ::-1])
    out = augment_frames(frames, AugmentParams(vflip=True))
    np.testing.assert_array_equal(out, frames[:, ::-1])
    np.testing.assert_array_equal(augment_frames(frames, AugmentParams()), frames)


def test_dataset_applies_one_draw_per_chunk_and_is_reproducible() -> None:
    one = _series(1, size=16)
    frames = np.repeat(one, 6, axis=0)
    config = AugmentConfig(hflip=0.5, vflip=0.5, affine=1.0)
    data = ChunkDataset({("1", "T1w"): frames}, {"1": 1}, length=6, augment=config, seed=3)
    item = data[0]
    for t in range(1, 6):
        assert torch.equal(item["frames"][t], item["frames"][0])
    again = ChunkDataset({("1", "T1w"): frames}, {"1": 1}, length=6, augment=config, seed=3)
    assert torch.equal(again[0]["frames"], item["frames"])
    assert data.params_for(0) == again.params_for(0)
    data.set_epoch(1)
    assert data.params_for(0) != again.params_for(0)
    assert not torch.equal(data[0]["frames"], item["frames"])


def test_no_augmentation_by_default() -> None:
    data = ChunkDataset({("1", "T1w"): _series(3)}, {"1": 1}, length=3, stride=1)
    assert data.params_for(0) == AugmentParams()


# -- configuration -----------------------------------------------------------------------


def test_repr_shows_non_defaults() -> None:
    data = ChunkDataset({("1", "T1w"): _series(3)}, {"1": 1}, last="shift")
    assert repr(data) == "ChunkDataset(series=1, chunks=1, last='shift')"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 0},
        {"stride": -1},
        {"stride": 36},
        {"last": "wrap"},
        {"augment": True},
        {"image_size": 0},
    ],
)
def test_dataset_rejects_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ChunkDataset({("1", "T1w"): _series(3)}, {"1": 1}, **kwargs)  # type: ignore[arg-type]


def test_errors_share_the_hierarchy() -> None:
    with pytest.raises(RadiogenomicsError):
        ChunkDataset({("1", "T1w"): _series(3)}, {"1": 1}, length=0)


def test_labels_match_patients_however_spelled() -> None:
    from radiogenomics.data.chunks import ChunkDataset

    frames = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    dataset = ChunkDataset({("00006", "FLAIR"): frames}, {6: 1}, length=2, stride=2)  # type: ignore[dict-item]
    assert float(dataset[0]["label"]) == 1.0
    with pytest.raises(LabelError, match="two labels"):
        ChunkDataset({("00006", "FLAIR"): frames}, {"6": 1, "00006": 0}, length=2, stride=2)
