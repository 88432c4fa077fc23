"""Stage 1 data preparation: BraTS Task 1 cases to a prepared-slice store."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from radiogenomics._options import check_choice, check_names
from radiogenomics._outputs import check_replaceable
from radiogenomics.data._jobs import (
    check_prep_config,
    init_worker,
    remove_leftovers,
    run_jobs,
    worker_count,
    write_failures,
    write_rows_atomic,
)
from radiogenomics.data.store import (
    CASE_DONE_FILE,
    check_folder_name,
    write_case,
    write_manifest,
)
from radiogenomics.errors import ConfigurationError, RadiogenomicsError, StorageError
from radiogenomics.filters.blank import BlankSliceFilter
from radiogenomics.filters.contours import ContourCountFilter
from radiogenomics.filters.tumor_area import AreaMeasure, AreaReference, TumorAreaFilter
from radiogenomics.io.labels import exclude_task2_overlap
from radiogenomics.io.nifti import MODALITIES, BratsCase, load_case
from radiogenomics.masks import REGIONS
from radiogenomics.pipeline import Pipeline, Step
from radiogenomics.records import PLANES, Plane
from radiogenomics.sampling.distinct import DistinctSampler, SamplingMethod
from radiogenomics.slicing.extractor import SliceExtractor
from radiogenomics.slicing.geometry import Orientation
from radiogenomics.slicing.intensity import IntensityMethod
from radiogenomics.slicing.resize import ResizeSlices

__all__ = [
    "CaseOutcome",
    "PrepareReport",
    "SegmentationPrepConfig",
    "build_segmentation_pipeline",
    "prepare_case",
    "prepare_segmentation",
]

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

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "modalities", check_names("modalities", self.modalities, MODALITIES)
        )
        object.__setattr__(self, "planes", check_names("planes", self.planes, PLANES))
        object.__setattr__(self, "regions", check_names("regions", self.regions, REGIONS))
        check_choice("order", self.order, ("sample-then-filter", "filter-then-sample"))
        if self.size is not None and self.size < 8:
            raise ConfigurationError(f"size={self.size} is too small; use at least 8 or None.")
        # Build once to validate every option with the components' own checks.
        build_segmentation_pipeline(self)

    def to_json(self) -> str:
        """The settings as JSON (what ``prepare-config.json`` holds)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SegmentationPrepConfig:
        """Settings from :meth:`to_json` output."""
        data = json.loads(text)
        for key in ("modalities", "planes", "regions"):
            data[key] = tuple(data[key])
        return cls(**data)


def build_segmentation_pipeline(config: SegmentationPrepConfig) -> Pipeline:
    """The slice pipeline of stage 1 preparation, as an ordered list of steps.

    Filters run at native resolution and resizing comes last, so that only kept slices
    are resized.
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
    steps += [sampler, *filters] if config.order == "sample-then-filter" else [*filters, sampler]
    if config.size is not None:
        steps.append(ResizeSlices(size=config.size))
    return Pipeline(steps)


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one case.

    Attributes:
        case_id: The case.
        status: ``"written"``, ``"skipped"`` (already prepared) or ``"failed"``.
        n_slices: Slices written.
        error: The reason, when failed.
    """

    case_id: str
    status: Literal["written", "skipped", "failed"]
    n_slices: int = 0
    error: str | None = None


@dataclass
class PrepareReport:
    """The outcome of a preparation run.

    Attributes:
        out: The prepared folder.
        outcomes: One per case attempted, sorted by case.
        excluded: Cases removed by the leakage guard.
    """

    out: Path
    outcomes: list[CaseOutcome] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseOutcome]:
        """The failed cases."""
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        """Whether no case failed."""
        return not self.failed

    def summary(self) -> str:
        """A few human-readable lines."""
        counts = {
            s: sum(o.status == s for o in self.outcomes) for s in ("written", "skipped", "failed")
        }
        slices = sum(o.n_slices for o in self.outcomes)
        lines = [
            f"{counts['written']} cases written, {counts['skipped']} already prepared, "
            f"{counts['failed']} failed; {slices} slices written -> {self.out / 'manifest.csv'}"
        ]
        if self.excluded:
            lines.append(
                f"leakage guard: {len(self.excluded)} cases also in Task 2 were left out "
                f"(see {self.out / 'excluded.csv'})"
            )
        lines += [f"FAILED {o.case_id}: {o.error}" for o in self.failed]
        return "\n".join(lines)


def _valid_id(case_id: str, out: Path) -> bool:
    try:
        check_folder_name(case_id, out)
    except RadiogenomicsError:
        return False
    return True


def prepare_case(case: BratsCase, out: str | Path, config: SegmentationPrepConfig) -> CaseOutcome:
    """Prepare one case: load, slice, sample, filter, resize and write it atomically.

    Library errors of the case (bad files, geometry, labels, an identifier that is not a
    plain folder name) give a ``"failed"`` outcome naming the reason; anything else
    propagates.

    Raises:
        StorageError: The case cannot be written (a full disk); nothing of it is left.
    """
    out = Path(out)
    try:
        check_folder_name(case.case_id, out)
    except RadiogenomicsError as error:
        return CaseOutcome(case.case_id, "failed", error=str(error))
    if (out / case.case_id / CASE_DONE_FILE).is_file():
        return CaseOutcome(case.case_id, "skipped")
    try:
        check_replaceable(out / case.case_id, CASE_DONE_FILE)
    except ConfigurationError as error:
        return CaseOutcome(case.case_id, "failed", error=str(error))
    try:
        pipeline = build_segmentation_pipeline(config)
        volumes = load_case(case, modalities=config.modalities).volumes(
            regions=config.regions  # type: ignore[arg-type]
        )
        records = [r for volume in volumes for r in pipeline(volume)]
        rows = write_case(records, out, case.case_id)
    except StorageError:
        raise
    except RadiogenomicsError as error:
        return CaseOutcome(case.case_id, "failed", error=str(error))
    return CaseOutcome(case.case_id, "written", n_slices=len(rows))


