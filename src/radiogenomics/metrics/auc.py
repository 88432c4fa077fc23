"""How sure is an AUC: its standard error, a test against chance, and paired comparisons.

MGMT status from MRI is a weak signal, and the patients of one validation split are
few, so an AUC alone says little. These functions put a number on the doubt:

* :func:`hanley_mcneil_se`: the standard error of an AUC from the class sizes alone
  (Hanley & McNeil, 1982), to plan how many patients a comparison needs;
* :func:`auc_permutation_test`: the p-value of an AUC against chance, by shuffling the
  labels against the scores (``scipy.stats.permutation_test``);
* :func:`auc_report`: an AUC with its patient-resampled bootstrap interval
  (:func:`~radiogenomics.inference.bootstrap_auc_ci`) and that p-value;
* :func:`delong_test`: DeLong's test of two correlated AUCs (two models scored on the
  same patients), in the fast mid-rank form of Sun & Xu (2014);
* :func:`paired_bootstrap_delta`: the difference of two AUCs on the same patients with
  a paired bootstrap interval (the same resampled patients for both);
* :func:`compare_auc`: both, for one pair of score vectors.

Everything is NumPy, SciPy and scikit-learn; importing this module does not import
torch. Every random draw comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_choice, check_range
from radiogenomics.errors import ConfigurationError, InvalidInputError

__all__ = [
    "AucComparison",
    "AucReport",
    "DeLongTest",
    "DeltaInterval",
    "auc_permutation_test",
    "auc_report",
    "compare_auc",
    "delong_test",
    "hanley_mcneil_se",
    "paired_bootstrap_delta",
]

Alternative = Literal["greater", "two-sided", "less"]

Scores = Sequence[float] | npt.NDArray[Any]
Labels = Sequence[int] | npt.NDArray[Any]


def _check_count(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{name}={value!r} must be a whole number, at least {low}.")


def _checked(
    y_true: Labels, *scores: Scores
) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]]]:
    """Labels and score vectors validated as :func:`~radiogenomics.inference.roc_auc` does."""
    from radiogenomics.inference.aggregate import _binary_arrays

    checked = [_binary_arrays(y_true, s) for s in scores]
    return checked[0][0], [score for _, score in checked]


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    """The standard error of an AUC estimated on ``n_positive`` + ``n_negative`` patients.

    Hanley & McNeil's (1982) formula, which needs only the AUC and the class sizes:
    ``Q1 = A / (2 - A)``, ``Q2 = 2 A^2 / (1 + A)``, and
    ``SE^2 = (A (1 - A) + (n1 - 1)(Q1 - A^2) + (n0 - 1)(Q2 - A^2)) / (n1 n0)``.

    Args:
        auc: The AUC, in [0, 1].
        n_positive: Patients of class 1, at least 1.
        n_negative: Patients of class 0, at least 1.

    Returns:
        The standard error.

    Raises:
        ConfigurationError: An argument is out of range.

    Example:
        >>> round(hanley_mcneil_se(0.6, 58, 59), 3)  # one 20 % split of 585 patients
        0.052
    """
    check_range("auc", auc, low=0.0, high=1.0)
    _check_count("n_positive", n_positive, 1)
    _check_count("n_negative", n_negative, 1)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)
    ) / (n_positive * n_negative)
    return math.sqrt(max(variance, 0.0))


def _auc_of_ranks(ranks: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]) -> Any:
    """AUC (Mann-Whitney) along the last axis of mid-ranks, for a fixed positive mask."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    return (ranks[..., positive].sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_permutation_test(
    y_true: Labels,
    y_score: Scores,
    *,
    n_resamples: int = 9999,
    alternative: Alternative = "greater",
    seed: int = 0,
) -> float:
    """The p-value of an AUC against chance, by permuting the labels against the scores.

    Under the null hypothesis the scores carry no information about the labels, so
    every pairing of scores with labels is equally likely. ``scipy.stats.permutation_test``
    draws ``n_resamples`` random pairings (``permutation_type="pairings"``) and counts
    how often their AUC is at least the observed one (``"greater"``: the model is better
    than chance) or at most it (``"less"``); ``"two-sided"`` is twice the smaller of the
    two (SciPy's definition), capped at 1. The
    p-value counts the observed pairing too, so it is never 0: at least
    ``1 / (n_resamples + 1)``. When ``n_resamples`` is at least the number of pairings
    (``N!``), SciPy enumerates them all and the test is exact.

    Args:
        y_true: 0/1 labels, one per patient.
        y_score: Their scores.
        n_resamples: Random pairings drawn, at least 99.
        alternative: ``"greater"`` (default), ``"two-sided"`` or ``"less"``.
        seed: Seed of the pairings.

    Returns:
        The p-value.

    Raises:
        LabelError: Labels other than 0/1, or one class only.
        InvalidInputError: Lengths differ or a score is not finite.
        ConfigurationError: ``n_resamples`` or ``alternative`` is invalid.

    Shape:
        - y_true, y_score: (N,).

    Example:
        Eight patients ranked perfectly: 1 of the 70 ways to choose which 4 are positive
        does as well (``n_resamples`` at least 8! makes the test exact):

        >>> round(auc_permutation_test([0, 0, 0, 0, 1, 1, 1, 1], range(8), n_resamples=40320), 4)
        0.0143
    """
    from scipy.stats import permutation_test, rankdata

    _check_count("n_resamples", n_resamples, 99)
    check_choice("alternative", alternative, ("greater", "two-sided", "less"))
    truth, (score,) = _checked(y_true, y_score)
    positive = truth == 1
    ranks = rankdata(score)  # permuting the scores permutes their ranks

    def statistic(values: npt.NDArray[np.float64], axis: int = -1) -> Any:
        return _auc_of_ranks(values, positive)

    result = permutation_test(
        (ranks,),
        statistic,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alternative,
        random_state=np.random.default_rng(seed),
    )
    return float(result.pvalue)


