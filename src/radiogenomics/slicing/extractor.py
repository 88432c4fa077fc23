"""``SliceExtractor``: 3D volumes to 2D slices named by anatomical plane."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from radiogenomics._options import check_choice, check_names, short_repr
from radiogenomics.errors import ConfigurationError
from radiogenomics.records import PLANES, Plane, SliceRecord, VolumeRecord
from radiogenomics.slicing.geometry import Orientation, slice_layout
from radiogenomics.slicing.intensity import IntensityMethod, to_uint8
from radiogenomics.slicing.resize import resize_slice

__all__ = ["SliceExtractor", "extract_slices"]


def extract_slices(
    volume: VolumeRecord,
    *,
    planes: Sequence[Plane] = PLANES,
    orientation: Orientation = "native",
    intensity: IntensityMethod | None = "minmax",
    size: int | None = None,
) -> list[SliceRecord]:
    """Cut every slice of a volume along the given anatomical planes.

    Planes are found from the affine (see :func:`~radiogenomics.slicing.plane_axes`), so
    a volume stored in any axis order gives the same named planes. Slices come out plane
    by plane (in ``planes`` order), by increasing stored index within a plane.

    Args:
        volume: The image, with optional masks and brain mask.
        planes: Which planes to cut.
        orientation: ``"native"`` (stored axes) or ``"radiological"`` layout.
        intensity: Normalise the whole volume to uint8 first (``"minmax"``,
            ``"percentile"``), or ``None`` to keep the values as they are.
        size: Resize each slice to ``size`` x ``size`` (image: area/linear
            interpolation; masks: nearest), or ``None`` to keep the native size.

    Returns:
        One :class:`~radiogenomics.records.SliceRecord` per slice. Without resizing, the
        slices' arrays are read-only views into the (normalised) volume.
    """
    image = volume.image if intensity is None else to_uint8(volume.image, method=intensity)
    records: list[SliceRecord] = []
    affine = volume.affine
    for plane in check_names("planes", planes, PLANES):
        layout = slice_layout(affine, plane, orientation=orientation)
        axis = layout.axis
        # World coordinate of each slice centre along the plane's normal axis.
        centre = (np.asarray(image.shape, dtype=np.float64) - 1.0) / 2.0
        world_axis = PLANES.index(plane)
        base = float(affine[world_axis, :3] @ centre + affine[world_axis, 3])
        step = float(affine[world_axis, axis])
        for index in range(image.shape[axis]):
            slice_image = layout.apply(image, index)
            masks = None if volume.masks is None else layout.apply(volume.masks, index)
            brain = None if volume.brain is None else layout.apply(volume.brain, index)
            if size is not None:
                slice_image, masks, brain = resize_slice(slice_image, masks, brain, size=size)
            records.append(
                SliceRecord(
                    patient_id=volume.patient_id,
                    modality=volume.modality,
                    plane=plane,
                    index=index,
                    image=slice_image,
                    masks=masks,
                    brain=brain,
                    mask_channels=volume.mask_channels,
                    position=base + step * (index - centre[axis]),
                )
            )
    return records


class SliceExtractor:
    """Turn a :class:`~radiogenomics.records.VolumeRecord` into 2D slice records.

    Planes are named by anatomy from the affine, whatever the stored orientation: on a
    BraTS volume (stored LPS) array axes 0/1/2 are sagittal/coronal/axial, exactly as
    the reference slices them; on a volume stored in another axis order, the same
    anatomical slices come out under the same names.

    Args:
        planes: The planes to cut (default: all three); one name is one plane
            (``planes="axial"``).
        orientation: ``"native"`` keeps the stored in-plane axes (released code);
            ``"radiological"`` lays every slice out as a DICOM viewer shows it, so that
            Task 1 slices look like Task 2 DICOM images.
        intensity: Per-volume normalisation to uint8 (``"minmax"`` as in the reference,
            or ``"percentile"``), or ``None``.
        size: Resize slices to ``size`` x ``size``; ``None`` keeps native size. Resizing
            early is simple but slow; in a pipeline, prefer filters first and a
            :class:`~radiogenomics.slicing.ResizeSlices` step last.

    Example:
        >>> from radiogenomics.testing import make_brats_case
        >>> volume = make_brats_case(seed=0, shape=(32, 32, 24)).volumes()[0]
        >>> slices = SliceExtractor(planes=("axial",))(volume)
        >>> len(slices), slices[0].plane, slices[0].image.shape
        (24, 'axial', (32, 32))
    """

    def __init__(
        self,
        *,
        planes: Plane | Iterable[Plane] = PLANES,
        orientation: Orientation = "native",
        intensity: IntensityMethod | None = "minmax",
        size: int | None = None,
    ) -> None:
        self.planes: tuple[Plane, ...] = check_names("planes", planes, PLANES)
        self.orientation = check_choice("orientation", orientation, ("native", "radiological"))
        if intensity is not None:
            check_choice("intensity", intensity, ("minmax", "percentile"))
        self.intensity = intensity
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ConfigurationError(f"size={size!r} must be a positive integer or None.")
        self.size = size

    def __call__(self, volume: VolumeRecord) -> list[SliceRecord]:
        """Cut the volume; see :func:`extract_slices`."""
        return extract_slices(
            volume,
            planes=self.planes,
            orientation=self.orientation,  # type: ignore[arg-type]
            intensity=self.intensity,
            size=self.size,
        )

    def __repr__(self) -> str:
        return short_repr(
            self,
            planes=(self.planes, PLANES),
            orientation=(self.orientation, "native"),
            intensity=(self.intensity, "minmax"),
            size=(self.size, None),
        )
