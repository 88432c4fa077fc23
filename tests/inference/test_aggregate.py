"""Patient aggregation, ROC AUC and its bootstrap interval, against known values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from radiogenomics.errors import ConfigurationError, InvalidInputError, LabelError
from radiogenomics.inference.aggregate import (
    AucInterval,
    PatientAggregator,
    _rank_auc,
    bootstrap_auc_ci,
    mean_over_mri_types,
    reduce_chunks,
    roc_auc,
)


def test_roc_auc_of_a_hand_made_example() -> None:
    # Pairs (positive, negative): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, *) ok: 3 of 4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([1, 0], [0.9, 0.1]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5  # ties count one half


def test_roc_auc_errors() -> None:
    with pytest.raises(LabelError, match="both classes"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(LabelError, match="0/1"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="one score per label"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(InvalidInputError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])


def test_rank_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(0)
    truth = np.array([[0, 1, 1, 0, 1, 0, 0, 1]] * 5)
    score = rng.integers(0, 4, truth.shape).astype(float)  # many ties
    expected = [roc_auc_score(t, s) for t, s in zip(truth, score, strict=True)]
    np.testing.assert_allclose(_rank_auc(truth, score), expected)


def test_reduce_chunks_means_per_series() -> None:
    chunks = [
        ("00001", "FLAIR", 0.2),
        ("00001", "FLAIR", 0.6),
        ("00001", "T2w", 0.9),
        ("00002", "FLAIR", 0.1),
        ("00001", "FLAIR", 0.7),
    ]
    series = reduce_chunks(chunks)
    assert series == pytest.approx(
        {("00001", "FLAIR"): 0.5, ("00001", "T2w"): 0.9, ("00002", "FLAIR"): 0.1}
    )
    assert reduce_chunks(chunks, reduce="median")[("00001", "FLAIR")] == 0.6
    assert reduce_chunks(chunks, reduce="max")[("00001", "FLAIR")] == 0.7
    assert reduce_chunks([]) == {}


def test_mean_over_mri_types_skips_missing_types() -> None:
    series = {("1", "FLAIR"): 0.2, ("1", "T1w"): 0.4, ("1", "T2w"): 0.9, ("2", "T1wCE"): 0.3}
    assert mean_over_mri_types(series) == pytest.approx({"00001": 0.5, "00002": 0.3})
    assert mean_over_mri_types(series, ["2", "00001"]) == pytest.approx({"2": 0.3, "00001": 0.5})


def test_aggregator_end_to_end_with_fallback() -> None:
    aggregator = PatientAggregator()
    aggregator.update(["1", "1", "2"], ["FLAIR", "FLAIR", "T2w"], torch.tensor([0.2, 0.4, 0.8]))
    aggregator.update(["1"], ["T1wCE"], np.array([0.9]))
    assert len(aggregator) == 4
    assert aggregator.series_probabilities() == pytest.approx(
        {("00001", "FLAIR"): 0.3, ("00002", "T2w"): 0.8, ("00001", "T1wCE"): 0.9}
    )
    result = aggregator.aggregate(["3", "1", "2"])
    assert list(result) == ["3", "1", "2"]
    assert result == pytest.approx({"3": 0.5, "1": 0.6, "2": 0.8})
    assert aggregator.fallback_patients(["3", "1", "2"]) == ["3"]
    assert aggregator.aggregate() == pytest.approx({"00001": 0.6, "00002": 0.8})
    aggregator.reset()
    assert len(aggregator) == 0
    assert aggregator.aggregate(["1"]) == {"1": 0.5}


def test_prior_fallback() -> None:
    aggregator = PatientAggregator(fallback="prior", prior=0.52)
    assert aggregator.aggregate(["7"]) == {"7": 0.52}
    assert aggregator.fallback_value == 0.52
    assert PatientAggregator(fallback=0.3).aggregate(["7"]) == {"7": 0.3}


def test_other_reducers_in_the_aggregator() -> None:
    aggregator = PatientAggregator(reduce="max")
    aggregator.update(["1", "1"], ["T1w", "T1w"], [0.1, 0.7])
    assert aggregator.aggregate() == {"00001": 0.7}


def test_aggregator_rejects_bad_input() -> None:
    aggregator = PatientAggregator()
    with pytest.raises(InvalidInputError, match="one of each"):
        aggregator.update(["1", "2"], ["T1w"], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="sigmoid") as info:
        aggregator.update(["1"], ["T1w"], [1.5])
    assert info.value.patient_id == "00001"
    assert len(aggregator) == 0  # a bad batch adds nothing


def test_one_patient_however_its_identifier_is_spelled() -> None:
    # aggregate(["00006"]) after update([6], ...) used to return the 0.5 fallback.
    aggregator = PatientAggregator()
    aggregator.update([6, "6"], ["FLAIR", "T2w"], [0.2, 0.4])  # type: ignore[list-item]
    aggregator.update(["00006"], ["T1w"], [0.9])
    assert aggregator.aggregate(["00006", "6"]) == pytest.approx({"00006": 0.5, "6": 0.5})
    assert aggregator.fallback_patients(["6", "7"]) == ["7"]
    other = PatientAggregator()
    other.update(["BraTS2021_00006"], ["FLAIR"], [0.3])  # not a number: kept as given
    assert other.aggregate() == {"BraTS2021_00006": 0.3}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fallback": "prior"}, "needs prior="),
        ({"fallback": "priors", "prior": 0.5}, "Did you mean 'prior'"),
        ({"fallback": 1.5}, "fallback"),
        ({"prior": -0.1}, "prior"),
        ({"reduce": "mode"}, "reduce"),
    ],
)
def test_aggregator_options(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        PatientAggregator(**kwargs)  # type: ignore[arg-type]


def test_aggregator_repr() -> None:
    assert repr(PatientAggregator()) == "PatientAggregator()"
    assert (
        repr(PatientAggregator(fallback="prior", prior=0.4))
        == "PatientAggregator(fallback='prior', prior=0.4)"
    )


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 120)
    score = truth * 0.6 + rng.random(120)
    interval = bootstrap_auc_ci(truth, score, n_boot=500, seed=3)
    assert isinstance(interval, AucInterval)
    assert interval.auc == pytest.approx(roc_auc(truth, score))
    assert interval.low <= interval.auc <= interval.high
    assert 0.0 < interval.high - interval.low < 0.3
    assert interval.n_used == 500
    assert bootstrap_auc_ci(truth, score, n_boot=500, seed=3) == interval
    narrow = bootstrap_auc_ci(truth, score, n_boot=500, alpha=0.5, seed=3)
    assert interval.low <= narrow.low <= narrow.high <= interval.high


def test_bootstrap_skips_resamples_with_one_class() -> None:
    truth = [1] + [0] * 9
    score = np.linspace(0, 1, 10)[::-1]
    interval = bootstrap_auc_ci(truth, score, n_boot=200, seed=0)
    # A resample misses the single positive with probability 0.9**10 ~ 0.35.
    assert 80 < interval.n_used < 180
    assert interval.low == interval.high == interval.auc == 1.0


def test_bootstrap_errors() -> None:
    with pytest.raises(ConfigurationError, match="n_boot"):
        bootstrap_auc_ci([0, 1], [0.1, 0.2], n_boot=5)
    with pytest.raises(ConfigurationError, match="alpha"):
        bootstrap_auc_ci([0, 1], [0.1, 0.2], alpha=1.0)
    with pytest.raises(LabelError):
        bootstrap_auc_ci([0, 0], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="too small"):
        bootstrap_auc_ci([1] + [0] * 60, np.arange(61.0), n_boot=10)