def _load_config(path: Path) -> SegmentationPrepConfig:
    return SegmentationPrepConfig.from_json(path.read_text(encoding="utf-8"))


PREPARED_SLICES_KIND = "prepared-slices"
"""The marker kind of a stage 1 prepared folder."""


def _check_config(
    out: Path, config: SegmentationPrepConfig, overwrite: bool, cases: Sequence[BratsCase]
) -> None:
    check_prep_config(
        out,
        config,
        _load_config,
        kind=PREPARED_SLICES_KIND,
        overwrite=overwrite,
        inputs=[(f"case folder {c.case_id}", c.folder) for c in cases],
    )
    remove_leftovers(out)


def _write_summary(out: Path, kept: Sequence[BratsCase], report: PrepareReport) -> None:
    report.outcomes.sort(key=lambda o: o.case_id)
    done = sorted(
        c.case_id
        for c in kept
        if _valid_id(c.case_id, out) and (out / c.case_id / CASE_DONE_FILE).is_file()
    )
    write_manifest(out, done)
    failures = [
        {"case_id": o.case_id, "error": o.error or ""}
        for o in report.outcomes
        if o.status == "failed"
    ]
    write_failures(out, ("case_id", "error"), failures)


def prepare_segmentation(
    cases: Sequence[BratsCase],
    out: str | Path,
    *,
    config: SegmentationPrepConfig | None = None,
    workers: int = 1,
    exclude_ids: Collection[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    on_outcome: Callable[[CaseOutcome], None] | None = None,
) -> PrepareReport:
    """Prepare stage 1 training slices from BraTS cases.

    Resumable: cases already written are skipped, so a rerun after an interruption (even
    a killed process) finishes the work without redoing or duplicating finished cases,
    and ends with exactly the files of an uninterrupted run. A failing case is reported
    (``failures.csv``) and the others go on; a full disk stops the batch (every further
    case would fail too), keeping the cases already written.

    Args:
        cases: The cases (see :func:`~radiogenomics.io.find_brats_cases`).
        out: The prepared folder (created).
        config: The settings; default :class:`SegmentationPrepConfig` (the writeup).
        workers: Cases prepared in parallel (processes); capped at one per case and
            four per CPU core. Workers die with the process that started them.
        exclude_ids: Task 2 patient identifiers: cases of those patients are left out
            (the leakage guard; see :func:`~radiogenomics.io.exclude_task2_overlap`).
        overwrite: Delete ``out`` first; only a folder prepared by this function (it
            holds a marker file) is ever deleted.
        progress: Show a progress bar.
        on_outcome: Called with each case's outcome as it completes.

    Returns:
        The report; ``out/manifest.csv`` lists every slice of every prepared case.

    Raises:
        ConfigurationError: ``out`` was prepared with other settings, is or holds a
            case folder, lies inside one, or holds files this library did not write
            (``overwrite`` deletes only a folder it prepared).
        StorageError: The output cannot be written (a full disk); the cases finished
            before are kept and listed in the manifest, and a rerun resumes.
    """
    from tqdm.auto import tqdm

    config = config or SegmentationPrepConfig()
    out = Path(out)
    worker_count(workers, 1)  # a bad value fails before any work
    kept = list(cases)
    _check_config(out, config, overwrite, kept)
    report = PrepareReport(out=out)
    if exclude_ids is not None:
        kept, removed = exclude_task2_overlap(kept, exclude_ids)
        report.excluded = [c.case_id for c in removed]
        write_rows_atomic(
            out / "excluded.csv",
            ("case_id", "reason"),
            [
                {"case_id": c, "reason": "also a Task 2 patient (leakage guard)"}
                for c in report.excluded
            ],
        )
    bar = tqdm(total=len(kept), desc="prepare-segmentation", unit="case", disable=not progress)

    def record(outcome: CaseOutcome) -> None:
        report.outcomes.append(outcome)
        bar.update(1)
        if on_outcome is not None:
            on_outcome(outcome)

    def failed(case: BratsCase, error: StorageError) -> CaseOutcome:
        return CaseOutcome(case.case_id, "failed", error=str(error))

    run = functools.partial(prepare_case, out=out, config=config)
    stopped: StorageError | None = None
    try:
        processes = worker_count(workers, len(kept))
        if processes == 1:
            stopped = run_jobs(kept, run, record=record, failed=failed)
        else:
            with ProcessPoolExecutor(max_workers=processes, initializer=init_worker) as pool:
                stopped = run_jobs(kept, run, record=record, failed=failed, pool=pool)
    finally:
        bar.close()
        try:
            _write_summary(out, kept, report)
        except StorageError:
            if stopped is None:
                raise
            # The disk is still full: the old manifest stays; the rerun rebuilds it.
    if stopped is not None:
        raise stopped
    return report
