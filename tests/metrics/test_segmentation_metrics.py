"""Dice/IoU scores, Dice losses and the accumulating metric, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.metrics import (
    BCEDiceLoss,
    DiceLoss,
    SegmentationMetrics,
    dice_score,
    false_positive_slice_rate,
    iou_score,
    soft_dice_loss,
)


def _t(values: list[list[float]]) -> torch.Tensor:
    """Two channels of one 1 x 4 image: shape (1, 2, 1, 4)."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 2, 1, 4)


PROB = _t([[0.9, 0.6, 0.2, 0.7], [0.1, 0.0, 0.8, 0.3]])
TRUE = _t([[1, 1, 1, 0], [0, 0, 1, 1]])
# channel 0: predicted {0,1,3}, true {0,1,2}: |P∩T| = 2, |P| = 3, |T| = 3
# channel 1: predicted {2},     true {2,3}:   |P∩T| = 1, |P| = 1, |T| = 2


def test_dice_and_iou_by_hand() -> None:
    assert dice_score(PROB, TRUE).tolist() == pytest.approx([4 / 6, 2 / 3])
    assert iou_score(PROB, TRUE).tolist() == pytest.approx([2 / 4, 1 / 2])
    assert float(dice_score(PROB, TRUE, pooled=True)) == pytest.approx(2 * 3 / (4 + 5))
    assert float(iou_score(PROB, TRUE, pooled=True)) == pytest.approx(3 / (4 + 5 - 3))


def test_perfect_prediction_scores_one() -> None:
    assert dice_score(TRUE, TRUE).tolist() == [1.0, 1.0]
    assert iou_score(TRUE, TRUE).tolist() == [1.0, 1.0]


def test_empty_versus_empty_is_one_and_empty_versus_tumor_is_zero() -> None:
    empty = torch.zeros(1, 2, 3, 3)
    assert dice_score(empty, empty).tolist() == [1.0, 1.0]
    assert iou_score(empty, empty, pooled=True).item() == 1.0
    tumor = torch.zeros(1, 2, 3, 3)
    tumor[0, 0, 1, 1] = 1
    assert dice_score(empty, tumor).tolist() == [0.0, 1.0]
    assert dice_score(tumor, empty).tolist() == [0.0, 1.0]


def test_threshold_is_strict() -> None:
    half = torch.full((1, 1, 1, 2), 0.5)
    truth = torch.ones(1, 1, 1, 2)
    assert dice_score(half, truth).item() == 0.0  # 0.5 is not > 0.5
    assert dice_score(half, truth, threshold=0.49).item() == 1.0


def test_shape_errors_say_what_was_received() -> None:
    with pytest.raises(InvalidInputError, match=r"\(1, 2, 1, 4\)"):
        dice_score(PROB, TRUE[:, :1])
    with pytest.raises(InvalidInputError, match="unsqueeze"):
        iou_score(PROB[0], TRUE[0])


def test_soft_dice_loss_by_hand() -> None:
    logits = torch.zeros(1, 2, 1, 4)  # sigmoid = 0.5 everywhere
    # Σp = 4, Σt = 5, Σpt = 2.5  ->  1 - (5 + 1) / (9 + 1)
    assert soft_dice_loss(logits, TRUE).item() == pytest.approx(1 - 6 / 10)
    assert DiceLoss()(logits, TRUE).item() == pytest.approx(0.4)
    assert DiceLoss(smooth=2.0)(logits, TRUE).item() == pytest.approx(1 - 7 / 11)


def test_soft_dice_loss_of_confident_correct_logits_is_near_zero() -> None:
    logits = (TRUE * 2 - 1) * 30
    assert soft_dice_loss(logits, TRUE).item() == pytest.approx(0.0, abs=1e-6)
    # Σp = 3 (the three wrong pixels), Σt = 5, Σpt = 0  ->  1 - 1 / 9
    assert soft_dice_loss(-logits, TRUE).item() == pytest.approx(1 - 1 / 9, abs=1e-6)


def test_dice_loss_has_gradients() -> None:
    logits = torch.zeros(1, 2, 1, 4, requires_grad=True)
    DiceLoss()(logits, TRUE).backward()
    assert logits.grad is not None
    # Increasing a logit where the target is 1 lowers the loss.
    assert bool((logits.grad[TRUE == 1] < 0).all())


def test_bce_dice_is_the_weighted_sum() -> None:
    logits = torch.tensor([0.3, -1.2, 2.0, 0.1, -0.4, 0.8, 1.5, -2.0]).reshape(1, 2, 1, 4)
    p = 1 / (1 + np.exp(-logits.numpy().ravel().astype(np.float64)))
    t = TRUE.numpy().ravel().astype(np.float64)
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    dice = 1 - (2 * np.sum(p * t) + 1) / (np.sum(p) + np.sum(t) + 1)
    loss = BCEDiceLoss(bce_weight=0.5, dice_weight=2.0)(logits, TRUE).item()
    assert loss == pytest.approx(0.5 * bce + 2.0 * dice, rel=1e-5)
    with pytest.raises(ConfigurationError):
        BCEDiceLoss(bce_weight=-1.0)


