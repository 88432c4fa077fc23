"""Cross-validation of stage 2: every patient validated once, by a model that never saw it.

One validation split of a few hundred patients measures an AUC with a standard error of
about 0.05 (see :doc:`/how-sure-is-an-auc`), as large as the gaps a user wants to see.
:func:`cross_validate_classification` splits the patients of a frame store into K
patient-grouped, label-stratified folds
(:func:`~radiogenomics.training.stratified_patient_folds`), or takes the user's own
assignment, and for every fold (and MRI type) trains a classifier on the other folds
(:func:`~radiogenomics.training.train_classification` with the fold's patients held
out), then predicts the fold's patients with that run's best checkpoint
(:func:`~radiogenomics.evaluation.held_out_predictions`, as the training loop scored them: the
mean of a series' chunk probabilities, no test-time augmentation). Every patient gets
one out-of-fold probability per MRI type, and one combined over the types as
``predict`` combines them (:func:`~radiogenomics.inference.mean_over_mri_types`).

Patients without frames. A patient whose series of an MRI type kept no frame (none
passed the preparation filters) has no probability from that type's model: it is left
out of that type's rows and AUC (a constant for it would only add ties, pulling the
AUC towards 0.5 by an amount set by the filters, not by the model), and its combined
probability is the mean over the types it has, as in ``predict``. A patient with no
frame in any type gets ``fallback`` (0.5, as ``predict`` writes in a submission) as its
combined probability, and so counts in the combined AUC, as it would on the
leaderboard; :attr:`CrossValidationResult.fallback_patients` lists them.

Files written under ``OUT``:

* ``folds.csv``: ``BraTS21ID,fold,MGMT_value``, the fold of every patient;
* ``fold-<k>/<MRI type>/``: a ``train-classification`` run folder per fold and type;
* ``oof.csv``: the out-of-fold predictions (columns:
  :data:`~radiogenomics.metrics.oof.OOF_FIELDS`);
* ``summary.json``: the settings, the runs, and per MRI type and combined the pooled
  out-of-fold AUC with its bootstrap interval and permutation p-value and the AUC of
  every fold (:func:`~radiogenomics.metrics.oof.summarize_oof`).

Resuming: rerun with ``resume=True`` (``--resume``). The folds are recomputed and must
equal ``folds.csv``; every run resumes as ``train_classification`` resumes (a finished
run is not trained again, an interrupted one continues after its last epoch, a missing
one starts), then every fold is scored again (cheap next to training).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radiogenomics._atomic import atomic_target, atomic_text
from radiogenomics._options import check_range
from radiogenomics.data.frame_store import FrameStore
from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError
from radiogenomics.inference.aggregate import mean_over_mri_types
from radiogenomics.io.labels import read_folds
from radiogenomics.metrics.oof import COMBINED, OofRow, OofSummary, summarize_oof, write_oof
from radiogenomics.training.classification import (
    ClassificationTrainConfig,
    ClassificationTrainResult,
    _requested_mri_types,
    train_classification,
)
from radiogenomics.training.split import stratified_patient_folds

__all__ = ["CrossValidationResult", "cross_validate_classification"]


@dataclass(frozen=True)
class CrossValidationResult:
    """The outcome of :func:`cross_validate_classification`.

    Attributes:
        out_dir: The cross-validation folder.
        folds: ``patient -> fold`` of every patient.
        runs: ``(fold, MRI type) -> training result``.
        oof: The out-of-fold predictions (what ``oof.csv`` holds).
        summary: Their AUCs, intervals and p-values (what ``summary.json`` holds);
            ``None`` on the processes other than rank 0 under ``torchrun``, which
            train but do not score.
        fallback_patients: Patients with no frame in any MRI type, whose combined
            probability is the fallback.
    """

    out_dir: Path
    folds: Mapping[str, int]
    runs: Mapping[tuple[int, str], ClassificationTrainResult]
    oof: tuple[OofRow, ...]
    summary: OofSummary | None
    fallback_patients: tuple[str, ...]


def _assign_folds(
    store: FrameStore,
    patients: Sequence[str],
    *,
    n_folds: int,
    fold_seed: int,
    folds: Mapping[str, int] | None,
) -> dict[str, int]:
    """``patient -> fold``: stratified grouped K folds, or the given assignment."""
    labels = [store.label(p) for p in patients]
    if folds is None:
        assigned = stratified_patient_folds(patients, labels, n_folds=n_folds, seed=fold_seed)
        return {p: int(f) for p, f in zip(patients, assigned.tolist(), strict=True)}
    missing = [p for p in patients if p not in folds]
    if missing:
        raise LabelError(
            f"{len(missing)} of the store's {len(patients)} patients have no fold in the fold "
            f"assignment (first: {missing[:5]}); every patient needs one, or it would never "
            "be validated.",
            path=store.root,
        )
    given = {p: int(folds[p]) for p in patients}
    if len(set(given.values())) < 2:
        raise InvalidInputError(
            f"the fold assignment puts all {len(patients)} patients in one fold "
            f"({sorted(set(given.values()))}); cross-validation needs at least 2 folds."
        )
    return given


def _check_inside(out: Path, data_dir: Path) -> None:
    if out.resolve() == data_dir.resolve() or data_dir.resolve() in out.resolve().parents:
        raise ConfigurationError(
            "the output folder is inside the frame store; choose an --out outside it.",
            path=out,
        )


def _record_folds(
    out: Path, folds: Mapping[str, int], labels: Mapping[str, int], *, resume: bool
) -> None:
    """Write ``folds.csv``; when it exists, refuse unless resuming with the same folds."""
    path = out / "folds.csv"
    if not path.is_file():
        lines = ["BraTS21ID,fold,MGMT_value"] + [f"{p},{f},{labels[p]}" for p, f in folds.items()]
        atomic_text(path, "\n".join(lines) + "\n")
        return
    if not resume:
        raise ConfigurationError(
            "this folder already holds a cross-validation; pass --resume to continue it, or "
            "choose another --out.",
            path=out,
        )
    saved = read_folds(path)
    changed = sorted(p for p in set(saved) | set(folds) if saved.get(p) != folds.get(p))
    if changed:
        raise ConfigurationError(
            f"cannot resume: the folds differ from those of the interrupted cross-validation "
            f"for {len(changed)} patient(s) (first: {changed[:5]}); use the same --folds, "
            "--fold-seed or --folds-csv and the same store, or another --out.",
            path=path,
        )


def _score_runs(
    store: FrameStore,
    runs: Mapping[tuple[int, str], ClassificationTrainResult],
    folds: Mapping[str, int],
    *,
    fallback: float,
    device: str,
    batch_size: int,
) -> tuple[list[OofRow], tuple[str, ...]]:
    """Out-of-fold rows per MRI type (series with frames) and combined (every patient)."""
    from radiogenomics.evaluation.held_out import held_out_predictions

    rows: list[OofRow] = []
    for (fold, mri_type), result in runs.items():
        scored = held_out_predictions(
            result.run_dir, data_dir=store.root, device=device, batch_size=batch_size
        )
        rows.extend(
            OofRow(patient, fold, mri_type, float(probability), int(label))
            for patient, probability, label in zip(
                scored.patients, scored.scores.tolist(), scored.truth.tolist(), strict=True
            )
            if store.num_frames((patient, mri_type)) > 0  # the others got a constant
        )
    series = {(r.patient_id, r.mri_type): r.probability for r in rows}
    combined = mean_over_mri_types(series, list(folds), fallback=fallback)
    scored_patients = {r.patient_id for r in rows}
    rows.extend(
        OofRow(p, folds[p], COMBINED, probability, store.label(p))
        for p, probability in combined.items()
    )
    return rows, tuple(p for p in folds if p not in scored_patients)


def _run_record(result: ClassificationTrainResult, fold: int) -> dict[str, Any]:
    return {
        "fold": fold,
        "mri_type": result.mri_type,
        "run_dir": str(result.run_dir),
        "epochs_completed": result.epochs_completed,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "stopped_early": result.stopped_early,
        "train_patients": len(result.train_patients),
        "val_patients": len(result.val_patients),
    }


def cross_validate_classification(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ClassificationTrainConfig | None = None,
    mri_types: Sequence[str] | None = None,
    n_folds: int = 5,
    fold_seed: int = 0,
    folds: Mapping[str, int] | None = None,
    fallback: float = 0.5,
    n_boot: int = 2000,
    n_permutations: int = 9999,
    alpha: float = 0.05,
    stats_seed: int = 0,
    resume: bool = False,
    progress: bool = True,
) -> CrossValidationResult:
    """Cross-validate stage 2 on a frame store: K runs per MRI type, out-of-fold AUCs.

    See the module notes for the folds, the patients without frames and the files
    written.

    Args:
        data_dir: A frame store written by ``prepare-classification`` (with labels).
        out_dir: The cross-validation folder (created; refused inside ``data_dir``).
        config: Training settings shared by every run (``mri_type`` is replaced;
            ``val_fraction`` is unused: the folds decide); default
            :class:`~radiogenomics.training.ClassificationTrainConfig`.
        mri_types: The MRI types to cross-validate; default: every one the store holds.
        n_folds: Folds, at least 2 (ignored when ``folds`` is given).
        fold_seed: Seed of the folds, separate from ``config.seed`` so that settings
            (seeds included) can be compared on the same folds.
        folds: The user's own ``patient -> fold`` assignment (e.g. from
            :func:`~radiogenomics.io.read_folds`); it must cover every patient of the
            store (patients it names that the store lacks are ignored).
        fallback: The combined probability of a patient with no frame in any MRI type.
        n_boot: Bootstrap resamples of the intervals.
        n_permutations: Permutations of the tests against chance.
        alpha: One minus the confidence level (0.05: 95 % intervals).
        stats_seed: Seed of the resampling and the permutations.
        resume: Continue the cross-validation in ``out_dir`` (see the module notes).
        progress: Show progress bars.

    Returns:
        The runs, the out-of-fold predictions and their summary.

    Raises:
        ConfigurationError: Bad settings; ``out_dir`` is inside ``data_dir``, or holds a
            cross-validation and ``resume`` is false, or holds one with other folds; or
            a run cannot be resumed (see :func:`~radiogenomics.training.train_classification`).
        InputNotFoundError: ``data_dir`` is not a frame store.
        InvalidInputError: The store lacks a requested MRI type; a class has fewer
            patients than folds; the assignment has one fold; or a fold's patients have
            no frame of a type (no chunk to validate on).
        LabelError: A patient has no label, or no fold in ``folds``.
    """
    from radiogenomics.training._distributed import is_main_process

    config = config or ClassificationTrainConfig()
    check_range("fallback", fallback, low=0.0, high=1.0)
    data, out = Path(data_dir), Path(out_dir)
    store = FrameStore(data)
    wanted = _requested_mri_types(store, mri_types)
    _check_inside(out, data)
    patients = sorted({p for p, t in store.series_keys() if t in wanted})
    unlabelled = [p for p in patients if p not in store.labels]
    if unlabelled:
        raise LabelError(
            f"{len(unlabelled)} patient(s) have no label in labels.csv (first: "
            f"{unlabelled[:5]}); cross-validation needs every patient's label.",
            path=data / "labels.csv",
        )
    assigned = _assign_folds(store, patients, n_folds=n_folds, fold_seed=fold_seed, folds=folds)
    if is_main_process():  # under torchrun, rank 0 alone reads and writes the record
        _record_folds(out, assigned, store.labels, resume=resume)

    runs: dict[tuple[int, str], ClassificationTrainResult] = {}
    for fold in sorted(set(assigned.values())):
        held_out = [p for p, f in assigned.items() if f == fold]
        for mri_type in wanted:
            runs[(fold, mri_type)] = train_classification(
                data,
                out / f"fold-{fold}" / mri_type,
                config=dataclasses.replace(config, mri_type=mri_type),
                resume=resume,
                progress=progress,
                val_patients=held_out,
            )
    if not is_main_process():
        return CrossValidationResult(out, assigned, runs, (), None, ())
    rows, fallback_patients = _score_runs(
        store,
        runs,
        assigned,
        fallback=fallback,
        device=config.device,
        batch_size=config.batch_size,
    )
    summary = summarize_oof(
        rows, n_boot=n_boot, n_permutations=n_permutations, alpha=alpha, seed=stats_seed
    )
    write_oof(rows, out / "oof.csv")
    record = {
        "data_dir": str(data),
        "mri_types": wanted,
        "patients": len(assigned),
        "folds": {
            "source": "given" if folds is not None else "stratified-group-k-fold",
            "n_folds": len(set(assigned.values())),
            "fold_seed": None if folds is not None else fold_seed,
        },
        "fallback": fallback,
        "fallback_patients": list(fallback_patients),
        "train_config": {  # mri_type is each run's, val_fraction unused: the folds decide
            k: v for k, v in config.to_dict().items() if k not in ("mri_type", "val_fraction")
        },
        "runs": [_run_record(result, fold) for (fold, _), result in runs.items()],
        "auc": summary.to_dict(),
    }
    with atomic_target(out / "summary.json", suffix=".tmp") as temporary:
        temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return CrossValidationResult(
        out_dir=out,
        folds=assigned,
        runs=runs,
        oof=tuple(rows),
        summary=summary,
        fallback_patients=fallback_patients,
    )
