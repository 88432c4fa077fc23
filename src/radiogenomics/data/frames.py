"""The stage 2 frame recipe: what one series becomes, in preparation and in prediction.

A series is normalised to uint8 over its whole length, its slices are segmented by a
mask function (the stage 1 :class:`~radiogenomics.MaskPredictor`, or any callable from
uint8 slices to 0/1 masks), and each slice becomes a 3-channel frame ``[image, WT * 255,
ET * 255]``; the frame steps (:class:`~radiogenomics.filters.BlankSliceFilter`,
:class:`~radiogenomics.TumorAreaFilter`, :class:`~radiogenomics.ContourCountFilter`, or
the user's own) keep the informative ones, in geometric order.

:class:`FrameRecipe` is that chain as one object. The preparation job
(:func:`~radiogenomics.data.prepare_classification`) and prediction
(:func:`~radiogenomics.inference.run_prediction`) both call it, so the frames a
classifier is trained on and the frames it is asked about are made the same way, by
construction. :class:`ClassificationPrepConfig` describes the library's recipe as plain
settings (the presets and the command line build it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from radiogenomics._options import (
    check_choice,
    check_fields,
    check_names,
    check_range,
    dataclass_repr,
)
from radiogenomics.data.slices import SliceStep, check_recipe_settings, describe_step
from radiogenomics.errors import (
    ConfigurationError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
)
from radiogenomics.filters.blank import BlankSliceFilter, nonzero_fraction
from radiogenomics.filters.contours import ContourCountFilter
from radiogenomics.filters.tumor_area import AreaMeasure, AreaReference, TumorAreaFilter
from radiogenomics.inference.postprocess import CleanupDims, MaskCleanup
from radiogenomics.inference.zoom import check_zoom
from radiogenomics.io.dicom import MRI_TYPES
from radiogenomics.pipeline import Pipeline
from radiogenomics.records import SliceRecord
from radiogenomics.slicing.intensity import IntensityMethod, to_uint8

__all__ = [
    "ClassificationPrepConfig",
    "FrameRecipe",
    "MaskFunction",
    "frames_from_masks",
    "series_frames",
    "series_to_frames",
]


class MaskFunction(Protocol):
    """Masks of slices: :class:`~radiogenomics.MaskPredictor` is one, so is any function
    of this signature.

    A frame recipe calls it once per series, with the series' non-blank slices in
    geometric order.
    """

    def __call__(self, slices: npt.NDArray[np.uint8], /) -> npt.NDArray[np.uint8]:
        """The 0/1 masks of uint8 slices, one channel per region (WT, then ET).

        Shape:
            - slices: (N, H, W), uint8.
            - output: (N, C, H, W), uint8 of 0 and 1.
        """
        ...


_LATER_SETTINGS: dict[str, object] = {"cleanup_drop_below": 0, "cleanup_dims": "3d"}
"""Settings added after the seed, and their defaults: left out of the record at them."""


@dataclass(frozen=True)
class ClassificationPrepConfig:
    """Every setting of stage 2 preparation (defaults: the writeup).

    Thresholds keep strictly: a frame is kept when its non-zero fraction is above
    ``blank_min_fraction``, its tumor ratio above ``min_ratio``, and its number of WT
    contours in ``[min_contours, max_contours]``. The named presets come from
    :func:`~radiogenomics.presets.classification_preset`: the released code measures
    areas as largest contours (``area="largest_contour"``) and counts hole contours
    (``count_holes=True``).

    Attributes:
        mri_types: MRI types to prepare, from :data:`~radiogenomics.io.dicom.MRI_TYPES`.
        intensity: Per-series normalisation to uint8 (``"minmax"``: the reference).
        blank_min_fraction: Drops slices whose non-zero fraction is not above it.
        min_ratio: Keeps frames whose tumor ratio (WT over brain) is strictly above it.
        reference: Tumor area over the ``"brain"`` or the whole ``"slice"``.
        area: ``"pixels"`` (writeup) or ``"largest_contour"`` (released code).
        brain_threshold: A pixel of the uint8 image is brain when strictly above it
            (1 in the released code).
        max_contours: Drops frames with more WT contours than this.
        min_contours: Drops frames with fewer WT contours than this.
        count_holes: Count the contours of holes too (released code).
        zoom: Stage 1 zoom about the slice centre (1.2 in the reference).
        threshold: Mask threshold on the stage 1 probabilities (strictly above).
        exclude_known_bad: Skip :data:`~radiogenomics.io.labels.KNOWN_BAD_SERIES`.
        cleanup_drop_below: Clean-up of the stage 1 masks, not the seed's: drop their
            connected components of fewer than this many voxels
            (:class:`~radiogenomics.inference.MaskCleanup`); 0 (the default) keeps them
            as predicted.
        cleanup_dims: Components within each slice (``"2d"``) or across the series'
            slices in geometric order (``"3d"``, the default).

    Settings added after the seed (the two clean-up settings) are written to
    ``prepare-config.json`` only when they are not at their default, so a store made
    with the seed's settings keeps its bytes and older stores still read.

    Example:
        >>> ClassificationPrepConfig(area="largest_contour", count_holes=True).filters()[1]
        TumorAreaFilter(min_ratio=0.025, area='largest_contour', brain_threshold=1.0)
    """

    mri_types: tuple[str, ...] = MRI_TYPES
    intensity: IntensityMethod = "minmax"
    blank_min_fraction: float = 0.1
    min_ratio: float = 0.025
    reference: AreaReference = "brain"
    area: AreaMeasure = "pixels"
    brain_threshold: float = 1.0
    max_contours: int = 5
    min_contours: int = 1
    count_holes: bool = False
    zoom: float = 1.2
    threshold: float = 0.5
    exclude_known_bad: bool = True
    cleanup_drop_below: int = 0
    cleanup_dims: CleanupDims = "3d"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mri_types", check_names("mri_types", self.mri_types, MRI_TYPES))
        check_choice("intensity", self.intensity, ("minmax", "percentile"))
        check_zoom("zoom", self.zoom)
        check_range("threshold", self.threshold, low=0.0, high=1.0)
        check_choice("cleanup_dims", self.cleanup_dims, ("2d", "3d"))
        # Build the filters and the clean-up once to validate their options.
        self.filters()
        self.mask_cleanup()

    def filters(self) -> tuple[BlankSliceFilter, TumorAreaFilter, ContourCountFilter]:
        """The three frame filters, in the order they run."""
        return (
            BlankSliceFilter(min_fraction=self.blank_min_fraction),
            TumorAreaFilter(
                min_ratio=self.min_ratio,
                reference=self.reference,
                area=self.area,
                channel="WT",
                brain_threshold=self.brain_threshold,
            ),
            ContourCountFilter(
                max_contours=self.max_contours,
                min_contours=self.min_contours,
                count_holes=self.count_holes,
                channel="WT",
            ),
        )

    def mask_cleanup(self) -> MaskCleanup | None:
        """The clean-up of the stage 1 masks these settings ask for (``None``: none).

        Raises:
            ConfigurationError: ``cleanup_drop_below`` is 1 (it would drop nothing) or
                negative.
        """
        if self.cleanup_drop_below == 0:
            return None
        return MaskCleanup(drop_below=self.cleanup_drop_below, dims=self.cleanup_dims)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (later settings only when not at their default)."""
        data = dataclasses.asdict(self)
        data["mri_types"] = list(self.mri_types)
        for name, default in _LATER_SETTINGS.items():
            if data[name] == default:
                del data[name]
        return data

    def to_json(self) -> str:
        """The settings as JSON (what ``prepare-config.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationPrepConfig:
        """Settings from :meth:`to_dict` output.

        Raises:
            ConfigurationError: ``data`` holds keys that are not settings.
        """
        check_fields(cls, data, what="stage 2 preparation settings")
        values = dict(data)
        if "mri_types" in values:
            values["mri_types"] = tuple(values["mri_types"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ClassificationPrepConfig:
        """Settings from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> ClassificationPrepConfig:
        """Settings from a ``prepare-config.json`` file.

        Raises:
            InputNotFoundError: The file does not exist.
            InvalidInputError: The file is not valid JSON.
        """
        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(
                "stage 2 preparation settings not found; expected the prepare-config.json "
                "of a frame store (radiogenomics prepare-classification writes it).",
                path=path,
            )
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"not valid JSON ({error}).", path=path) from None

    def __repr__(self) -> str:
        return dataclass_repr(self)


