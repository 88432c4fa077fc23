"""The small immutable records that flow through a pipeline.

A :class:`VolumeRecord` is one 3D image (one modality or MRI type of one patient) with
its masks; :class:`~radiogenomics.slicing.SliceExtractor` turns it into
:class:`SliceRecord` objects, which samplers and filters keep or drop. Records are frozen
dataclasses: steps return new records (``dataclasses.replace``) and never write into the
arrays they receive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["PLANES", "Plane", "SliceRecord", "VolumeRecord"]

Plane = Literal["axial", "coronal", "sagittal"]
"""An anatomical plane, named by anatomy whatever the stored orientation."""

PLANES: tuple[Plane, ...] = ("sagittal", "coronal", "axial")
"""The three planes, in the order of the RAS world axes whose normal they share (x, y, z)."""


def _check_masks(
    masks: npt.NDArray[Any] | None,
    brain: npt.NDArray[Any] | None,
    *,
    patient_id: str,
    source: str | None = None,
) -> None:
    """Refuse masks that are not 0/1 uint8 and brain masks that are not bool."""
    from radiogenomics.errors import InvalidInputError

    if masks is not None:
        if masks.dtype != np.uint8:
            hint = (
                " (convert with masks.astype(np.uint8))"
                if masks.dtype == np.bool_
                else " (threshold probabilities first, e.g. (masks > 0.5).astype(np.uint8))"
            )
            raise InvalidInputError(
                f"masks must be uint8 with values 0 and 1; got dtype {masks.dtype}{hint}.",
                patient_id=patient_id,
                path=source,
            )
        if masks.size and int(masks.max()) > 1:
            raise InvalidInputError(
                f"masks must hold 0 and 1 only; found a value of {int(masks.max())} (a 0/255 "
                "image or a label map? divide by 255, or build the channels with "
                "radiogenomics.masks.tumor_masks).",
                patient_id=patient_id,
                path=source,
            )
    if brain is not None and brain.dtype != np.bool_:
        raise InvalidInputError(
            f"the brain mask must be bool; got dtype {brain.dtype} (use brain != 0).",
            patient_id=patient_id,
            path=source,
        )


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, repr=False, eq=False)
class VolumeRecord:
    """One 3D image of one patient, with its masks and its voxel-to-world affine.

    Attributes:
        patient_id: The patient or case identifier (``"BraTS2021_00006"``, ``"00006"``).
        modality: The modality or MRI type (``"flair"``, ``"T1wCE"``, ...).
        image: Voxel intensities, of shape (X, Y, Z), any real dtype.
        affine: The 4x4 voxel-to-world (RAS+, millimetres) affine, as in NIfTI.
        masks: Binary masks of shape (C, X, Y, Z) and dtype uint8, one channel per name
            in ``mask_channels``; ``None`` when the volume has no masks (yet).
        brain: Brain (foreground) mask of shape (X, Y, Z) and dtype bool, or ``None``.
        mask_channels: The names of the mask channels (``("WT", "ET")`` by default).
        source: Where the image was read from (a path, for error messages), if known.
    """

    patient_id: str
    modality: str
    image: npt.NDArray[Any]
    affine: npt.NDArray[np.float64]
    masks: npt.NDArray[np.uint8] | None = None
    brain: npt.NDArray[np.bool_] | None = None
    mask_channels: tuple[str, ...] = ("WT", "ET")
    source: str | None = None

    def __post_init__(self) -> None:
        from radiogenomics.errors import GeometryError

        if self.image.ndim != 3:
            raise GeometryError(
                f"expected a 3D image of shape (X, Y, Z); got shape {self.image.shape}.",
                patient_id=self.patient_id,
                path=self.source,
            )
        if self.affine.shape != (4, 4):
            raise GeometryError(
                f"expected a 4x4 affine; got shape {self.affine.shape}.",
                patient_id=self.patient_id,
                path=self.source,
            )
        if self.masks is not None and (
            self.masks.ndim != 4
            or self.masks.shape[1:] != self.image.shape
            or self.masks.shape[0] != len(self.mask_channels)
        ):
            raise GeometryError(
                f"masks of shape {self.masks.shape} do not match the image of shape "
                f"{self.image.shape} with channels {self.mask_channels}; expected "
                f"{(len(self.mask_channels), *self.image.shape)}.",
                patient_id=self.patient_id,
                path=self.source,
            )
        if self.brain is not None and self.brain.shape != self.image.shape:
            raise GeometryError(
                f"brain mask of shape {self.brain.shape} does not match the image of shape "
                f"{self.image.shape}.",
                patient_id=self.patient_id,
                path=self.source,
            )
        _check_masks(self.masks, self.brain, patient_id=self.patient_id, source=self.source)
        # Arrays are shared, never copied: make them read-only views so no step can
        # mutate its input by accident.
        object.__setattr__(self, "image", _readonly(self.image))
        object.__setattr__(self, "affine", _readonly(np.asarray(self.affine, dtype=np.float64)))
        if self.masks is not None:
            object.__setattr__(self, "masks", _readonly(self.masks))
        if self.brain is not None:
            object.__setattr__(self, "brain", _readonly(self.brain))

    def replace(self, **changes: object) -> VolumeRecord:
        """Return a copy with the given fields replaced (the input is unchanged)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        masks = "none" if self.masks is None else "x".join(map(str, self.masks.shape))
        return (
            f"VolumeRecord(patient_id={self.patient_id!r}, modality={self.modality!r}, "
            f"shape={self.image.shape}, dtype={self.image.dtype}, masks={masks})"
        )


