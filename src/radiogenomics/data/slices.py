"""The stage 1 slice recipe: what one BraTS case becomes (the component under preparation).

A :class:`SliceRecipe` says which modalities of a case are read, which tumor regions its
masks hold, and the :class:`~radiogenomics.Pipeline` of steps that turns each modality's
volume into the slices kept (a :class:`~radiogenomics.SliceExtractor`, then samplers,
filters and resizing, or any step of the user's own). The preparation job
(:func:`~radiogenomics.data.prepare_segmentation`) runs a recipe over many cases; the
recipe's :meth:`~SliceRecipe.record` is what ``prepare-config.json`` holds and what a
rerun must match.

:class:`SegmentationPrepConfig` describes the library's recipe as plain settings (the
presets and the command line build it); :meth:`SliceRecipe.from_config` turns it into
the recipe.

A step is any callable; the library's contract (:class:`SliceStep`, :class:`VolumeStep`)
is: the first step takes a :class:`~radiogenomics.records.VolumeRecord` and returns a
list of :class:`~radiogenomics.records.SliceRecord`; every later step takes that list
and returns a new list (never mutating its input). Its ``repr`` (or ``to_dict()``) must
show its settings, so that a rerun can tell whether the recipe changed.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from radiogenomics._options import check_choice, check_names, check_range
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters.blank import BlankSliceFilter
from radiogenomics.filters.contours import ContourCountFilter
from radiogenomics.filters.tumor_area import AreaMeasure, AreaReference, TumorAreaFilter
from radiogenomics.io.nifti import MODALITIES, BratsCase, load_case
from radiogenomics.masks import REGIONS, Region
from radiogenomics.pipeline import Pipeline, Step
from radiogenomics.records import PLANES, Plane, SliceRecord, VolumeRecord
from radiogenomics.sampling.distinct import DistinctSampler, SamplingMethod
from radiogenomics.sampling.tumor_free import TumorFreeSlices
from radiogenomics.slicing.extractor import SliceExtractor
from radiogenomics.slicing.geometry import Orientation
from radiogenomics.slicing.intensity import IntensityMethod
from radiogenomics.slicing.resize import ResizeSlices

__all__ = [
    "SegmentationPrepConfig",
    "SliceRecipe",
    "SliceStep",
    "StepOrder",
    "VolumeStep",
    "build_segmentation_pipeline",
    "check_recipe_settings",
    "describe_step",
]


@runtime_checkable
class VolumeStep(Protocol):
    """The first step of a slice pipeline: one volume in, its slices out.

    :class:`~radiogenomics.SliceExtractor` is one.
    """

    def __call__(self, volume: VolumeRecord, /) -> list[SliceRecord]:
        """Cut ``volume`` into slices (a new list)."""
        ...


@runtime_checkable
class SliceStep(Protocol):
    """Every later step: slices in, the slices kept (or changed) out, in a new list.

    Filters (:class:`~radiogenomics.filters.SliceFilter` subclasses), samplers and
    :class:`~radiogenomics.ResizeSlices` are such steps; so is any function of this
    signature. A step never mutates its input (records are immutable) and keeps order.
    """

    def __call__(self, records: Sequence[SliceRecord], /) -> list[SliceRecord]:
        """Return the slices kept, in input order."""
        ...


def describe_step(step: Step) -> Any:
    """A step's settings as JSON-ready data: its ``to_dict()`` if it has one, else its repr.

    A function is described by its qualified name (``mymodule.keep_first_ten``), a
    ``functools.partial`` by its function and arguments.

    Raises:
        ConfigurationError: The step's repr is Python's default (``<... at 0x...>``),
            which changes from run to run and shows no setting.
    """
    to_dict = getattr(step, "to_dict", None)
    if callable(to_dict):
        return {"step": type(step).__name__, **dict(to_dict())}
    if inspect.isfunction(step) or inspect.isbuiltin(step):
        return f"{step.__module__}.{step.__qualname__}"
    if isinstance(step, functools.partial):
        arguments = [repr(a) for a in step.args]
        arguments += [f"{k}={v!r}" for k, v in step.keywords.items()]
        return f"partial({describe_step(step.func)}, {', '.join(arguments)})"
    text = repr(step)
    if " at 0x" in text:
        raise ConfigurationError(
            f"the step {text} has no repr showing its settings; give its class a __repr__ "
            "(or a to_dict()) that shows them, e.g. MyFilter(threshold=0.3), so that a rerun "
            "can tell whether the pipeline changed."
        )
    return text


StepOrder = Literal["sample-then-filter", "filter-then-sample"]


@dataclass(frozen=True)
class SegmentationPrepConfig:
    """Every setting of stage 1 preparation (defaults: the writeup).

    See :mod:`radiogenomics.presets` for the named presets and where they differ.

    Attributes:
        modalities: Modalities to slice (each gives its own slices, as in the reference).
        planes: Planes to slice.
        orientation: In-plane layout of slices (see
            :data:`~radiogenomics.slicing.Orientation`).
        intensity: Per-volume normalisation to uint8.
        size: Final slice size (square); ``None`` keeps native sizes.
        blank_min_fraction: If set, drop slices whose non-zero fraction is not above it.
        min_ratio: :class:`~radiogenomics.filters.TumorAreaFilter` threshold (strict).
        reference: Tumor area over ``"brain"`` or the whole ``"slice"``.
        area: ``"pixels"`` or ``"largest_contour"``.
        max_contours: If set, apply :class:`~radiogenomics.filters.ContourCountFilter`.
        sampler: ``"similarity"`` (writeup) or ``"stride"`` (released code).
        max_similarity: Similarity threshold of the ``"similarity"`` sampler.
        stride_fraction: Stride fraction of the ``"stride"`` sampler.
        order: Sample then filter (the writeup's order) or filter then sample (the code).
        regions: Mask channels, in order.
        negative_fraction: Tumor-free brain slices kept per tumor slice kept, per case,
            modality and plane (:class:`~radiogenomics.sampling.TumorFreeSlices`); 0
            (the seed's way, and the default) keeps none. Not a setting of the seed:
            it teaches the model what a slice without tumor looks like.
    """

    modalities: tuple[str, ...] = MODALITIES
    planes: tuple[Plane, ...] = PLANES
    orientation: Orientation = "radiological"
    intensity: IntensityMethod = "minmax"
    size: int | None = 224
    blank_min_fraction: float | None = None
    min_ratio: float = 0.01
    reference: AreaReference = "brain"
    area: AreaMeasure = "pixels"
    max_contours: int | None = None
    sampler: SamplingMethod = "similarity"
    max_similarity: float = 0.9
    stride_fraction: float = 0.1
    order: StepOrder = "sample-then-filter"
    regions: tuple[str, ...] = ("WT", "ET")
    negative_fraction: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "modalities", check_names("modalities", self.modalities, MODALITIES)
        )
        object.__setattr__(self, "planes", check_names("planes", self.planes, PLANES))
        object.__setattr__(self, "regions", check_names("regions", self.regions, REGIONS))
        check_choice("order", self.order, ("sample-then-filter", "filter-then-sample"))
        if self.size is not None and self.size < 8:
            raise ConfigurationError(f"size={self.size} is too small; use at least 8 or None.")
        fraction = float(check_range("negative_fraction", self.negative_fraction, low=0.0))
        object.__setattr__(self, "negative_fraction", fraction)
        # Build once to validate every option with the components' own checks.
        build_segmentation_pipeline(self)

    def to_json(self) -> str:
        """The settings as JSON (what ``prepare-config.json`` holds).

        Settings added after the seed (``negative_fraction``) are written only when they
        are not at their default, so the folders the seed's settings prepare keep their
        bytes, and folders prepared before those settings existed still match.
        """
        data = dataclasses.asdict(self)
        for name, default in _LATER_SETTINGS.items():
            if data[name] == default:
                del data[name]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SegmentationPrepConfig:
        """Settings from :meth:`to_json` output (a setting left out has its default)."""
        data = json.loads(text)
        for key in ("modalities", "planes", "regions"):
            data[key] = tuple(data[key])
        return cls(**data)


_LATER_SETTINGS: dict[str, object] = {"negative_fraction": 0.0}
"""Settings added after the seed, and their defaults: left out of the JSON at them."""


def build_segmentation_pipeline(config: SegmentationPrepConfig) -> Pipeline:
    """The slice pipeline of stage 1 preparation, as an ordered list of steps.

    Filters run at native resolution and resizing comes last, so that only kept slices
    are resized. With ``negative_fraction`` above 0, the sampler and the filters run
    inside a :class:`~radiogenomics.sampling.TumorFreeSlices` step, which adds the
    tumor-free slices (resized like the others).
    """
    steps: list[Step] = [
        SliceExtractor(
            planes=config.planes, orientation=config.orientation, intensity=config.intensity
        )
    ]
    if config.blank_min_fraction is not None:
        steps.append(BlankSliceFilter(min_fraction=config.blank_min_fraction))
    filters: list[Step] = [
        TumorAreaFilter(
            min_ratio=config.min_ratio,
            reference=config.reference,
            area=config.area,
            channel=config.regions[0],
        )
    ]
    if config.max_contours is not None:
        filters.append(ContourCountFilter(max_contours=config.max_contours, min_contours=0))
    sampler = DistinctSampler(
        method=config.sampler,
        max_similarity=config.max_similarity,
        fraction=config.stride_fraction,
    )
    chosen: list[Step] = (
        [sampler, *filters] if config.order == "sample-then-filter" else [*filters, sampler]
    )
    if config.negative_fraction > 0:
        steps.append(TumorFreeSlices(steps=chosen, fraction=config.negative_fraction))
    else:
        steps += chosen
    if config.size is not None:
        steps.append(ResizeSlices(size=config.size))
    return Pipeline(steps)


def check_recipe_settings(
    steps: Iterable[Step], expected: Iterable[Step], differences: list[str]
) -> None:
    """Refuse a recipe whose steps (or other ``differences``) are not its settings' own.

    Raises:
        ConfigurationError: Naming each difference.
    """
    mine = [describe_step(step) for step in steps]
    theirs = [describe_step(step) for step in expected]
    if mine != theirs:
        differences = [*differences, f"the steps are {mine} but the settings' are {theirs}"]
    if differences:
        raise ConfigurationError(
            "the recipe is not the one its settings describe: "
            + "; ".join(differences)
            + ". Build it with the settings' values, or leave settings out."
        )


@dataclass(frozen=True, eq=False)
class SliceRecipe:
    """What one BraTS case becomes: the modalities read, the mask regions and the pipeline.

    Args:
        pipeline: The steps, from a volume to the kept slices (a
            :class:`~radiogenomics.Pipeline` or a sequence of steps).
        modalities: The modalities to read; each volume goes through the pipeline.
        regions: The mask channels, in order (``WT``, ``ET`` in the reference).
        settings: The library settings this recipe implements, when it does: its
            pipeline, modalities and regions are checked to be those of the settings,
            and the recipe is then recorded as the settings (as the command line
            records them). ``None`` records the steps themselves.

    Example:
        >>> from radiogenomics import Pipeline, SliceExtractor, TumorAreaFilter
        >>> recipe = SliceRecipe(
        ...     Pipeline([SliceExtractor(planes="axial"), TumorAreaFilter(min_ratio=0.02)]),
        ...     modalities=("flair",),
        ... )
        >>> recipe.record()["pipeline"]
        ["SliceExtractor(planes=('axial',))", 'TumorAreaFilter(min_ratio=0.02)']
    """

    pipeline: Pipeline
    modalities: tuple[str, ...] = MODALITIES
    regions: tuple[Region, ...] = ("WT", "ET")
    settings: Mapping[str, Any] | None = None

    def __init__(
        self,
        pipeline: Pipeline | Sequence[Step],
        *,
        modalities: str | Sequence[str] = MODALITIES,
        regions: Region | Sequence[Region] = ("WT", "ET"),
        settings: SegmentationPrepConfig | Mapping[str, Any] | None = None,
    ) -> None:
        steps = pipeline if isinstance(pipeline, Pipeline) else Pipeline(list(pipeline))
        if not len(steps):
            raise ConfigurationError("the pipeline has no step; it needs at least a slicer.")
        object.__setattr__(self, "pipeline", steps)
        object.__setattr__(self, "modalities", check_names("modalities", modalities, MODALITIES))
        object.__setattr__(self, "regions", check_names("regions", regions, REGIONS))
        object.__setattr__(self, "settings", None)
        if settings is not None:
            config = (
                settings
                if isinstance(settings, SegmentationPrepConfig)
                else SegmentationPrepConfig.from_json(json.dumps(dict(settings)))
            )
            self._check_settings(config)
            object.__setattr__(self, "settings", json.loads(config.to_json()))
        self.record()  # every step must describe itself

    def _check_settings(self, config: SegmentationPrepConfig) -> None:
        """Refuse settings that are not what this recipe does."""
        differences = []
        if self.modalities != config.modalities:
            differences.append(f"modalities {self.modalities} vs {config.modalities}")
        if self.regions != config.regions:
            differences.append(f"regions {self.regions} vs {config.regions}")
        check_recipe_settings(self.pipeline, build_segmentation_pipeline(config), differences)

    @classmethod
    def from_config(cls, config: SegmentationPrepConfig) -> SliceRecipe:
        """The library's recipe for these settings (its record: the settings)."""
        return cls(
            build_segmentation_pipeline(config),
            modalities=config.modalities,
            regions=config.regions,  # type: ignore[arg-type]
            settings=config,
        )

    @property
    def orientation(self) -> Orientation | None:
        """The in-plane layout of the slices, when a :class:`SliceExtractor` makes them."""
        for step in self.pipeline:
            if isinstance(step, SliceExtractor):
                return step.orientation  # type: ignore[return-value]
        return None

    def record(self) -> dict[str, Any]:
        """The recipe as JSON-ready data: what ``prepare-config.json`` holds.

        Built from settings: the settings. Otherwise: each step's
        :func:`describe_step`, the modalities, the regions and, when known, the slices'
        orientation (which ``segment`` reads to slice new volumes the same way).
        """
        if self.settings is not None:
            return dict(self.settings)
        record: dict[str, Any] = {
            "modalities": list(self.modalities),
            "pipeline": [describe_step(step) for step in self.pipeline],
            "regions": list(self.regions),
        }
        if self.orientation is not None:
            record["orientation"] = self.orientation
        return record

    def __call__(self, case: BratsCase) -> list[SliceRecord]:
        """Load ``case`` and run every modality's volume through the pipeline.

        Returns:
            The kept slices of all modalities, modality by modality.

        Raises:
            RadiogenomicsError: The case cannot be read, or a step refused it.
        """
        volumes = load_case(case, modalities=self.modalities).volumes(regions=self.regions)
        return [record for volume in volumes for record in self.pipeline(volume)]

    def __repr__(self) -> str:
        parts = [repr(self.pipeline)]
        if self.modalities != MODALITIES:
            parts.append(f"modalities={self.modalities!r}")
        if self.regions != ("WT", "ET"):
            parts.append(f"regions={self.regions!r}")
        return f"SliceRecipe({', '.join(parts)})"