def series_frames(
    pixels: npt.NDArray[np.uint8],
    masks: npt.NDArray[np.uint8],
    config: ClassificationPrepConfig | None = None,
    *,
    positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
    patient_id: str = "unknown",
    mri_type: str = "unknown",
) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
    """The kept 3-channel frames of one normalised series, in input (geometric) order.

    Each slice becomes a :class:`~radiogenomics.records.SliceRecord` (``index`` = its
    position in the input) that runs through the configured
    :class:`~radiogenomics.filters.BlankSliceFilter`,
    :class:`~radiogenomics.filters.TumorAreaFilter` and
    :class:`~radiogenomics.filters.ContourCountFilter`; the frames of the survivors are
    ``[image, WT * 255, ET * 255]``. The inputs are not modified.

    Args:
        pixels: The series normalised to uint8, slices in geometric order.
        masks: Binary WT and ET masks (0/1) of every slice.
        config: The filter settings; default :class:`ClassificationPrepConfig`.
        positions: Slice positions (mm) along the normal, stored on the records;
            default ``0, 1, 2, ...``.
        patient_id: Named on the records and in errors.
        mri_type: Named on the records and in errors.

    Returns:
        ``(frames, records)``: the kept frames and their annotated records
        (``tumor_ratio`` and ``n_contours`` set), one per frame, in order.

    Raises:
        GeometryError: The shapes do not match.
        InvalidInputError: ``pixels`` is not uint8, or ``masks`` is not 0/1.

    Shape:
        - pixels: (S, R, C).
        - masks: (2, S, R, C).
        - frames: (N, R, C, 3), uint8, N <= S.

    Example:
        >>> import numpy as np
        >>> image = np.full((3, 20, 20), 200, np.uint8)
        >>> masks = np.zeros((2, 3, 20, 20), np.uint8); masks[0, 1, 5:12, 5:12] = 1
        >>> frames, kept = series_frames(image, masks)
        >>> frames.shape, [r.index for r in kept]
        ((1, 20, 20, 3), [1])
    """
    config = config or ClassificationPrepConfig()
    return frames_from_masks(
        pixels,
        masks,
        config.filters(),
        positions=positions,
        patient_id=patient_id,
        mri_type=mri_type,
    )