def test_metric_accumulates_counts_over_the_whole_set() -> None:
    metric = SegmentationMetrics()
    metric.update(PROB, TRUE)
    metric.update(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))  # empty vs empty
    metric.update(torch.zeros(1, 2, 1, 4), TRUE)  # all missed
    scores = metric.compute()
    # channel 0: inter 2, pred 3, true 3 + 3 -> dice 4/9, iou 2/7
    assert scores["dice_WT"] == pytest.approx(4 / 9)
    assert scores["iou_WT"] == pytest.approx(2 / 7)
    # channel 1: inter 1, pred 1, true 2 + 2 -> dice 2/5
    assert scores["dice_ET"] == pytest.approx(2 / 5)
    assert scores["dice_pooled"] == pytest.approx(2 * 3 / (4 + 10))
    assert scores["iou_pooled"] == pytest.approx(3 / (4 + 10 - 3))
    assert metric.n_images == 3
    # The same as one call on the concatenation.
    whole = torch.cat([PROB, torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4)])
    truth = torch.cat([TRUE, torch.zeros(1, 2, 1, 4), TRUE])
    assert scores["dice_WT"] == pytest.approx(dice_score(whole, truth)[0].item())
    metric.reset()
    assert metric.compute()["dice_pooled"] == 1.0
    assert metric.n_images == 0


def test_metric_rejects_wrong_channel_count() -> None:
    metric = SegmentationMetrics(channels=("WT",))
    with pytest.raises(InvalidInputError, match=r"got 2 channels, expected 1 \(WT\)"):
        metric.update(PROB, TRUE)


def _whole_and_merged_shards(
    batches: list[tuple[torch.Tensor, torch.Tensor]], shards: int
) -> tuple[SegmentationMetrics, SegmentationMetrics]:
    """A metric of every batch, and the sum of the states of metrics of shards of them."""
    whole = SegmentationMetrics()
    parts = [SegmentationMetrics() for _ in range(shards)]
    for index, (prob, truth) in enumerate(batches):
        whole.update(prob, truth)
        parts[index % shards].update(prob, truth)
    states = [part.state() for part in parts]
    merged = SegmentationMetrics()
    merged.load_state({key: sum(state[key] for state in states) for key in states[0]})  # type: ignore[misc]
    return whole, merged


@given(st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=1, max_value=4))
def test_metric_states_of_shards_add_up_to_the_whole_set(seed: int, shards: int) -> None:
    """Property: summing the states of metrics that each saw a shard of the batches, and
    loading the sum, gives the metric of every batch (what distributed validation does)."""
    generator = torch.Generator().manual_seed(seed)
    batches = [
        (
            torch.rand(2, 2, 4, 4, generator=generator),
            (torch.rand(2, 2, 4, 4, generator=generator) > 0.5).float(),
        )
        for _ in range(5)
    ]
    whole, merged = _whole_and_merged_shards(batches, shards)
    assert merged.compute() == whole.compute()
    assert merged.n_images == whole.n_images == 10
    assert all(torch.equal(merged.state()[k], v) for k, v in whole.state().items())


def test_metric_state_is_a_copy_and_checked_when_loaded() -> None:
    metric = SegmentationMetrics()
    metric.update(PROB, TRUE)
    state = metric.state()
    assert state["intersection"].tolist() == [2.0, 1.0]
    assert state["predicted"].tolist() == [3.0, 1.0]
    assert state["true"].tolist() == [3.0, 2.0]
    assert float(state["images"]) == 1.0
    assert all(v.dtype == torch.float64 for v in state.values())
    state["intersection"] += 5  # the caller's copy
    assert metric.state()["intersection"].tolist() == [2.0, 1.0]
    with pytest.raises(InvalidInputError, match=r"entries \['images', 'intersection'\]"):
        metric.load_state({"intersection": state["intersection"], "images": state["images"]})
    with pytest.raises(InvalidInputError, match=r"shape \(3,\), expected \(2,\)"):
        metric.load_state({**state, "true": torch.zeros(3)})
    with pytest.raises(InvalidInputError, match="whole numbers"):
        metric.load_state({**state, "predicted": torch.tensor([0.5, 1.0])})
    with pytest.raises(InvalidInputError, match="whole numbers"):
        metric.load_state({**state, "images": torch.tensor(-1.0)})
    metric.load_state(metric.state())  # a round trip changes nothing
    assert metric.compute()["dice_WT"] == pytest.approx(4 / 6)


