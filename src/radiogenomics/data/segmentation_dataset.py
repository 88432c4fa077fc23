"""The stage 1 training dataset over prepared slices, and its augmentation.

Augmentation follows TorchIO's design: random parameters are *sampled* by a pure
function of a random generator (:func:`sample_augmentation`) and *applied* by another
(:func:`apply_augmentation`), so the same parameters move an image and its masks
together, and either half can be tested alone. The reference's augmentation is:
horizontal flip (p 0.5), vertical flip (p 0.5), shift-scale-rotate (p 0.5; shift up to
0.0625 of the size, scale within 1 ± 0.1, rotation within ± 45 degrees, reflected border).

Reproducibility: item ``i`` of epoch ``e`` draws its parameters from
``numpy.random.default_rng([seed, e, i])``, so a run gives the same batches whatever the
number of loader workers, and a resumed run continues exactly (call
:meth:`SegmentationDataset.set_epoch` before each epoch).

This module imports torch; ``import radiogenomics.data`` does not import it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.data.store import PreparedSlices
from radiogenomics.errors import ConfigurationError, InvalidInputError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentConfig",
    "AugmentParams",
    "SegmentationDataset",
    "SegmentationItem",
    "apply_augmentation",
    "normalise_slice",
    "sample_augmentation",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
"""ImageNet channel means of images scaled to [0, 1]."""
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
"""ImageNet channel standard deviations of images scaled to [0, 1]."""

ChannelMode = Literal["replicate"]


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the augmentation (defaults: the reference).

    Attributes:
        hflip: Probability of a horizontal (left-right) flip.
        vflip: Probability of a vertical (up-down) flip.
        affine: Probability of a shift-scale-rotate.
        shift: Largest shift, as a fraction of the width (x) and height (y).
        scale: Scale factor drawn in ``[1 - scale, 1 + scale]``.
        rotate: Largest rotation in degrees (either direction).
    """

    hflip: float = 0.5
    vflip: float = 0.5
    affine: float = 0.5
    shift: float = 0.0625
    scale: float = 0.1
    rotate: float = 45.0

    def __post_init__(self) -> None:
        for name in ("hflip", "vflip", "affine"):
            check_range(name, getattr(self, name), low=0.0, high=1.0)
        check_range("shift", self.shift, low=0.0, high=1.0)
        check_range("scale", self.scale, low=0.0, high=1.0, high_inclusive=False)
        check_range("rotate", self.rotate, low=0.0, high=180.0)


@dataclass(frozen=True)
class AugmentParams:
    """One draw of augmentation parameters (identity when every field is at rest).

    Attributes:
        hflip: Flip left-right.
        vflip: Flip up-down.
        angle: Rotation in degrees, counter-clockwise, about the image centre.
        scale: Zoom factor (above 1 enlarges).
        dx: Shift right, as a fraction of the width.
        dy: Shift down, as a fraction of the height.
    """

    hflip: bool = False
    vflip: bool = False
    angle: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    @property
    def has_affine(self) -> bool:
        """Whether a warp (rotation, scale or shift) is needed."""
        return (self.angle, self.scale, self.dx, self.dy) != (0.0, 1.0, 0.0, 0.0)


def sample_augmentation(
    rng: np.random.Generator, *, config: AugmentConfig | None = None
) -> AugmentParams:
    """Draw augmentation parameters (pure: the result depends only on ``rng``'s state).

    Args:
        rng: The random generator (advanced by the draw).
        config: Probabilities and ranges; default: the reference's.

    Returns:
        The parameters; those of a transform not drawn are at rest.
    """
    config = config or AugmentConfig()
    draws = rng.random(7)
    params = AugmentParams(hflip=bool(draws[0] < config.hflip), vflip=bool(draws[1] < config.vflip))
    if draws[2] < config.affine:
        params = AugmentParams(
            hflip=params.hflip,
            vflip=params.vflip,
            angle=float((2 * draws[3] - 1) * config.rotate),
            scale=float(1 + (2 * draws[4] - 1) * config.scale),
            dx=float((2 * draws[5] - 1) * config.shift),
            dy=float((2 * draws[6] - 1) * config.shift),
        )
    return params


def _warp(
    plane: npt.NDArray[np.uint8], matrix: npt.NDArray[np.float64], nearest: bool
) -> npt.NDArray[np.uint8]:
    import cv2

    height, width = plane.shape
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return np.asarray(
        cv2.warpAffine(
            np.ascontiguousarray(plane),
            matrix,
            (width, height),
            flags=flags,
            borderMode=cv2.BORDER_REFLECT_101,
        ),
        dtype=plane.dtype,
    )