def frames_from_masks(
    pixels: npt.NDArray[np.uint8],
    masks: npt.NDArray[np.uint8],
    steps: Sequence[SliceStep] | Pipeline,
    *,
    positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
    patient_id: str = "unknown",
    mri_type: str = "unknown",
    channels: tuple[str, ...] = ("WT", "ET"),
) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
    """The kept 3-channel frames of one normalised, segmented series, in input order.

    Each slice becomes a :class:`~radiogenomics.records.SliceRecord` (``index`` = its
    position in the input, ``masks`` = its channels) and the records go through
    ``steps`` in order; the frames of the survivors are ``[image, WT * 255, ET * 255]``
    (the first two mask channels). The inputs are not modified.

    Args:
        pixels: The series normalised to uint8, slices in geometric order.
        masks: Binary masks (0/1) of every slice, one channel per name in ``channels``.
        steps: The frame steps (filters, samplers), each taking and returning a list of
            records.
        positions: Slice positions (mm) along the normal, stored on the records;
            default ``0, 1, 2, ...``.
        patient_id: Named on the records and in errors.
        mri_type: Named on the records and in errors.
        channels: The names of the mask channels (at least two: WT, then ET).

    Returns:
        ``(frames, records)``: the kept frames and their records (annotated by the
        steps, e.g. ``tumor_ratio``), one per frame, in order.

    Raises:
        GeometryError: The shapes do not match.
        InvalidInputError: ``pixels`` is not uint8, or ``masks`` is not 0/1.

    Shape:
        - pixels: (S, R, C).
        - masks: (len(channels), S, R, C).
        - frames: (N, R, C, 3), uint8, N <= S.
    """
    data = np.asarray(pixels)
    labels = np.asarray(masks)
    if data.ndim != 3:
        raise GeometryError(
            f"series {mri_type}: expected pixels of shape (S, R, C); got {data.shape}.",
            patient_id=patient_id,
        )
    if data.dtype != np.uint8:
        raise InvalidInputError(
            f"series {mri_type}: expected uint8 pixels; got {data.dtype}. Normalise the "
            "whole series first with radiogenomics.slicing.to_uint8.",
            patient_id=patient_id,
        )
    if len(channels) < 2 or labels.shape != (len(channels), *data.shape):
        raise GeometryError(
            f"series {mri_type}: masks of shape {labels.shape} do not match pixels of shape "
            f"{data.shape}; expected {(len(channels), *data.shape)} ({', '.join(channels)}).",
            patient_id=patient_id,
        )
    if labels.size and int(labels.max()) > 1:
        raise InvalidInputError(
            f"series {mri_type}: masks must be 0/1; got a maximum of {int(labels.max())}.",
            patient_id=patient_id,
        )
    where = (
        np.arange(data.shape[0], dtype=np.float64)
        if positions is None
        else np.asarray(positions, dtype=np.float64)
    )
    if where.shape != (data.shape[0],):
        raise GeometryError(
            f"series {mri_type}: {where.shape} positions for {data.shape[0]} slices.",
            patient_id=patient_id,
        )
    records: list[SliceRecord] = [
        SliceRecord(
            patient_id=patient_id,
            modality=mri_type,
            plane="axial",  # the acquisition plane; not used by these filters
            index=k,
            image=data[k],
            masks=np.ascontiguousarray(labels[:, k], dtype=np.uint8),
            mask_channels=tuple(channels),
            position=float(where[k]),
        )
        for k in range(data.shape[0])
    ]
    for step in steps:
        records = step(records)
    rows, cols = data.shape[1:]
    frames = np.zeros((len(records), rows, cols, 3), dtype=np.uint8)
    for i, record in enumerate(records):
        assert record.masks is not None
        frames[i, :, :, 0] = record.image
        frames[i, :, :, 1] = record.masks[0] * np.uint8(255)
        frames[i, :, :, 2] = record.masks[1] * np.uint8(255)
    return frames, records


