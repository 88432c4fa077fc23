"""Stage 2 chunks: fixed-length windows of ordered frames, one sample each.

The reference classifies a series (one patient, one MRI type) from its ordered
3-channel frames ``[image, WT * 255, ET * 255]`` in consecutive windows ("chunks") of
``length`` (35) frames, one every ``stride`` (5) frames. A series of ``n >= 1`` frames
gives ``max(ceil((n - length) / stride) + 1, 1)`` chunks starting at
``0, stride, 2 * stride, ...``; each chunk is an independent training sample labelled
with the patient's label. :func:`chunk_starts` is that arithmetic; :class:`ChunkDataset`
turns the chunks into model inputs.

Policies for the last chunk (``last=``):

* ``"pad"`` (the reference): every chunk starts at a multiple of ``stride``; a last
  chunk that runs past the series keeps its real frames and is padded with zero frames
  at its end.
* ``"shift"``: the last chunk is moved back to end exactly at the series end
  (``start = n - length``), so it holds only real frames. A series shorter than
  ``length`` has a single chunk starting at 0, which must still be padded.

Every item carries a validity mask (1 for a real frame, 0 for padding), so a model may
ignore padding (see :class:`~radiogenomics.models.sequence.SequenceClassifier` with
``head="pooled"``); the reference's concatenating head sees the padding frames.

Padding frames are zero in the *model input* (after ImageNet normalisation), not black
frames: a zero tensor is what "padded with zero frames" means at the model's input, and
it is what TTA zooming leaves unchanged.

Augmentation: the same random flips and shift-scale-rotate are applied to every frame
of a chunk. Parameters are sampled (:func:`~radiogenomics.data.sample_augmentation`,
shared with stage 1, defaults: the reference's) separately from being applied
(:func:`augment_frames`). Item ``i`` of epoch ``e`` draws from
``numpy.random.default_rng([seed, e, i])``: call :meth:`ChunkDataset.set_epoch` before
each epoch; results do not depend on the number of loader workers.

Frames come from a :class:`FrameSource`: anything that knows its number of frames and
reads a range of them. NumPy arrays and memory maps are wrapped by :class:`ArrayFrames`,
loading callables by :class:`LazyFrames`; a prepared on-disk store can implement the
protocol directly.

This module imports torch and OpenCV; ``import radiogenomics.data`` does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol, TypedDict, runtime_checkable

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from radiogenomics._choices import LastChunkPolicy
from radiogenomics._options import check_choice, short_repr
from radiogenomics.data.segmentation_dataset import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugmentParams,
    sample_augmentation,
)
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError, LabelError
from radiogenomics.io.labels import keyed_labels, patient_key

__all__ = [
    "ArrayFrames",
    "ChunkDataset",
    "ChunkItem",
    "ChunkRef",
    "FrameInput",
    "FrameSource",
    "LastChunkPolicy",
    "LazyFrames",
    "as_frame_source",
    "augment_frames",
    "chunk_starts",
    "normalise_frames",
]


_POLICIES: tuple[LastChunkPolicy, ...] = ("pad", "shift")


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigurationError(f"{name}={value!r} must be a positive whole number.")
    return int(value)


def _check_stride(length: int, stride: int) -> None:
    if stride > length:
        raise ConfigurationError(
            f"stride={stride} is larger than length={length}: the frames between chunks "
            "would belong to no chunk. Use stride <= length."
        )


def chunk_starts(
    n: int, *, length: int = 35, stride: int = 5, policy: LastChunkPolicy = "pad"
) -> tuple[int, ...]:
    """The first frame of every chunk of a series of ``n`` frames.

    For ``n >= 1`` there are ``max(ceil((n - length) / stride) + 1, 1)`` chunks, starting
    at ``0, stride, 2 * stride, ...``. With ``policy="shift"`` and ``n >= length``, the
    last start is replaced by ``n - length`` so the last chunk ends at the series end;
    when ``n < length`` the single chunk starts at 0 under both policies (and needs
    padding). A series of no frames has no chunk (a patient whose frames were all
    filtered out gets the aggregator's fallback instead).

    Chunk ``k`` covers frames ``[start_k, min(start_k + length, n))``; every frame is in
    at least one chunk and the starts strictly increase.

    Args:
        n: Number of frames of the series (at least 0).
        length: Frames per chunk.
        stride: Frames between the starts of consecutive chunks, at most ``length``.
        policy: ``"pad"`` (the reference) or ``"shift"``.

    Returns:
        The starts, in increasing order.

    Raises:
        ConfigurationError: ``n`` is negative, ``length`` or ``stride`` is not positive,
            ``stride`` exceeds ``length`` (frames would be skipped), or ``policy`` is
            unknown.

    Example:
        >>> chunk_starts(37)
        (0, 5)
        >>> chunk_starts(37, policy="shift")
        (0, 2)
        >>> chunk_starts(12)
        (0,)
    """
    length = _check_positive_int("length", length)
    stride = _check_positive_int("stride", stride)
    check_choice("policy", policy, _POLICIES)
    _check_stride(length, stride)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigurationError(f"n={n!r} must be a whole number of frames, at least 0.")
    n = int(n)
    if n == 0:
        return ()
    count = max(math.ceil((n - length) / stride) + 1, 1)
    starts = [k * stride for k in range(count)]
    if policy == "shift" and n >= length:
        starts[-1] = n - length
    return tuple(starts)


@runtime_checkable
class FrameSource(Protocol):
    """The ordered frames of one series, read a range at a time.

    Implement this to plug a storage format into :class:`ChunkDataset` (a prepared
    store can read only the frames a chunk needs). ``read`` must return uint8 frames
    of shape ``(stop - start, H, W, 3)``, the same ``H, W`` for every range.
    """

    def __len__(self) -> int:
        """Number of frames."""
        ...

    def read(self, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Frames ``start`` (included) to ``stop`` (excluded), ``0 <= start <= stop <= len``."""
        ...


class ArrayFrames:
    """A :class:`FrameSource` over an in-memory array or a ``numpy.memmap``.

    Only the requested range is read (a memory map reads only those pages). The array
    is never written.

    Args:
        array: uint8 frames.

    Raises:
        GeometryError: ``array`` is not of shape (N, H, W, 3).
        InvalidInputError: ``array`` is not uint8.

    Shape:
        - array: (N, H, W, 3).
    """

    def __init__(self, array: npt.NDArray[np.uint8]) -> None:
        if array.ndim != 4 or array.shape[-1] != 3:
            raise GeometryError(
                f"expected frames of shape (N, H, W, 3) (channels last: image, WT, ET); "
                f"got shape {array.shape}."
            )
        if array.dtype != np.uint8:
            raise InvalidInputError(
                f"expected uint8 frames in [0, 255]; got dtype {array.dtype}. Convert with "
                "np.clip(x, 0, 255).astype(np.uint8) after scaling."
            )
        self.array = array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def read(self, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Frames ``start`` to ``stop`` (a view of the array; do not write into it)."""
        return self.array[start:stop]

    def __repr__(self) -> str:
        return f"ArrayFrames(shape={self.array.shape})"


class LazyFrames:
    """A :class:`FrameSource` that calls a loader for every read (nothing is cached).

    Use it when frames live in files that a worker process should open itself; the
    loader must return the whole series, and is called again for each chunk.

    Args:
        load: Returns uint8 frames of shape (N, H, W, 3).
        num_frames: N, known without loading (from a manifest), so that the chunk index
            can be built without reading any frame.

    Raises:
        ConfigurationError: ``num_frames`` is negative.
    """

    def __init__(self, load: Callable[[], npt.NDArray[np.uint8]], *, num_frames: int) -> None:
        if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)):
            raise ConfigurationError(f"num_frames={num_frames!r} must be a whole number.")
        if num_frames < 0:
            raise ConfigurationError(f"num_frames={num_frames} must be at least 0.")
        self.load = load
        self.num_frames = int(num_frames)

    def __len__(self) -> int:
        return self.num_frames

    def read(self, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Load the series and return frames ``start`` to ``stop``.

        Raises:
            GeometryError: The loader returned a number of frames other than ``num_frames``.
        """
        frames = ArrayFrames(np.asarray(self.load())).array
        if frames.shape[0] != self.num_frames:
            raise GeometryError(
                f"the loader returned {frames.shape[0]} frames; num_frames={self.num_frames} "
                "was promised. Update the manifest or the loader."
            )
        return frames[start:stop]

    def __repr__(self) -> str:
        return f"LazyFrames(num_frames={self.num_frames})"


FrameInput = npt.NDArray[np.uint8] | FrameSource
"""What :class:`ChunkDataset` accepts per series — an array (or memmap) or a source."""


def as_frame_source(frames: FrameInput) -> FrameSource:
    """Wrap an array in :class:`ArrayFrames`; return a :class:`FrameSource` unchanged.

    Raises:
        InvalidInputError: ``frames`` is neither an array nor a :class:`FrameSource`.
    """
    if isinstance(frames, np.ndarray):
        return ArrayFrames(frames)
    if isinstance(frames, FrameSource):
        return frames
    raise InvalidInputError(
        f"expected a uint8 array of shape (N, H, W, 3) or a FrameSource (with __len__ and "
        f"read(start, stop)); got {type(frames).__name__}. Wrap a loading function in "
        "LazyFrames(load, num_frames=N)."
    )


def _affine_matrix(params: AugmentParams, height: int, width: int) -> npt.NDArray[np.float64]:
    # Same convention as stage 1: rotate and scale about ((W - 1) / 2, (H - 1) / 2), then
    # shift by a fraction of the size (OpenCV's getRotationMatrix2D, counter-clockwise).
    angle = math.radians(params.angle)
    alpha, beta = params.scale * math.cos(angle), params.scale * math.sin(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return np.array(
        [
            [alpha, beta, (1 - alpha) * cx - beta * cy + params.dx * width],
            [-beta, alpha, beta * cx + (1 - alpha) * cy + params.dy * height],
        ],
        dtype=np.float64,
    )


def augment_frames(frames: npt.NDArray[np.uint8], params: AugmentParams) -> npt.NDArray[np.uint8]:
    """Apply one draw of flips and shift-scale-rotate to every frame alike.

    Flips come first, then the warp about the frame centre (bilinear on all three
    channels, as the reference applies it to its 3-channel frames, reflected borders
    ``BORDER_REFLECT_101``). The input is not modified.

    Args:
        frames: uint8 frames of one chunk.
        params: From :func:`~radiogenomics.data.sample_augmentation`.

    Returns:
        A new array of the input's shape and dtype.

    Raises:
        GeometryError: ``frames`` is not of shape (L, H, W, C).

    Shape:
        - frames: (L, H, W, C), C at most 4.
        - output: (L, H, W, C).
    """
    import cv2

    if frames.ndim != 4 or not 1 <= frames.shape[-1] <= 4:
        raise GeometryError(
            f"expected frames of shape (L, H, W, C) with C <= 4; got shape {frames.shape}."
        )
    out = frames
    if params.hflip:
        out = out[:, :, ::-1]
    if params.vflip:
        out = out[:, ::-1, :]
    if params.has_affine and out.shape[0] > 0:
        height, width = out.shape[1:3]
        matrix = _affine_matrix(params, height, width)
        warped = [
            np.asarray(
                cv2.warpAffine(
                    np.ascontiguousarray(frame),
                    matrix,
                    (width, height),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT_101,
                ),
                dtype=frames.dtype,
            ).reshape(frame.shape)
            for frame in out
        ]
        return np.stack(warped)
    return np.ascontiguousarray(out).copy()


def normalise_frames(frames: npt.NDArray[np.uint8]) -> torch.Tensor:
    """uint8 frames as a float32 tensor, channels first, ImageNet-normalised.

    Channel ``c`` becomes ``(x / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]``.

    Shape:
        - frames: (L, H, W, 3).
        - output: (L, 3, H, W).
    """
    scaled = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32) / 255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)
    return ((scaled - mean) / std).permute(0, 3, 1, 2).contiguous()


class ChunkRef(NamedTuple):
    """Where a chunk comes from.

    Attributes:
        patient_id: The patient.
        mri_type: The series' MRI type (``"FLAIR"``, ``"T1w"``, ``"T1wCE"``, ``"T2w"``).
        start: The chunk's first frame in the series.
        num_valid: How many of its frames are real (the rest is padding).
    """

    patient_id: str
    mri_type: str
    start: int
    num_valid: int


class ChunkItem(TypedDict):
    """One chunk as a model input, batchable by ``torch.utils.data.default_collate``.

    Attributes:
        frames: float32 (L, 3, H, W), ImageNet-normalised; padding frames are zeros.
        valid: bool (L,): True for real frames.
        label: float32 scalar: the patient's label (NaN when the dataset has no labels).
        patient_id: The patient.
        mri_type: The MRI type.
        start: The chunk's first frame in its series.
    """

    frames: torch.Tensor
    valid: torch.Tensor
    label: torch.Tensor
    patient_id: str
    mri_type: str
    start: int


class ChunkDataset(Dataset[ChunkItem]):
    """The chunks of every series as model inputs: augment, normalise, pad.

    Args:
        frames_by_series: ``(patient_id, mri_type) -> frames``, in the order the chunks
            should be listed; frames are a uint8 array (N, H, W, 3) (a memmap is read
            lazily) or a :class:`FrameSource`. Series with no frames give no chunk.
        labels: ``patient_id -> 0/1``; ``None`` for unlabelled data (prediction), in
            which case every item's label is NaN.
        length: Frames per chunk (35 in the reference).
        stride: Frames between chunk starts (5 in the reference); at most ``length``.
        last: The last-chunk policy, ``"pad"`` (the reference) or ``"shift"``.
        augment: The random augmentation's probabilities and ranges (training; e.g.
            ``AugmentConfig()`` for the reference's); ``None`` for none (validation).
        seed: Seed of the augmentation draws.
        image_size: Square side frames are resized to (OpenCV bilinear) before
            augmentation; ``None`` keeps the stored size (then every series must share
            one size for batching).

    Raises:
        ConfigurationError: An option is invalid.
        LabelError: A series' patient has no label.

    Shape:
        - item ``"frames"``: (L, 3, H, W); item ``"valid"``: (L,); item ``"label"``: ().

    Example:
        >>> import numpy as np
        >>> data = ChunkDataset({("00001", "FLAIR"): np.zeros((40, 8, 8, 3), np.uint8)},
        ...                     {"00001": 1})
        >>> [ref.start for ref in data.index], data[1]["valid"].sum().item()
        ([0, 5], 35)
    """

    def __init__(
        self,
        frames_by_series: Mapping[tuple[str, str], FrameInput],
        labels: Mapping[str, int] | None = None,
        *,
        length: int = 35,
        stride: int = 5,
        last: LastChunkPolicy = "pad",
        augment: AugmentConfig | None = None,
        seed: int = 0,
        image_size: int | None = None,
    ) -> None:
        self.length = _check_positive_int("length", length)
        self.stride = _check_positive_int("stride", stride)
        _check_stride(self.length, self.stride)
        check_choice("last", last, _POLICIES)
        self.last: LastChunkPolicy = last
        if augment is not None and not isinstance(augment, AugmentConfig):
            raise ConfigurationError(
                f"augment={augment!r} must be an AugmentConfig (AugmentConfig() gives the "
                "reference's augmentation) or None."
            )
        if image_size is not None:
            image_size = _check_positive_int("image_size", image_size)
        self.augment = augment
        self.seed = int(seed)
        self.image_size = image_size
        self.epoch = 0
        self.labels: dict[str, int] | None = None if labels is None else keyed_labels(labels)
        self.sources: dict[tuple[str, str], FrameSource] = {}
        refs: list[ChunkRef] = []
        for key, frames in frames_by_series.items():
            patient_id, mri_type = key
            if self.labels is not None and patient_key(patient_id) not in self.labels:
                raise LabelError(
                    f"no label for patient {patient_id!r} (series {mri_type}); every "
                    "patient of frames_by_series needs a label, or pass labels=None.",
                    patient_id=patient_id,
                )
            source = as_frame_source(frames)
            self.sources[(patient_id, mri_type)] = source
            n = len(source)
            for start in chunk_starts(n, length=self.length, stride=self.stride, policy=last):
                refs.append(ChunkRef(patient_id, mri_type, start, min(self.length, n - start)))
        self.index: tuple[ChunkRef, ...] = tuple(refs)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose augmentation draws :meth:`__getitem__` makes."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def params_for(self, position: int) -> AugmentParams:
        """The augmentation parameters of item ``position`` in the current epoch."""
        if self.augment is None:
            return AugmentParams()
        rng = np.random.default_rng([self.seed, self.epoch, position])
        return sample_augmentation(rng, config=self.augment)

    def _read(self, ref: ChunkRef) -> npt.NDArray[np.uint8]:
        import cv2

        source = self.sources[(ref.patient_id, ref.mri_type)]
        frames = np.asarray(source.read(ref.start, ref.start + ref.num_valid))
        if frames.ndim != 4 or frames.shape[0] != ref.num_valid or frames.shape[-1] != 3:
            raise GeometryError(
                f"series {ref.mri_type}: reading frames {ref.start}..{ref.start + ref.num_valid}"
                f" gave shape {frames.shape}; expected ({ref.num_valid}, H, W, 3).",
                patient_id=ref.patient_id,
            )
        if frames.dtype != np.uint8:
            raise InvalidInputError(
                f"series {ref.mri_type}: frames of dtype {frames.dtype}; expected uint8.",
                patient_id=ref.patient_id,
            )
        size = self.image_size
        if size is not None and frames.shape[1:3] != (size, size):
            frames = np.stack(
                [
                    np.asarray(cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR))
                    for f in frames
                ]
            )
        return frames

    def __getitem__(self, position: int) -> ChunkItem:
        if not -len(self) <= position < len(self):
            raise IndexError(f"chunk {position} out of range for {len(self)} chunks")
        position %= len(self)
        ref = self.index[position]
        frames = augment_frames(self._read(ref), self.params_for(position))
        tensor = normalise_frames(frames)
        pad = self.length - ref.num_valid
        if pad:
            tensor = torch.cat([tensor, tensor.new_zeros((pad, *tensor.shape[1:]))])
        valid = torch.arange(self.length) < ref.num_valid
        label = (
            float("nan") if self.labels is None else float(self.labels[patient_key(ref.patient_id)])
        )
        return ChunkItem(
            frames=tensor,
            valid=valid,
            label=torch.tensor(label, dtype=torch.float32),
            patient_id=ref.patient_id,
            mri_type=ref.mri_type,
            start=ref.start,
        )

    def series_keys(self) -> tuple[tuple[str, str], ...]:
        """Every ``(patient_id, mri_type)`` given, including those with no chunk."""
        return tuple(self.sources)

    def __repr__(self) -> str:
        return short_repr(
            self,
            series=(len(self.sources), None),
            chunks=(len(self), None),
            length=(self.length, 35),
            stride=(self.stride, 5),
            last=(self.last, "pad"),
            augment=(self.augment, None),
            seed=(self.seed, 0),
            image_size=(self.image_size, None),
        )
