"""Stage 1 data preparation: BraTS Task 1 cases to a prepared-slice store."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
from radiogenomics.data.slices import (
    SegmentationPrepConfig,
    SliceRecipe,
    build_segmentation_pipeline,
)
from radiogenomics.data.store import (
    CASE_DONE_FILE,
    check_folder_name,
    write_case,
    write_manifest,
)
from radiogenomics.errors import ConfigurationError, RadiogenomicsError, StorageError
from radiogenomics.io.labels import exclude_task2_overlap
from radiogenomics.io.nifti import BratsCase
from radiogenomics.pipeline import Pipeline, Step

__all__ = [
    "PREPARED_SLICES_KIND",
    "CaseOutcome",
    "PrepareReport",
    "SegmentationPrepConfig",
    "SliceRecipe",
    "build_segmentation_pipeline",
    "prepare_case",
    "prepare_segmentation",
]

PREPARED_SLICES_KIND = "prepared-slices"
"""The marker kind of a stage 1 prepared folder."""


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


def prepare_case(
    case: BratsCase, out: str | Path, recipe: SliceRecipe | SegmentationPrepConfig
) -> CaseOutcome:
    """Prepare one case with a recipe (slice, sample, filter, resize) and write it atomically.

    Library errors of the case (bad files, geometry, labels, an identifier that is not a
    plain folder name) give a ``"failed"`` outcome naming the reason; anything else
    propagates.

    Args:
        case: The case.
        out: The prepared folder.
        recipe: What the case becomes (settings are turned into the library's recipe).

    Raises:
        StorageError: The case cannot be written (a full disk); nothing of it is left.
    """
    out = Path(out)
    if isinstance(recipe, SegmentationPrepConfig):
        recipe = SliceRecipe.from_config(recipe)
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
        rows = write_case(recipe(case), out, case.case_id)
    except StorageError:
        raise
    except RadiogenomicsError as error:
        return CaseOutcome(case.case_id, "failed", error=str(error))
    return CaseOutcome(case.case_id, "written", n_slices=len(rows))


def _check_config(
    out: Path, recipe: SliceRecipe, overwrite: bool, cases: Sequence[BratsCase]
) -> None:
    check_prep_config(
        out,
        recipe.record(),
        kind=PREPARED_SLICES_KIND,
        overwrite=overwrite,
        inputs=[(f"case folder {c.case_id}", c.folder) for c in cases],
    )
    remove_leftovers(out)


def _check_picklable(recipe: SliceRecipe) -> None:
    try:
        pickle.dumps(recipe)
    except Exception as error:
        raise ConfigurationError(
            f"with several workers each step goes to a worker process, but the recipe "
            f"cannot be pickled ({type(error).__name__}: {error}); define the steps at "
            "module level (no lambdas or local classes), or use workers=1."
        ) from error


def _recipe(
    recipe: SliceRecipe | Pipeline | Sequence[Step] | None,
    config: SegmentationPrepConfig | None,
) -> SliceRecipe:
    if recipe is not None and config is not None:
        raise ConfigurationError(
            "give a recipe (or pipeline) or settings (config=), not both: settings only "
            "build the library's recipe (SliceRecipe.from_config(config))."
        )
    if recipe is None:
        return SliceRecipe.from_config(config or SegmentationPrepConfig())
    if isinstance(recipe, SliceRecipe):
        return recipe
    return SliceRecipe(recipe)


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
    recipe: SliceRecipe | Pipeline | Sequence[Step] | None = None,
    config: SegmentationPrepConfig | None = None,
    workers: int = 1,
    exclude_ids: Collection[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    on_outcome: Callable[[CaseOutcome], None] | None = None,
) -> PrepareReport:
    """Prepare stage 1 training slices from BraTS cases with a recipe of steps.

    The job runs ``recipe`` over every case (in parallel with ``workers``) and writes
    the kept slices; it only batches, resumes and writes. The recipe is a
    :class:`~radiogenomics.data.slices.SliceRecipe` (the modalities, the mask regions
    and a :class:`~radiogenomics.Pipeline` of steps, the library's or the user's own),
    or just a pipeline (all four modalities, WT and ET masks). Without one, ``config``
    (default: the writeup's settings) builds the library's recipe.

    Resumable: cases already written are skipped, so a rerun after an interruption (even
    a killed process) finishes the work without redoing or duplicating finished cases,
    and ends with exactly the files of an uninterrupted run. A rerun with another recipe
    is refused: ``prepare-config.json`` holds the recipe's record (its settings, or each
    step's repr). A failing case is reported (``failures.csv``) and the others go on; a
    full disk stops the batch (every further case would fail too), keeping the cases
    already written.

    Args:
        cases: The cases (see :func:`~radiogenomics.io.find_brats_cases`).
        out: The prepared folder (created).
        recipe: What each case becomes; with ``workers > 1`` its steps must pickle
            (classes and functions defined at module level, not lambdas).
        config: Settings of the library's recipe (instead of ``recipe``); default
            :class:`SegmentationPrepConfig` (the writeup).
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
        ConfigurationError: ``out`` was prepared with another recipe, is or holds a
            case folder, lies inside one, or holds files this library did not write
            (``overwrite`` deletes only a folder it prepared); both ``recipe`` and
            ``config`` were given; a step does not describe itself; or ``workers > 1``
            and a step cannot be pickled.
        StorageError: The output cannot be written (a full disk); the cases finished
            before are kept and listed in the manifest, and a rerun resumes.
    """
    from tqdm.auto import tqdm

    chosen = _recipe(recipe, config)
    out = Path(out)
    kept = list(cases)
    if worker_count(workers, len(kept)) > 1:
        _check_picklable(chosen)
    _check_config(out, chosen, overwrite, kept)
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

    run = functools.partial(prepare_case, out=out, recipe=chosen)
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
