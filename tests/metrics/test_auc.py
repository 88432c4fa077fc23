"""The AUC statistics are checked, not trusted: calibration, coverage, DeLong by brute force."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError
from radiogenomics.inference import bootstrap_auc_ci, roc_auc
from radiogenomics.metrics.auc import (
    auc_permutation_test,
    auc_report,
    compare_auc,
    delong_test,
    hanley_mcneil_se,
    paired_bootstrap_delta,
)


def _cohort(
    rng: np.random.Generator, n: int, separation: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Balanced labels; scores N(0, 1) for class 0 and N(separation, 1) for class 1."""
    truth = rng.permutation(np.arange(n) % 2)
    return truth, rng.normal(0.0, 1.0, n) + separation * truth


def test_importing_the_statistics_does_not_import_torch() -> None:
    code = (
        "import sys, radiogenomics.metrics.auc, radiogenomics.metrics.oof; "
        "print('torch' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "False"


def test_hanley_mcneil_matches_the_spread_of_simulated_aucs() -> None:
    # The formula is exact for exponential scores: X ~ Exp(rate 1) for class 1,
    # Y ~ Exp(rate 1/theta) for class 0 give AUC = P(X > Y) = 1 / (1 + theta).
    rng = np.random.default_rng(0)
    n_pos, n_neg, auc = 58, 59, 0.6
    theta = 1 / auc - 1
    positives = rng.exponential(1.0, size=(4000, n_pos))
    negatives = rng.exponential(theta, size=(4000, n_neg))
    wins = (positives[:, :, None] > negatives[:, None, :]).mean(axis=(1, 2))
    assert hanley_mcneil_se(auc, n_pos, n_neg) == pytest.approx(wins.std(), rel=0.06)


def test_hanley_mcneil_numbers_of_the_docs() -> None:
    # One 20 % split of the 585 labelled patients, and all of them.
    assert hanley_mcneil_se(0.6, 58, 59) == pytest.approx(0.0523, abs=5e-4)
    assert hanley_mcneil_se(0.6, 292, 293) == pytest.approx(0.0233, abs=5e-4)
    with pytest.raises(ConfigurationError, match="n_positive"):
        hanley_mcneil_se(0.6, 0, 10)
    with pytest.raises(ConfigurationError, match="auc"):
        hanley_mcneil_se(1.5, 10, 10)


def test_permutation_test_rejects_at_its_nominal_rate_under_the_null() -> None:
    rng = np.random.default_rng(1)
    p_values = []
    for run in range(200):
        truth, scores = _cohort(rng, 40, 0.0)
        p_values.append(auc_permutation_test(truth, scores, n_resamples=199, seed=run))
    rate = float(np.mean(np.array(p_values) <= 0.05))
    assert 0.02 <= rate <= 0.09


def test_permutation_test_finds_a_real_signal() -> None:
    truth, scores = _cohort(np.random.default_rng(2), 60, 2.0)
    assert auc_permutation_test(truth, scores, n_resamples=999) <= 0.002
    # The other directions: a model that ranks backwards.
    assert auc_permutation_test(truth, -scores, n_resamples=999, alternative="less") <= 0.002
    assert auc_permutation_test(truth, -scores, n_resamples=999, alternative="two-sided") <= 0.004
    assert auc_permutation_test(truth, -scores, n_resamples=999) > 0.9


def test_permutation_test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="n_resamples"):
        auc_permutation_test([0, 1], [0.1, 0.2], n_resamples=10)
    with pytest.raises(ConfigurationError, match="alternative"):
        auc_permutation_test([0, 1], [0.1, 0.2], alternative="bigger")  # type: ignore[arg-type]
    with pytest.raises(LabelError, match="both classes"):
        auc_permutation_test([1, 1], [0.1, 0.2])


def test_bootstrap_interval_covers_the_true_auc_at_about_its_nominal_rate() -> None:
    rng = np.random.default_rng(3)
    separation = 0.5
    true_auc = float(norm.cdf(separation / math.sqrt(2)))  # binormal, unit variances
    covered = []
    for run in range(200):
        truth, scores = _cohort(rng, 100, separation)
        interval = bootstrap_auc_ci(truth, scores, n_boot=400, seed=run)
        covered.append(interval.low <= true_auc <= interval.high)
    assert 0.88 <= float(np.mean(covered)) <= 0.99