def apply_augmentation(
    image: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8], params: AugmentParams
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Apply the same flips and warp to an image (bilinear) and its masks (nearest).

    Flips come first, then the shift-scale-rotate about the image centre
    ``((W - 1) / 2, (H - 1) / 2)`` with reflected borders (OpenCV ``BORDER_REFLECT_101``).
    The inputs are not modified.

    Args:
        image: The slice.
        mask: Its binary masks.
        params: From :func:`sample_augmentation`.

    Returns:
        New ``(image, mask)`` arrays of the input shapes and dtypes.

    Raises:
        InvalidInputError: The image and mask sizes differ.

    Shape:
        image: (H, W); mask: (C, H, W).
    """
    import cv2

    if image.ndim != 2 or mask.ndim != 3 or mask.shape[1:] != image.shape:
        raise InvalidInputError(
            f"image {image.shape} and mask {mask.shape} do not fit; expected (H, W) and "
            "(C, H, W) of the same H and W."
        )
    out_image, out_mask = image, mask
    if params.hflip:
        out_image, out_mask = out_image[:, ::-1], out_mask[:, :, ::-1]
    if params.vflip:
        out_image, out_mask = out_image[::-1, :], out_mask[:, ::-1, :]
    if params.has_affine:
        height, width = image.shape
        centre = ((width - 1) / 2, (height - 1) / 2)
        matrix = np.asarray(
            cv2.getRotationMatrix2D(centre, params.angle, params.scale), dtype=np.float64
        )
        matrix[0, 2] += params.dx * width
        matrix[1, 2] += params.dy * height
        out_image = _warp(out_image, matrix, nearest=False)
        out_mask = np.stack([_warp(channel, matrix, nearest=True) for channel in out_mask])
    return np.ascontiguousarray(out_image).copy(), np.ascontiguousarray(out_mask).copy()


def normalise_slice(image: npt.NDArray[np.uint8]) -> torch.Tensor:
    """A uint8 slice as a float32 3-channel tensor with ImageNet normalisation.

    The slice is replicated to 3 channels and each channel ``c`` becomes
    ``(x / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]``.

    Shape:
        image: (H, W); output: (3, H, W).
    """
    scaled = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    return (scaled.unsqueeze(0).expand(3, -1, -1) - mean) / std


class SegmentationItem(TypedDict):
    """One training item, batchable by ``torch.utils.data.default_collate``.

    Attributes:
        image: float32 (3, S, S), ImageNet-normalised.
        mask: float32 (C, S, S), 0 or 1.
        patient_id: The slice's patient.
    """

    image: torch.Tensor
    mask: torch.Tensor
    patient_id: str


class SegmentationDataset(Dataset[SegmentationItem]):
    """Slices of a prepared folder as model inputs: resize, augment, normalise.

    Args:
        store: The prepared slices.
        indices: Which rows of ``store`` (e.g. one side of
            :func:`~radiogenomics.training.patient_split`); default all.
        image_size: Square size the slices are resized to (OpenCV, bilinear for images,
            nearest for masks) when they are not already that size.
        channels: ``"replicate"``: the slice copied to 3 channels (the reference).
        augment: Apply the random augmentation (training) or not (validation).
        augment_config: Probabilities and ranges; default: the reference's.
        seed: Seed of the augmentation draws.

    Shape:
        item ``"image"``: (3, S, S); item ``"mask"``: (C, S, S).
    """

    def __init__(
        self,
        store: PreparedSlices,
        indices: Sequence[int] | npt.NDArray[np.integer] | None = None,
        *,
        image_size: int = 224,
        channels: ChannelMode = "replicate",
        augment: bool = False,
        augment_config: AugmentConfig | None = None,
        seed: int = 0,
    ) -> None:
        check_choice("channels", channels, ("replicate",))
        if image_size < 8:
            raise ConfigurationError(f"image_size={image_size} is too small; use at least 8.")
        self.store = store
        chosen = range(len(store)) if indices is None else indices
        self.indices: tuple[int, ...] = tuple(int(i) for i in chosen)
        bad = [i for i in self.indices if not 0 <= i < len(store)]
        if bad:
            raise InvalidInputError(
                f"indices {bad[:5]} are out of range for {len(store)} prepared slices.",
                path=store.root,
            )
        self.image_size = image_size
        self.channels: ChannelMode = channels
        self.augment = augment
        self.augment_config = augment_config or AugmentConfig()
        self.seed = seed
        self.epoch = 0

    def __getstate__(self) -> dict[str, Any]:
        # Sent to loader workers: share the manifest rows but not the memory maps, which
        # would be pickled as full arrays; each worker maps the files again.
        state = self.__dict__.copy()
        store = copy.copy(self.store)
        store._arrays = {}
        state["store"] = store
        return state

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose augmentation draws :meth:`__getitem__` makes."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def params_for(self, position: int) -> AugmentParams:
        """The augmentation parameters of item ``position`` in the current epoch."""
        if not self.augment:
            return AugmentParams()
        rng = np.random.default_rng([self.seed, self.epoch, position])
        return sample_augmentation(rng, config=self.augment_config)

    def _resize(
        self, image: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        import cv2

        size = self.image_size
        if image.shape == (size, size) and mask.shape[1:] == (size, size):
            return image, mask
        image = np.asarray(cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR))
        mask = np.stack(
            [np.asarray(cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)) for m in mask]
        )
        return image, mask

    def __getitem__(self, position: int) -> SegmentationItem:
        if not 0 <= position < len(self):
            raise IndexError(f"item {position} out of range for {len(self)} items")
        stored = self.store[self.indices[position]]
        image, mask = self._resize(stored.image, stored.masks)
        image, mask = apply_augmentation(image, mask, self.params_for(position))
        return SegmentationItem(
            image=normalise_slice(image).contiguous(),
            mask=torch.from_numpy(mask.astype(np.float32)),
            patient_id=stored.row["patient_id"],
        )

    def __repr__(self) -> str:
        return short_repr(
            self,
            items=(len(self), None),
            image_size=(self.image_size, 224),
            augment=(self.augment, False),
            seed=(self.seed, 0),
        )
