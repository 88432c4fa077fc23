"""Patient probabilities from chunk probabilities, and patient-level ROC AUC.

The reference predicts each chunk, takes the mean of a series' chunk probabilities as
the probability of that ``(patient, MRI type)``, and averages the MRI-type models per
patient, skipping the MRI types a patient lacks. :class:`PatientAggregator` does the
same, in MONAI's metric style (``update`` with batches, ``aggregate``, ``reset``), with
the median or the maximum as other reducers of chunks.

Fallback. In the released code, a patient none of whose slices survived the filters had
no chunk and so no row in the submission, which Kaggle scores as an error. Here every
requested patient gets a probability: patients with no chunk at all get ``fallback``,
either a number (0.5 by default: "no information") or ``"prior"``, the training
prevalence passed as ``prior=`` (the constant that minimises the expected log loss).
:meth:`PatientAggregator.fallback_patients` lists who got it.

Metrics: :func:`roc_auc` (scikit-learn's) and :func:`bootstrap_auc_ci`, a percentile
bootstrap over patients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError
from radiogenomics.io.labels import patient_key

if TYPE_CHECKING:
    import torch

__all__ = [
    "AucInterval",
    "ChunkReduce",
    "PatientAggregator",
    "bootstrap_auc_ci",
    "mean_over_mri_types",
    "reduce_chunks",
    "roc_auc",
]

ChunkReduce = Literal["mean", "median", "max"]
"""How the chunk probabilities of one series become one probability."""

_REDUCES: tuple[ChunkReduce, ...] = ("mean", "median", "max")


def _check_probability(value: float, what: str, patient_id: str | None = None) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInputError(
            f"{what} {value!r} is not a probability in [0, 1]; apply torch.sigmoid to logits.",
            patient_id=patient_id,
        )
    return value


def reduce_chunks(
    chunks: Iterable[tuple[str, str, float]], *, reduce: ChunkReduce = "mean"
) -> dict[tuple[str, str], float]:
    """The probability of each series from its chunks' probabilities (a pure function).

    Args:
        chunks: ``(patient_id, mri_type, probability)`` per chunk, in any order.
        reduce: ``"mean"`` (the reference), ``"median"`` or ``"max"``.

    Returns:
        ``(patient_id, mri_type) -> probability``, in order of first appearance.

    Raises:
        InvalidInputError: A probability is not in [0, 1].
        ConfigurationError: ``reduce`` is unknown.

    Example:
        >>> reduce_chunks([("1", "FLAIR", 0.25), ("1", "FLAIR", 0.75), ("2", "T1w", 0.9)])
        {('1', 'FLAIR'): 0.5, ('2', 'T1w'): 0.9}
    """
    check_choice("reduce", reduce, _REDUCES)
    grouped: dict[tuple[str, str], list[float]] = {}
    for patient_id, mri_type, probability in chunks:
        value = _check_probability(probability, f"chunk probability ({mri_type})", patient_id)
        grouped.setdefault((str(patient_id), str(mri_type)), []).append(value)
    if reduce == "median":
        return {key: float(np.median(values)) for key, values in grouped.items()}
    if reduce == "max":
        return {key: float(np.max(values)) for key, values in grouped.items()}
    return {key: float(np.mean(values)) for key, values in grouped.items()}


def mean_over_mri_types(
    series: Mapping[tuple[str, str], float],
    patients: Iterable[str] | None = None,
    *,
    fallback: float = 0.5,
) -> dict[str, float]:
    """Each patient's mean over its MRI types; ``fallback`` for patients with none.

    Args:
        series: ``(patient_id, mri_type) -> probability`` (missing MRI types are skipped).
        patients: The patients to report, in this order; default: those of ``series``
            in order of first appearance.
        fallback: The probability of a requested patient with no series.

    Returns:
        ``patient_id -> probability``, keyed as in ``patients`` (by default, as spelled
        by :func:`~radiogenomics.io.labels.patient_key`). Identifiers are compared
        through :func:`~radiogenomics.io.labels.patient_key`: ``6`` and ``"00006"`` are
        one patient.

    Example:
        >>> mean_over_mri_types({("1", "FLAIR"): 0.2, ("1", "T2w"): 0.6}, ["1", "00002"])
        {'1': 0.4, '00002': 0.5}
    """
    fallback = _check_probability(fallback, "fallback")
    grouped: dict[str, list[float]] = {}
    for (patient_id, _), probability in series.items():
        grouped.setdefault(patient_key(patient_id), []).append(probability)
    wanted = list(grouped) if patients is None else [str(p) for p in patients]
    return {
        p: float(np.mean(grouped[patient_key(p)])) if patient_key(p) in grouped else fallback
        for p in wanted
    }


class PatientAggregator:
    """Collect chunk probabilities; report one probability per patient.

    Args:
        reduce: Chunks of a series are combined by ``"mean"`` (the reference),
            ``"median"`` or ``"max"``; MRI types of a patient are always averaged.
        fallback: The probability of a patient with no chunk: a number in [0, 1], or
            ``"prior"`` to use ``prior``.
        prior: The training prevalence of the positive class; required by
            ``fallback="prior"``.

    Raises:
        ConfigurationError: An option is invalid.

    Example:
        >>> aggregator = PatientAggregator()
        >>> aggregator.update(["1", "1", "1"], ["FLAIR", "FLAIR", "T2w"], [0.25, 0.75, 0.75])
        >>> aggregator.aggregate(["00001", "2"])
        {'00001': 0.625, '2': 0.5}
        >>> aggregator.aggregate()
        {'00001': 0.625}
    """

    def __init__(
        self,
        *,
        reduce: ChunkReduce = "mean",
        fallback: float | Literal["prior"] = 0.5,
        prior: float | None = None,
    ) -> None:
        check_choice("reduce", reduce, _REDUCES)
        if prior is not None:
            check_range("prior", prior, low=0.0, high=1.0)
        if isinstance(fallback, str):
            check_choice("fallback", fallback, ("prior",))
            if prior is None:
                raise ConfigurationError(
                    "fallback='prior' needs prior=, the training prevalence of the positive "
                    "class (e.g. prior=sum(labels) / len(labels))."
                )
        else:
            check_range("fallback", fallback, low=0.0, high=1.0)
        self.reduce: ChunkReduce = reduce
        self.fallback: float | Literal["prior"] = fallback
        self.prior = prior
        self._chunks: list[tuple[str, str, float]] = []

    @property
    def fallback_value(self) -> float:
        """The probability given to a patient with no chunk."""
        if self.fallback == "prior":
            assert self.prior is not None  # checked in __init__
            return float(self.prior)
        return float(self.fallback)

    def update(
        self,
        patient_ids: Sequence[str],
        mri_types: Sequence[str],
        probabilities: Sequence[float] | npt.NDArray[Any] | torch.Tensor,
    ) -> None:
        """Add a batch of chunk predictions.

        Args:
            patient_ids: The chunks' patients (``batch["patient_id"]``); spelled by
                :func:`~radiogenomics.io.labels.patient_key` (``6`` is ``"00006"``).
            mri_types: Their MRI types (``batch["mri_type"]``).
            probabilities: Their probabilities (a sequence, a NumPy array or a torch
                tensor, of shape (B,)).

        Raises:
            InvalidInputError: The three lengths differ, or a value is not a probability.
        """
        detach = getattr(probabilities, "detach", None)  # a torch tensor, without importing torch
        raw = detach().cpu().numpy() if callable(detach) else probabilities
        values = np.asarray(raw, dtype=np.float64).reshape(-1)
        if not len(patient_ids) == len(mri_types) == len(values):
            raise InvalidInputError(
                f"got {len(patient_ids)} patient ids, {len(mri_types)} MRI types and "
                f"{len(values)} probabilities; expected one of each per chunk."
            )
        batch = []
        for patient_id, mri_type, value in zip(patient_ids, mri_types, values, strict=True):
            key = patient_key(patient_id)
            checked = _check_probability(value, f"chunk probability ({mri_type})", key)
            batch.append((key, str(mri_type), checked))
        self._chunks.extend(batch)

    def reset(self) -> None:
        """Forget every prediction."""
        self._chunks = []

    def __len__(self) -> int:
        return len(self._chunks)

    def series_probabilities(self) -> dict[tuple[str, str], float]:
        """``(patient_id, mri_type) -> probability`` of every series with chunks."""
        return reduce_chunks(self._chunks, reduce=self.reduce)

    def aggregate(self, patients: Iterable[str] | None = None) -> dict[str, float]:
        """One probability per patient.

        Args:
            patients: Every patient that needs a probability (e.g. all test patients),
                in the order wanted; those without chunks get the fallback. Default: the
                patients seen, in order of first appearance.

        Returns:
            ``patient_id -> probability``.
        """
        return mean_over_mri_types(
            self.series_probabilities(), patients, fallback=self.fallback_value
        )

    def fallback_patients(self, patients: Iterable[str]) -> list[str]:
        """Which of ``patients`` have no chunk (and so get the fallback)."""
        seen = {patient_id for patient_id, _, _ in self._chunks}
        return [str(p) for p in patients if patient_key(p) not in seen]

    def __repr__(self) -> str:
        return short_repr(
            self,
            reduce=(self.reduce, "mean"),
            fallback=(self.fallback, 0.5),
            prior=(self.prior, None),
        )


def _binary_arrays(
    y_true: Sequence[int] | npt.NDArray[Any], y_score: Sequence[float] | npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    truth = np.asarray(y_true).reshape(-1)
    score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if truth.shape != score.shape:
        raise InvalidInputError(
            f"y_true has {truth.size} values and y_score {score.size}; expected one score "
            "per label."
        )
    if not np.isin(truth, (0, 1)).all():
        raise LabelError(
            f"y_true holds values {sorted(set(np.unique(truth).tolist()) - {0, 1})[:5]}; "
            "expected 0/1 labels."
        )
    if not np.isfinite(score).all():
        raise InvalidInputError("y_score holds NaN or infinite values.")
    if np.unique(truth).size < 2:
        raise LabelError(
            f"ROC AUC needs both classes; y_true has only {truth[:1].tolist() or 'no'} "
            f"values ({truth.size} in all)."
        )
    return truth.astype(np.int64), score


def roc_auc(
    y_true: Sequence[int] | npt.NDArray[Any], y_score: Sequence[float] | npt.NDArray[Any]
) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``).

    Args:
        y_true: 0/1 labels (one per patient for the patient AUC).
        y_score: Scores or probabilities, higher meaning class 1.

    Returns:
        The AUC in [0, 1]; ties count one half.

    Raises:
        LabelError: Labels other than 0/1, or only one class present.
        InvalidInputError: Lengths differ or scores are not finite.

    Shape:
        - y_true, y_score: (N,).

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    from sklearn.metrics import roc_auc_score

    truth, score = _binary_arrays(y_true, y_score)
    return float(roc_auc_score(truth, score))


def _rank_auc(truth: npt.NDArray[np.int64], score: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    """Row-wise AUC by the Mann-Whitney statistic with mid-ranks (equal to ROC AUC)."""
    from scipy.stats import rankdata

    ranks = rankdata(score, axis=1)
    positives = truth.sum(axis=1)
    negatives = truth.shape[1] - positives
    rank_sum = (ranks * truth).sum(axis=1)
    return np.asarray((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


class AucInterval(NamedTuple):
    """A ROC AUC with its bootstrap confidence interval.

    Attributes:
        auc: The AUC of the full sample.
        low: Lower bound (the ``alpha / 2`` percentile of the bootstrap AUCs).
        high: Upper bound (the ``1 - alpha / 2`` percentile).
        n_used: Bootstrap resamples used (those with both classes).
    """

    auc: float
    low: float
    high: float
    n_used: int


def bootstrap_auc_ci(
    y_true: Sequence[int] | npt.NDArray[Any],
    y_score: Sequence[float] | npt.NDArray[Any],
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> AucInterval:
    """ROC AUC with a percentile bootstrap confidence interval.

    Patients (the rows) are resampled with replacement ``n_boot`` times; resamples with
    only one class have no AUC and are skipped (``n_used`` counts the rest). The bounds
    are the ``alpha / 2`` and ``1 - alpha / 2`` percentiles (linear interpolation) of the
    resampled AUCs. The percentile interval is simple and can be off for small samples
    or AUCs near 0 or 1; with the ~100 patients of a validation split read it as a
    rough guide.

    Args:
        y_true: 0/1 labels, one per patient.
        y_score: Their scores.
        n_boot: Number of resamples.
        alpha: One minus the confidence level (0.05: a 95 % interval).
        seed: Seed of the resampling (``numpy.random.default_rng(seed)``).

    Returns:
        The AUC and its interval.

    Raises:
        LabelError: Labels other than 0/1, or only one class present.
        InvalidInputError: Fewer than 10 resamples had both classes.
        ConfigurationError: ``n_boot`` or ``alpha`` is out of range.

    Shape:
        - y_true, y_score: (N,).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 10:
        raise ConfigurationError(f"n_boot={n_boot!r} must be a whole number, at least 10.")
    check_range("alpha", alpha, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    truth, score = _binary_arrays(y_true, y_score)
    estimate = roc_auc(truth, score)
    rows = _two_class_resamples(truth, n_boot=n_boot, seed=seed)
    aucs = _rank_auc(truth[rows], score[rows])
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return AucInterval(float(estimate), float(low), float(high), int(rows.shape[0]))


def _two_class_resamples(
    truth: npt.NDArray[np.int64], *, n_boot: int, seed: int
) -> npt.NDArray[np.intp]:
    """Draw ``n_boot`` resamples of the patients (rows, with replacement); keep those with
    both classes.

    Returns:
        The kept resamples' row indices, of shape (n_used, N).

    Raises:
        InvalidInputError: Fewer than 10 resamples had both classes.
    """
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, truth.size, size=(n_boot, truth.size))
    boot_truth = truth[rows]
    both = (boot_truth.min(axis=1) == 0) & (boot_truth.max(axis=1) == 1)
    if int(both.sum()) < 10:
        raise InvalidInputError(
            f"only {int(both.sum())} of {n_boot} resamples had both classes; the sample "
            f"({truth.size} patients, {int(truth.sum())} positive) is too small or too "
            "unbalanced for a bootstrap interval."
        )
    return np.asarray(rows[both], dtype=np.intp)