class AucReport(NamedTuple):
    """An AUC with its bootstrap interval and its p-value against chance.

    Attributes:
        n: Patients.
        n_positive: Patients of class 1.
        auc: The AUC.
        low: Lower bound of the bootstrap interval (NaN when too few resamples had
            both classes).
        high: Upper bound (NaN likewise).
        p_value: One-sided permutation p-value against chance (AUC 0.5).
    """

    n: int
    n_positive: int
    auc: float
    low: float
    high: float
    p_value: float


def auc_report(
    y_true: Labels,
    y_score: Scores,
    *,
    n_boot: int = 2000,
    n_permutations: int = 9999,
    alpha: float = 0.05,
    seed: int = 0,
) -> AucReport:
    """An AUC, its percentile bootstrap interval (patients resampled) and its p-value.

    The interval is :func:`~radiogenomics.inference.bootstrap_auc_ci`'s; the p-value is
    :func:`auc_permutation_test`'s (one-sided: better than chance). Both draw from
    ``seed``.

    Args:
        y_true: 0/1 labels, one per patient.
        y_score: Their scores.
        n_boot: Bootstrap resamples, at least 10.
        n_permutations: Permutations of the test, at least 99.
        alpha: One minus the confidence level (0.05: a 95 % interval).
        seed: Seed of the resampling and of the permutations.

    Returns:
        The report.

    Raises:
        LabelError: Labels other than 0/1, or one class only.
        InvalidInputError: Lengths differ or a score is not finite.
        ConfigurationError: An option is out of range.

    Shape:
        - y_true, y_score: (N,).
    """
    from radiogenomics.inference.aggregate import bootstrap_auc_ci, roc_auc

    truth, (score,) = _checked(y_true, y_score)
    p_value = auc_permutation_test(truth, score, n_resamples=n_permutations, seed=seed)
    try:
        interval = bootstrap_auc_ci(truth, score, n_boot=n_boot, alpha=alpha, seed=seed)
        auc, low, high = interval.auc, interval.low, interval.high
    except InvalidInputError:  # labels are valid: too few two-class resamples
        auc, low, high = roc_auc(truth, score), math.nan, math.nan
    return AucReport(int(truth.size), int(truth.sum()), auc, low, high, p_value)