class FrameRecipe:
    """What one series becomes: normalisation, masks from a mask function, frame steps.

    Calling the recipe on a series' raw pixels normalises the whole series to uint8
    (:func:`~radiogenomics.slicing.to_uint8`), segments its slices with ``masks`` and
    keeps the frames that pass ``steps`` (:func:`frames_from_masks`). When the first
    step is a :class:`~radiogenomics.filters.BlankSliceFilter`, the slices it would drop
    are not segmented (their masks stay empty; the result is the same, with less work).

    Args:
        masks: The mask function (:data:`MaskFunction`): the stage 1
            :class:`~radiogenomics.MaskPredictor`, or any callable from uint8 slices
            (N, H, W) to 0/1 masks (N, C, H, W).
        steps: The frame steps, in order; default: the writeup's three filters
            (:meth:`ClassificationPrepConfig.filters`).
        intensity: The normalisation of the whole series to uint8.
        channels: The names of the mask channels (WT, then ET).
        settings: The library settings this recipe implements, when it does: its steps,
            normalisation and mask predictor are checked to be those of the settings,
            and the recipe is then recorded as the settings, so that runs trained on
            its frames can be rebuilt by ``radiogenomics predict``. ``None`` records the
            steps and the mask function themselves.

    Raises:
        ConfigurationError: An option is invalid, a step or the mask function does not
            describe itself (see :func:`~radiogenomics.data.slices.describe_step`), or
            the recipe is not the one ``settings`` describe.

    Example:
        >>> import numpy as np
        >>> from radiogenomics import TumorAreaFilter
        >>> def centre(slices):  # a mask function: WT and ET in the middle of each slice
        ...     masks = np.zeros((len(slices), 2, *slices.shape[1:]), np.uint8)
        ...     masks[:, :, 8:12, 8:12] = 1
        ...     return masks
        >>> recipe = FrameRecipe(centre, steps=[TumorAreaFilter(min_ratio=0.01)])
        >>> series = np.tile(np.arange(1.0, 21.0), (4, 20, 1))  # 4 slices of 20 x 20
        >>> frames, records = recipe(series)
        >>> frames.shape, round(records[0].tumor_ratio, 3)
        ((4, 20, 20, 3), 0.042)
    """

    def __init__(
        self,
        masks: MaskFunction,
        *,
        steps: Sequence[SliceStep] | Pipeline | None = None,
        intensity: IntensityMethod = "minmax",
        channels: tuple[str, ...] = ("WT", "ET"),
        settings: ClassificationPrepConfig | Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(masks):
            raise ConfigurationError(
                f"masks={masks!r} must be a mask function (e.g. a MaskPredictor): uint8 "
                "slices (N, H, W) in, 0/1 masks (N, C, H, W) out."
            )
        self.masks = masks
        self.steps = Pipeline(
            list(ClassificationPrepConfig().filters() if steps is None else steps)
        )
        self.intensity: IntensityMethod = check_choice(  # type: ignore[assignment]
            "intensity", intensity, ("minmax", "percentile")
        )
        if len(channels) < 2:
            raise ConfigurationError(f"channels={channels!r} must name WT and ET (two at least).")
        self.channels = tuple(channels)
        self.settings: dict[str, Any] | None = None
        if settings is not None:
            config = (
                settings
                if isinstance(settings, ClassificationPrepConfig)
                else ClassificationPrepConfig.from_dict(settings)
            )
            self._check_settings(config)
            self.settings = config.to_dict()
        self.record()  # every step must describe itself

    def _check_settings(self, config: ClassificationPrepConfig) -> None:
        """Refuse settings that are not what this recipe does."""
        differences = []
        for name in ("zoom", "threshold"):
            value = getattr(self.masks, name, None)
            if isinstance(value, float) and value != getattr(config, name):
                differences.append(
                    f"the mask predictor has {name}={value} but the settings say "
                    f"{name}={getattr(config, name)}"
                )
        if hasattr(self.masks, "cleanup") and self.masks.cleanup != config.mask_cleanup():
            differences.append(
                f"the mask predictor has cleanup={self.masks.cleanup!r} but the settings say "
                f"{config.mask_cleanup()!r}"
            )
        if self.intensity != config.intensity:
            differences.append(
                f"intensity={self.intensity!r} but the settings say {config.intensity!r}"
            )
        check_recipe_settings(self.steps, config.filters(), differences)

    @classmethod
    def from_config(cls, config: ClassificationPrepConfig, masks: MaskFunction) -> FrameRecipe:
        """The library's recipe for these settings, with ``masks`` (its record: the settings).

        A :class:`~radiogenomics.MaskPredictor` must use the settings' ``zoom``,
        ``threshold`` and clean-up (:meth:`ClassificationPrepConfig.mask_cleanup`).

        Raises:
            ConfigurationError: ``masks`` uses another zoom, threshold or clean-up than
                ``config``.
        """
        return cls(masks, steps=config.filters(), intensity=config.intensity, settings=config)

    def record(self) -> dict[str, Any]:
        """The recipe as JSON-ready data: built from settings, the settings; otherwise the
        normalisation, each step's description and the mask function's."""
        if self.settings is not None:
            return dict(self.settings)
        return {
            "intensity": self.intensity,
            "masks": describe_step(self.masks),
            "steps": [describe_step(step) for step in self.steps],
        }

    def _skipped_blank(self, normalised: npt.NDArray[np.uint8]) -> list[int]:
        """The slices to segment: all, or those the first (blank) step would keep."""
        first = self.steps.steps[0] if len(self.steps) else None
        if not isinstance(first, BlankSliceFilter):
            return list(range(normalised.shape[0]))
        return [
            k
            for k in range(normalised.shape[0])
            if nonzero_fraction(normalised[k]) > first.min_fraction
        ]

    def __call__(
        self,
        pixels: npt.NDArray[Any],
        *,
        positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
        patient_id: str = "unknown",
        mri_type: str = "unknown",
    ) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
        """The kept frames of one series of raw intensities (see the class notes).

        Args:
            pixels: Raw intensities, slices in geometric order.
            positions: Slice positions (mm) along the normal; default ``0, 1, 2, ...``.
            patient_id: Named on the records and in errors.
            mri_type: Named on the records and in errors.

        Returns:
            ``(frames, records)``, as :func:`frames_from_masks`.

        Raises:
            GeometryError: ``pixels`` is not a non-empty (S, R, C) series, or the masks
                have the wrong shape.
            InvalidInputError: The intensities are not finite, or the masks not 0/1.

        Shape:
            - pixels: (S, R, C).
            - frames: (N, R, C, 3), uint8.
        """
        data = np.asarray(pixels)
        if data.ndim != 3 or 0 in data.shape:
            raise GeometryError(
                f"series {mri_type}: expected a non-empty series of shape (S, R, C); got "
                f"{data.shape}.",
                patient_id=patient_id,
            )
        normalised = to_uint8(data, method=self.intensity)
        chosen = self._skipped_blank(normalised)
        masks = np.zeros((len(self.channels), *normalised.shape), dtype=np.uint8)
        if chosen:
            predicted = np.asarray(self.masks(normalised[chosen]))
            expected = (len(chosen), len(self.channels), *normalised.shape[1:])
            if predicted.shape != expected:
                raise ConfigurationError(
                    f"the mask function returned masks of shape {predicted.shape} for "
                    f"{len(chosen)} slices; expected {expected} (one channel per region: "
                    f"{', '.join(self.channels)}).",
                    patient_id=patient_id,
                )
            masks[:, chosen] = predicted.transpose(1, 0, 2, 3)
        return frames_from_masks(
            normalised,
            masks,
            self.steps,
            positions=positions,
            patient_id=patient_id,
            mri_type=mri_type,
            channels=self.channels,
        )

    def __repr__(self) -> str:
        parts = [f"masks={self.masks!r}", f"steps={list(self.steps)!r}"]
        if self.intensity != "minmax":
            parts.append(f"intensity={self.intensity!r}")
        return f"FrameRecipe({', '.join(parts)})"


def series_to_frames(
    pixels: npt.NDArray[Any],
    predictor: MaskFunction,
    config: ClassificationPrepConfig | None = None,
    *,
    positions: Sequence[float] | npt.NDArray[np.floating] | None = None,
    patient_id: str = "unknown",
    mri_type: str = "unknown",
) -> tuple[npt.NDArray[np.uint8], list[SliceRecord]]:
    """The library's frames of one raw series: :class:`FrameRecipe` built from settings.

    ``FrameRecipe.from_config(config, predictor)(pixels, ...)``: the whole series is
    normalised, its non-blank slices segmented by ``predictor`` (with its own zoom and
    threshold, which must be the settings'), and the frames that pass the settings'
    filters kept.

    Args:
        pixels: Raw intensities of the series, slices in geometric order.
        predictor: A stage 1 :class:`~radiogenomics.MaskPredictor` with two channels
            (WT, ET), or any :data:`MaskFunction`.
        config: The settings; default :class:`ClassificationPrepConfig`.
        positions: Slice positions (see :func:`frames_from_masks`).
        patient_id: Named on the records and in errors.
        mri_type: Named on the records and in errors.

    Returns:
        As :func:`frames_from_masks`.

    Shape:
        - pixels: (S, R, C).
        - frames: (N, R, C, 3).
    """
    recipe = FrameRecipe.from_config(config or ClassificationPrepConfig(), predictor)
    return recipe(pixels, positions=positions, patient_id=patient_id, mri_type=mri_type)