@dataclass(frozen=True, repr=False, eq=False)
class SliceRecord:
    """One 2D slice of one volume, with its masks and where it came from.

    Attributes:
        patient_id: The patient or case identifier.
        modality: The modality or MRI type.
        plane: The anatomical plane of the slice.
        index: The slice's index along the stored array axis it was cut from.
        image: Intensities of shape (H, W); uint8 in [0, 255] after
            :class:`~radiogenomics.slicing.SliceExtractor` normalisation.
        masks: Binary masks of shape (C, H, W) and dtype uint8, or ``None``.
        brain: Brain mask of shape (H, W) and dtype bool, or ``None``.
        mask_channels: The names of the mask channels.
        position: World position (mm) of the slice along the plane's normal axis
            (RAS+), used to keep geometric order.
        tumor_ratio: Set by :class:`~radiogenomics.filters.TumorAreaFilter`.
        n_contours: Set by :class:`~radiogenomics.filters.ContourCountFilter`.
        extra: Free-form, read-only metadata for user steps.
    """

    patient_id: str
    modality: str
    plane: Plane
    index: int
    image: npt.NDArray[Any]
    masks: npt.NDArray[np.uint8] | None = None
    brain: npt.NDArray[np.bool_] | None = None
    mask_channels: tuple[str, ...] = ("WT", "ET")
    position: float = 0.0
    tumor_ratio: float | None = None
    n_contours: int | None = None
    extra: tuple[tuple[str, object], ...] = field(default=())

    def __post_init__(self) -> None:
        from radiogenomics.errors import GeometryError

        if self.image.ndim != 2:
            raise GeometryError(
                f"expected a 2D slice of shape (H, W); got shape {self.image.shape}.",
                patient_id=self.patient_id,
            )
        if self.masks is not None and (
            self.masks.ndim != 3
            or self.masks.shape[1:] != self.image.shape
            or self.masks.shape[0] != len(self.mask_channels)
        ):
            raise GeometryError(
                f"slice masks of shape {self.masks.shape} do not match the slice of shape "
                f"{self.image.shape} with channels {self.mask_channels}.",
                patient_id=self.patient_id,
            )
        if self.brain is not None and self.brain.shape != self.image.shape:
            raise GeometryError(
                f"slice brain mask of shape {self.brain.shape} does not match the slice of "
                f"shape {self.image.shape}.",
                patient_id=self.patient_id,
            )
        _check_masks(self.masks, self.brain, patient_id=self.patient_id)
        object.__setattr__(self, "image", _readonly(self.image))
        if self.masks is not None:
            object.__setattr__(self, "masks", _readonly(self.masks))
        if self.brain is not None:
            object.__setattr__(self, "brain", _readonly(self.brain))

    @property
    def group(self) -> tuple[str, str, str]:
        """The ``(patient_id, modality, plane)`` series this slice belongs to."""
        return (self.patient_id, self.modality, self.plane)

    def mask(self, channel: str) -> npt.NDArray[np.uint8]:
        """The (H, W) mask of one named channel.

        Raises:
            InvalidInputError: The slice has no masks or no channel of that name.
        """
        from radiogenomics.errors import InvalidInputError

        if self.masks is None:
            raise InvalidInputError(
                f"slice {self.plane} #{self.index} ({self.modality}) has no masks; a step "
                "that needs masks must come after masks were attached (labels or predictions).",
                patient_id=self.patient_id,
            )
        if channel not in self.mask_channels:
            raise InvalidInputError(
                f"mask channel {channel!r} not found; this slice has {self.mask_channels}.",
                patient_id=self.patient_id,
            )
        mask: npt.NDArray[np.uint8] = self.masks[self.mask_channels.index(channel)]
        return mask

    def replace(self, **changes: object) -> SliceRecord:
        """Return a copy with the given fields replaced (the input is unchanged)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        parts = [
            f"patient_id={self.patient_id!r}",
            f"modality={self.modality!r}",
            f"plane={self.plane!r}",
            f"index={self.index}",
            f"shape={self.image.shape}",
        ]
        if self.tumor_ratio is not None:
            parts.append(f"tumor_ratio={self.tumor_ratio:.4f}")
        if self.n_contours is not None:
            parts.append(f"n_contours={self.n_contours}")
        return f"SliceRecord({', '.join(parts)})"