def _midranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Mid-ranks (ties share the mean of their ranks) along the last axis, from 1."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(values, method="average", axis=-1), dtype=np.float64)


def _delong_covariance(
    positive: npt.NDArray[np.float64], negative: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The AUCs of K score vectors and their DeLong covariance (Sun & Xu's mid-rank form).

    Args:
        positive: Scores of the class-1 patients, of shape (K, M).
        negative: Scores of the class-0 patients, of shape (K, N).

    Returns:
        ``(aucs, covariance)`` of shapes (K,) and (K, K).
    """
    m, n = positive.shape[1], negative.shape[1]
    ranks_positive = _midranks(positive)
    ranks_negative = _midranks(negative)
    ranks_all = _midranks(np.concatenate([positive, negative], axis=1))
    aucs = ranks_all[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    # Structural components: for each positive, the fraction of negatives it outranks
    # (ties one half); for each negative, the fraction of positives that outrank it.
    v10 = (ranks_all[:, :m] - ranks_positive) / n
    v01 = 1.0 - (ranks_all[:, m:] - ranks_negative) / m
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


class DeLongTest(NamedTuple):
    """DeLong's test of two AUCs measured on the same patients.

    Attributes:
        auc_a: The AUC of the first scores.
        auc_b: The AUC of the second scores.
        delta: ``auc_a - auc_b``.
        se: The standard error of ``delta`` (0 when the two rank the patients alike).
        z: ``delta / se`` (0 when both are 0).
        p_value: Two-sided p-value of ``delta = 0`` (1 for identical rankings).
    """

    auc_a: float
    auc_b: float
    delta: float
    se: float
    z: float
    p_value: float


def delong_test(y_true: Labels, score_a: Scores, score_b: Scores) -> DeLongTest:
    """DeLong's test (1988) of two correlated AUCs: two models scored on the same patients.

    The difference of the AUCs is divided by its standard error, estimated from each
    patient's "structural components" (how each positive ranks against every negative,
    and the reverse), which accounts for the correlation between the two models; the
    z statistic is referred to the normal distribution (two-sided). The computation is
    Sun & Xu's (2014) mid-rank form, O(N log N). When the two score vectors rank the
    patients alike (e.g. a model compared with itself) the difference and its standard
    error are 0 and the p-value is 1; differences and standard errors below 1e-12 are
    taken as 0, so that such a result does not hang on the last bit of a float.

    Args:
        y_true: 0/1 labels, one per patient.
        score_a: The first model's scores.
        score_b: The second model's scores, of the same patients in the same order.

    Returns:
        The AUCs, their difference, its standard error, z and the p-value.

    Raises:
        LabelError: Labels other than 0/1, or one class only.
        InvalidInputError: Lengths differ or a score is not finite.

    Shape:
        - y_true, score_a, score_b: (N,).

    Example:
        >>> test = delong_test([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [0.1, 0.4, 0.35, 0.8])
        >>> test.delta, test.p_value
        (0.0, 1.0)
    """
    from scipy.stats import norm

    truth, (a, b) = _checked(y_true, score_a, score_b)
    scores = np.stack([a, b])
    aucs, covariance = _delong_covariance(scores[:, truth == 1], scores[:, truth == 0])
    delta = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    se = math.sqrt(variance) if variance > 1e-24 else 0.0
    if abs(delta) < 1e-12:
        delta = 0.0
    if se == 0.0:
        z, p_value = 0.0 if delta == 0.0 else math.copysign(math.inf, delta), float(delta == 0)
    else:
        z = delta / se
        p_value = float(min(1.0, 2 * norm.sf(abs(z))))
    return DeLongTest(float(aucs[0]), float(aucs[1]), delta, se, z, p_value)


class DeltaInterval(NamedTuple):
    """The difference of two AUCs on the same patients, with its paired bootstrap interval.

    Attributes:
        delta: ``AUC(a) - AUC(b)`` on all patients.
        low: Lower bound (the ``alpha / 2`` percentile of the resampled differences).
        high: Upper bound (the ``1 - alpha / 2`` percentile).
        n_used: Resamples used (those with both classes).
    """

    delta: float
    low: float
    high: float
    n_used: int


def paired_bootstrap_delta(
    y_true: Labels,
    score_a: Scores,
    score_b: Scores,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> DeltaInterval:
    """``AUC(a) - AUC(b)`` with a paired percentile bootstrap interval.

    Patients are resampled with replacement ``n_boot`` times; each resample scores *both*
    models on the same patients, so the interval reflects the spread of the difference
    (which is much narrower than that of either AUC when the two models agree), not of
    each AUC. Resamples with one class only are skipped, as in
    :func:`~radiogenomics.inference.bootstrap_auc_ci`.

    Args:
        y_true: 0/1 labels, one per patient.
        score_a: The first model's scores.
        score_b: The second model's scores, of the same patients in the same order.
        n_boot: Resamples, at least 10.
        alpha: One minus the confidence level.
        seed: Seed of the resampling.

    Returns:
        The difference and its interval.

    Raises:
        LabelError: Labels other than 0/1, or one class only.
        InvalidInputError: Lengths differ, a score is not finite, or fewer than 10
            resamples had both classes.
        ConfigurationError: ``n_boot`` or ``alpha`` is out of range.

    Shape:
        - y_true, score_a, score_b: (N,).
    """
    _check_count("n_boot", n_boot, 10)
    check_range("alpha", alpha, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    from radiogenomics.inference.aggregate import _rank_auc, _two_class_resamples

    truth, (a, b) = _checked(y_true, score_a, score_b)
    rows = _two_class_resamples(truth, n_boot=n_boot, seed=seed)
    deltas = _rank_auc(truth[rows], a[rows]) - _rank_auc(truth[rows], b[rows])
    delta = float(_rank_auc(truth[None], a[None])[0] - _rank_auc(truth[None], b[None])[0])
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return DeltaInterval(delta, float(low), float(high), int(rows.shape[0]))


class AucComparison(NamedTuple):
    """Two models' AUCs on the same patients, compared.

    Attributes:
        n: Patients.
        n_positive: Patients of class 1.
        auc_a: The first model's AUC.
        auc_b: The second model's AUC.
        delta: ``auc_a - auc_b``.
        low: Lower bound of the paired bootstrap interval of ``delta`` (NaN when too
            few resamples had both classes).
        high: Upper bound (NaN likewise).
        p_value: DeLong's two-sided p-value of ``delta = 0``.
    """

    n: int
    n_positive: int
    auc_a: float
    auc_b: float
    delta: float
    low: float
    high: float
    p_value: float


def compare_auc(
    y_true: Labels,
    score_a: Scores,
    score_b: Scores,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> AucComparison:
    """Compare two models' AUCs on the same patients: ΔAUC, its interval, DeLong's p-value.

    Args:
        y_true: 0/1 labels, one per patient.
        score_a: The first model's scores.
        score_b: The second model's scores, of the same patients in the same order.
        n_boot: Paired bootstrap resamples (:func:`paired_bootstrap_delta`).
        alpha: One minus the confidence level.
        seed: Seed of the resampling.

    Returns:
        The comparison.

    Raises:
        LabelError: Labels other than 0/1, or one class only.
        InvalidInputError: Lengths differ or a score is not finite.
        ConfigurationError: An option is out of range.

    Shape:
        - y_true, score_a, score_b: (N,).

    Example:
        >>> same = compare_auc([0, 1] * 10, [0.1 * i for i in range(20)], range(20))
        >>> same.delta, same.low, same.high, same.p_value
        (0.0, 0.0, 0.0, 1.0)
    """
    test = delong_test(y_true, score_a, score_b)
    truth, (a, b) = _checked(y_true, score_a, score_b)
    try:
        interval = paired_bootstrap_delta(truth, a, b, n_boot=n_boot, alpha=alpha, seed=seed)
        low, high = interval.low, interval.high
    except InvalidInputError:  # labels are valid: too few two-class resamples
        low, high = math.nan, math.nan
    return AucComparison(
        int(truth.size),
        int(truth.sum()),
        test.auc_a,
        test.auc_b,
        test.delta,
        low,
        high,
        test.p_value,
    )