def test_auc_report_on_chance_and_on_signal() -> None:
    truth, scores = _cohort(np.random.default_rng(4), 80, 0.0)
    chance = auc_report(truth, scores, n_boot=500, n_permutations=499)
    assert chance.low <= 0.5 <= chance.high
    assert chance.p_value > 0.05
    assert (chance.n, chance.n_positive) == (80, 40)
    truth, scores = _cohort(np.random.default_rng(4), 80, 2.0)
    signal = auc_report(truth, scores, n_boot=500, n_permutations=499)
    assert signal.low > 0.5
    assert signal.p_value < 0.01
    assert signal.auc == pytest.approx(roc_auc(truth, scores))
    tiny = auc_report([0, 1, 1], [0.1, 0.2, 0.3], n_boot=10, n_permutations=99)
    assert math.isnan(tiny.low)
    assert math.isnan(tiny.high)


def _delong_brute_force(
    truth: npt.NDArray[np.int64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """DeLong et al. (1988) as written: the Heaviside kernel over every (positive, negative)."""
    components = []
    for scores in (a, b):
        x, y = scores[truth == 1], scores[truth == 0]
        kernel = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        components.append((kernel.mean(axis=1), kernel.mean(axis=0), kernel.mean()))
    (v10a, v01a, auc_a), (v10b, v01b, auc_b) = components
    s10 = np.cov(np.stack([v10a, v10b]))
    s01 = np.cov(np.stack([v01a, v01b]))
    covariance = s10 / v10a.size + s01 / v01a.size
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    return float(auc_a - auc_b), float(math.sqrt(variance))


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(6, 60),
    decimals=st.sampled_from([0, 1, 3]),
)
def test_delong_equals_the_brute_force_definition(seed: int, n: int, decimals: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.permutation(np.arange(n) % 2)
    # Rounded scores: ties within and between the classes, as with real probabilities.
    a = np.round(rng.normal(size=n) + truth, decimals)
    b = np.round(rng.normal(size=n) + 0.5 * truth + 0.5 * a, decimals)
    delta, se = _delong_brute_force(truth, a, b)
    test = delong_test(truth, a, b)
    assert test.auc_a == pytest.approx(roc_auc(truth, a), abs=1e-12)
    assert test.auc_b == pytest.approx(roc_auc(truth, b), abs=1e-12)
    assert test.delta == pytest.approx(delta, abs=1e-12)
    assert test.se == pytest.approx(se, abs=1e-9)
    if test.se > 0:
        assert test.p_value == pytest.approx(2 * norm.sf(abs(delta) / se), abs=1e-9)
    swapped = delong_test(truth, b, a)
    assert swapped.delta == pytest.approx(-test.delta, abs=1e-12)
    assert swapped.p_value == pytest.approx(test.p_value, abs=1e-12)


def test_delong_of_a_model_with_itself_is_zero_with_p_one() -> None:
    truth, scores = _cohort(np.random.default_rng(5), 50, 1.0)
    same = delong_test(truth, scores, scores)
    assert (same.delta, same.se, same.z, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    # A monotone transform ranks the patients alike: the same AUC.
    squashed = delong_test(truth, scores, 1 / (1 + np.exp(-scores)))
    assert (squashed.delta, squashed.p_value) == (0.0, 1.0)


def test_delong_finds_a_designed_difference() -> None:
    rng = np.random.default_rng(6)
    truth, good = _cohort(rng, 200, 2.0)
    useless = rng.normal(size=200)
    test = delong_test(truth, good, useless)
    assert test.delta > 0.3
    assert test.p_value < 1e-6


def test_paired_bootstrap_delta() -> None:
    rng = np.random.default_rng(7)
    truth, a = _cohort(rng, 120, 1.5)
    b = a + rng.normal(0, 1.5, size=120)
    interval = paired_bootstrap_delta(truth, a, b, n_boot=500)
    assert interval.low <= interval.delta <= interval.high
    assert interval.delta == pytest.approx(roc_auc(truth, a) - roc_auc(truth, b), abs=1e-12)
    # Paired: the interval of the difference is narrower than either AUC's.
    alone = bootstrap_auc_ci(truth, a, n_boot=500)
    assert interval.high - interval.low < 2 * (alone.high - alone.low)
    same = paired_bootstrap_delta(truth, a, a, n_boot=50)
    assert (same.delta, same.low, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="too small"):
        paired_bootstrap_delta([0, 1], [0.1, 0.2], [0.2, 0.1], n_boot=10)
    with pytest.raises(ConfigurationError, match="n_boot"):
        paired_bootstrap_delta([0, 1], [0.1, 0.2], [0.2, 0.1], n_boot=5)


def test_compare_auc() -> None:
    rng = np.random.default_rng(8)
    truth, a = _cohort(rng, 80, 2.0)
    same = compare_auc(truth, a, a, n_boot=100)
    assert (same.delta, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    different = compare_auc(truth, a, rng.normal(size=80), n_boot=300)
    assert different.delta > 0
    assert different.low > 0
    assert different.p_value < 0.01
    assert (different.n, different.n_positive) == (80, 40)
    with pytest.raises(InvalidInputError, match="values"):
        compare_auc(truth, a, a[:-1])