@given(
    st.integers(min_value=0, max_value=2**31 - 1),
    st.floats(min_value=0.05, max_value=0.95),
)
def test_dice_and_iou_agree(seed: int, threshold: float) -> None:
    """Property: Dice = 2 IoU / (1 + IoU), both in [0, 1], inputs not mutated."""
    generator = torch.Generator().manual_seed(seed)
    prob = torch.rand(2, 2, 5, 5, generator=generator)
    truth = (torch.rand(2, 2, 5, 5, generator=generator) > 0.6).float()
    before = prob.clone()
    dice = dice_score(prob, truth, threshold=threshold)
    iou = iou_score(prob, truth, threshold=threshold)
    assert torch.equal(prob, before)
    assert bool(((dice >= 0) & (dice <= 1)).all())
    for d, i in zip(dice.tolist(), iou.tolist(), strict=True):
        assert math.isclose(d, 2 * i / (1 + i), abs_tol=1e-12)


# -- false-positive slices ------------------------------------------------------------


@st.composite
def stacks(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities and targets of a few 3 x 3 two-channel slices, many of them empty."""
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    prob = torch.rand(n, 2, 3, 3, generator=generator) ** 3  # mostly below 0.5
    truth = (torch.rand(n, 2, 3, 3, generator=generator) > 0.8).float()
    empty = torch.tensor(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    truth[empty] = 0.0  # whole slices without tumor
    return prob, truth


def _brute_force(prob: torch.Tensor, truth: torch.Tensor, pooled: bool) -> list[float]:
    predicted = (prob.numpy() > 0.5).reshape(prob.shape[0], prob.shape[1], -1).any(axis=2)
    present = (truth.numpy() > 0.5).reshape(truth.shape[0], truth.shape[1], -1).any(axis=2)
    if pooled:
        predicted, present = predicted.any(axis=1)[:, None], present.any(axis=1)[:, None]
    rates = []
    for c in range(predicted.shape[1]):
        free = [i for i in range(predicted.shape[0]) if not present[i, c]]
        rates.append(sum(predicted[i, c] for i in free) / len(free) if free else math.nan)
    return rates


@given(stacks(), st.booleans())
def test_false_positive_slice_rate_counts_tumor_free_slices(
    stack: tuple[torch.Tensor, torch.Tensor], pooled: bool
) -> None:
    prob, truth = stack
    got = false_positive_slice_rate(prob, truth, pooled=pooled).reshape(-1).tolist()
    expected = _brute_force(prob, truth, pooled)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, abs_tol=1e-12)


@given(st.lists(stacks(), min_size=1, max_size=4), st.integers(1, 3))
def test_false_positive_counts_add_up_over_batches_and_shards(
    batches: list[tuple[torch.Tensor, torch.Tensor]], shards: int
) -> None:
    whole, merged = _whole_and_merged_shards(batches, shards)
    assert merged.state().keys() == whole.state().keys()
    assert all(torch.equal(merged.state()[k], v) for k, v in whole.state().items())
    prob = torch.cat([b[0] for b in batches])
    truth = torch.cat([b[1] for b in batches])
    scores = whole.compute()
    for channel, expected in zip(("WT", "ET"), _brute_force(prob, truth, False), strict=True):
        if math.isnan(expected):
            assert f"fp_slice_rate_{channel}" not in scores  # nothing to measure: no key
        else:
            assert scores[f"fp_slice_rate_{channel}"] == pytest.approx(expected, abs=1e-12)
    (pooled,) = _brute_force(prob, truth, True)
    assert ("fp_slice_rate_pooled" in scores) == (not math.isnan(pooled))


def test_false_positive_slice_rate_by_hand() -> None:
    truth = torch.zeros(4, 2, 2, 2)
    truth[0, 0, 0, 0] = 1  # slice 0: WT only
    truth[1, :, 1, 1] = 1  # slice 1: WT and ET
    prob = torch.zeros(4, 2, 2, 2)
    prob[0, 1, 0, 0] = 0.9  # ET predicted on slice 0, which has no ET: a false ET slice
    prob[2, 0, 1, 0] = 0.7  # WT on slice 2, empty: a false WT slice
    prob[3, 1, 0, 1] = 0.5  # exactly the threshold: background
    metric = SegmentationMetrics()
    metric.update(prob, truth)
    scores = metric.compute()
    assert scores["fp_slice_rate_WT"] == pytest.approx(1 / 2)  # slices 2, 3 free; 2 predicted
    assert scores["fp_slice_rate_ET"] == pytest.approx(1 / 3)  # slices 0, 2, 3 free; 0
    assert scores["fp_slice_rate_pooled"] == pytest.approx(1 / 2)  # slices 2, 3 free; 2
    state = metric.state()
    assert state["tumor_free"].tolist() == [2.0, 3.0]
    assert state["false_positive"].tolist() == [1.0, 1.0]
    assert (float(state["tumor_free_pooled"]), float(state["false_positive_pooled"])) == (2, 1)
    with pytest.raises(InvalidInputError, match=r"shape \(2,\), expected \(\)"):
        metric.load_state({**state, "tumor_free_pooled": torch.zeros(2)})
    only_tumor = SegmentationMetrics()
    only_tumor.update(prob[:2], torch.ones(2, 2, 2, 2))
    assert not any(k.startswith("fp_slice_rate") for k in only_tumor.compute())
    assert math.isnan(float(false_positive_slice_rate(prob[:2], torch.ones(2, 2, 2, 2))[0]))
