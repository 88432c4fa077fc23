"""Stage 1 losses and metrics: soft Dice losses, Dice, IoU and false-positive slices.

Conventions:

* Metrics take *probabilities* (after the sigmoid) and binary targets; a pixel is
  foreground when its probability is **strictly greater** than ``threshold`` (0.5), as in
  the reference's IoU metric.
* Counts are summed over every pixel of every image before dividing ("dataset-level" or
  "micro" Dice): one tiny tumor weighs as much as its pixels, not as much as a slice.
  An empty prediction of an empty target scores 1.0 (there was nothing to find and
  nothing was found), so a score is always defined.
* "Pooled" means all channels' pixels counted together, as the reference's Dice loss
  and IoU metric do.
* A *tumor-free* slice of a channel is one whose target has no foreground pixel in that
  channel (pooled: in any channel); the *false-positive slice rate* is the fraction of
  those with any predicted pixel. It is what stage 2 suffers from: a false mask on a
  tumor-free slice makes a frame. With no tumor-free slice it is undefined (NaN), never
  0.
* Losses take *logits* (the model's raw output).

This module imports torch; ``import radiogenomics`` does not import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from radiogenomics._options import check_range
from radiogenomics.errors import InvalidInputError

__all__ = [
    "BCEDiceLoss",
    "DiceLoss",
    "SegmentationMetrics",
    "dice_score",
    "false_positive_slice_rate",
    "iou_score",
    "soft_dice_loss",
]


def _check_pair(prediction: torch.Tensor, target: torch.Tensor) -> None:
    if prediction.shape != target.shape:
        raise InvalidInputError(
            f"prediction shape {tuple(prediction.shape)} differs from target shape "
            f"{tuple(target.shape)}; both must be (N, C, H, W)."
        )
    if prediction.ndim != 4:
        raise InvalidInputError(
            f"expected tensors of shape (N, C, H, W), got {prediction.ndim} dimensions "
            f"{tuple(prediction.shape)}; add a batch axis with .unsqueeze(0)."
        )


def _counts(
    probabilities: torch.Tensor, target: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel (intersection, predicted, true) pixel counts, as float64 (C,)."""
    _check_pair(probabilities, target)
    predicted = probabilities.detach() > threshold
    truth = target.detach() > 0.5
    dims = (0, 2, 3)
    intersection = (predicted & truth).sum(dim=dims).double()
    return intersection, predicted.sum(dim=dims).double(), truth.sum(dim=dims).double()


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, with 0 / 0 defined as 1 (empty vs empty)."""
    return torch.where(
        denominator > 0, numerator / denominator.clamp_min(1), torch.ones_like(denominator)
    )


def dice_score(
    probabilities: torch.Tensor,
    target: torch.Tensor,
    *,
    threshold: float = 0.5,
    pooled: bool = False,
) -> torch.Tensor:
    """Dice coefficient ``2 |P ∩ T| / (|P| + |T|)`` of thresholded probabilities.

    Args:
        probabilities: Predicted probabilities in [0, 1].
        target: Binary ground truth (values above 0.5 count as foreground).
        threshold: A pixel is predicted foreground when its probability is strictly
            greater than this.
        pooled: Count all channels together (one score) instead of one per channel.

    Returns:
        float64 scores: shape (C,) per channel, or a scalar when ``pooled``. Empty
        prediction and empty target give 1.0.

    Raises:
        InvalidInputError: The shapes differ or are not 4-D.

    Shape:
        probabilities, target: (N, C, H, W).

    Example:
        >>> import torch
        >>> t = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])
        >>> float(dice_score(torch.tensor([[[[0.9, 0.2, 0.8, 0.1]]]]), t)[0])
        0.5
    """
    inter, pred, true = _counts(probabilities, target, threshold)
    if pooled:
        inter, pred, true = inter.sum(), pred.sum(), true.sum()
    return _ratio(2 * inter, pred + true)


def iou_score(
    probabilities: torch.Tensor,
    target: torch.Tensor,
    *,
    threshold: float = 0.5,
    pooled: bool = False,
) -> torch.Tensor:
    """Intersection over union ``|P ∩ T| / |P ∪ T|`` of thresholded probabilities.

    Arguments, conventions and errors as :func:`dice_score`.

    Returns:
        float64 scores: shape (C,) per channel, or a scalar when ``pooled``.

    Shape:
        probabilities, target: (N, C, H, W).
    """
    inter, pred, true = _counts(probabilities, target, threshold)
    if pooled:
        inter, pred, true = inter.sum(), pred.sum(), true.sum()
    return _ratio(inter, pred + true - inter)


def _slice_counts(
    probabilities: torch.Tensor, target: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tumor-free slices and those of them with a predicted pixel, as float64 counts.

    Returns:
        ``(free, false_positive, free_pooled, false_positive_pooled)``: per channel
        (C,), then over all channels ().
    """
    _check_pair(probabilities, target)
    predicted = (probabilities.detach() > threshold).flatten(2).any(dim=2)  # (N, C)
    present = (target.detach() > 0.5).flatten(2).any(dim=2)  # (N, C)
    free = ~present
    free_pooled = ~present.any(dim=1)  # (N,)
    return (
        free.sum(dim=0).double(),
        (free & predicted).sum(dim=0).double(),
        free_pooled.sum().double(),
        (free_pooled & predicted.any(dim=1)).sum().double(),
    )


def false_positive_slice_rate(
    probabilities: torch.Tensor,
    target: torch.Tensor,
    *,
    threshold: float = 0.5,
    pooled: bool = False,
) -> torch.Tensor:
    """The fraction of tumor-free slices on which any pixel is predicted foreground.

    A slice is tumor-free in a channel when its target has no foreground pixel there
    (``pooled``: in no channel, and then any predicted pixel of any channel counts).

    Args:
        probabilities: Predicted probabilities in [0, 1].
        target: Binary ground truth (values above 0.5 count as foreground).
        threshold: A pixel is predicted foreground when its probability is strictly
            greater than this.
        pooled: One rate over all channels instead of one per channel.

    Returns:
        float64 rates in [0, 1]: shape (C,), or a scalar when ``pooled``; NaN where
        there is no tumor-free slice.

    Shape:
        probabilities, target: (N, C, H, W).

    Example:
        >>> import torch
        >>> target = torch.zeros(3, 1, 2, 2); target[0, 0, 0, 0] = 1  # slices 1, 2 free
        >>> probabilities = torch.zeros(3, 1, 2, 2); probabilities[1, 0, 1, 1] = 0.9
        >>> false_positive_slice_rate(probabilities, target).tolist()
        [0.5]
    """
    free, false_positive, free_pooled, fp_pooled = _slice_counts(probabilities, target, threshold)
    if pooled:
        free, false_positive = free_pooled, fp_pooled
    return _rate(false_positive, free)


def _rate(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, NaN where the denominator is 0 (nothing to measure)."""
    return torch.where(
        denominator > 0,
        numerator / denominator.clamp_min(1),
        torch.full_like(denominator, float("nan")),
    )


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, *, smooth: float = 1.0
) -> torch.Tensor:
    """Soft binary Dice loss over all pixels of all channels pooled (the reference's).

    ``1 - (2 Σ p t + smooth) / (Σ p + Σ t + smooth)`` with ``p = sigmoid(logits)``, the sums
    running over the whole batch and both channels.

    Args:
        logits: The model's raw output.
        target: Binary ground truth (float).
        smooth: Added to numerator and denominator (1, as the reference).

    Returns:
        A scalar tensor in [0, 1), differentiable in ``logits``.

    Shape:
        logits, target: (N, C, H, W).
    """
    _check_pair(logits, target)
    probabilities = torch.sigmoid(logits.float())
    target = target.float()
    intersection = (probabilities * target).sum()
    total = probabilities.sum() + target.sum()
    return 1 - (2 * intersection + smooth) / (total + smooth)


class DiceLoss(nn.Module):
    """:func:`soft_dice_loss` as a module (the reference's stage 1 loss).

    Args:
        smooth: Smoothing term, strictly positive.

    Shape:
        logits, target: (N, C, H, W); output: scalar.
    """

    def __init__(self, *, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = float(check_range("smooth", smooth, low=0.0, low_inclusive=False))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of a batch of logits against binary targets."""
        return soft_dice_loss(logits, target, smooth=self.smooth)

    def extra_repr(self) -> str:
        return "" if self.smooth == 1.0 else f"smooth={self.smooth}"


class BCEDiceLoss(nn.Module):
    """``bce_weight * BCEWithLogits + dice_weight * Dice`` (an option, not the reference).

    Args:
        bce_weight: Weight of the mean binary cross-entropy.
        dice_weight: Weight of :func:`soft_dice_loss`.
        smooth: Dice smoothing term.

    Shape:
        logits, target: (N, C, H, W); output: scalar.
    """

    def __init__(
        self, *, bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1.0
    ) -> None:
        super().__init__()
        self.bce_weight = float(check_range("bce_weight", bce_weight, low=0.0))
        self.dice_weight = float(check_range("dice_weight", dice_weight, low=0.0))
        self.smooth = float(check_range("smooth", smooth, low=0.0, low_inclusive=False))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of a batch of logits against binary targets."""
        _check_pair(logits, target)
        bce = nn.functional.binary_cross_entropy_with_logits(logits.float(), target.float())
        dice = soft_dice_loss(logits, target, smooth=self.smooth)
        return self.bce_weight * bce + self.dice_weight * dice

    def extra_repr(self) -> str:
        return f"bce_weight={self.bce_weight}, dice_weight={self.dice_weight}"


_SLICE_COUNTS = ("tumor_free", "false_positive")
_SCALARS = ("images", "tumor_free_pooled", "false_positive_pooled")


class SegmentationMetrics:
    """Dataset-level Dice, IoU and false-positive slice rate, batch by batch.

    Intersections and sizes are summed over every batch given to :meth:`update`, so
    :meth:`compute` gives the Dice of the whole held-out set, not a mean of batch scores;
    so are the tumor-free slices and those of them with a predicted pixel (see
    :func:`false_positive_slice_rate`). The sums are whole numbers: :meth:`state` gives
    them and :meth:`load_state` takes them back, so metrics filled on separate shards of a
    set (processes, workers) add up to the metric of the whole set (sum each entry, then
    :meth:`load_state`).

    Args:
        channels: Names of the channels, in order (``("WT", "ET")``).
        threshold: Foreground when the probability is strictly greater than this.

    Example:
        >>> import torch
        >>> metric = SegmentationMetrics(channels=("WT",))
        >>> metric.update(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        >>> metric.compute()["dice_WT"]
        1.0
    """

    def __init__(self, *, channels: Sequence[str] = ("WT", "ET"), threshold: float = 0.5) -> None:
        if not channels:
            raise InvalidInputError("channels must name at least one channel.")
        self.channels = tuple(channels)
        self.threshold = float(check_range("threshold", threshold, low=0.0, high=1.0))
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        size = len(self.channels)
        self._inter = torch.zeros(size, dtype=torch.float64)
        self._pred = torch.zeros(size, dtype=torch.float64)
        self._true = torch.zeros(size, dtype=torch.float64)
        self._free = torch.zeros(size, dtype=torch.float64)
        self._false_positive = torch.zeros(size, dtype=torch.float64)
        self._free_pooled = torch.zeros((), dtype=torch.float64)
        self._false_positive_pooled = torch.zeros((), dtype=torch.float64)
        self.n_images = 0

    def update(self, probabilities: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch.

        Raises:
            InvalidInputError: Shapes differ, or the channel count is not ``len(channels)``.

        Shape:
            probabilities, target: (N, C, H, W).
        """
        if probabilities.ndim == 4 and probabilities.shape[1] != len(self.channels):
            raise InvalidInputError(
                f"got {probabilities.shape[1]} channels, expected {len(self.channels)} "
                f"({', '.join(self.channels)})."
            )
        inter, pred, true = _counts(probabilities, target, self.threshold)
        self._inter += inter.cpu()
        self._pred += pred.cpu()
        self._true += true.cpu()
        free, false_positive, free_pooled, fp_pooled = _slice_counts(
            probabilities, target, self.threshold
        )
        self._free += free.cpu()
        self._false_positive += false_positive.cpu()
        self._free_pooled += free_pooled.cpu()
        self._false_positive_pooled += fp_pooled.cpu()
        self.n_images += int(probabilities.shape[0])

    def state(self) -> dict[str, torch.Tensor]:
        """The sums so far, as new float64 tensors (what :meth:`load_state` takes).

        Returns:
            ``intersection``, ``predicted`` and ``true``: per channel, the pixels
            predicted and true, predicted, and true; ``tumor_free`` and
            ``false_positive``: per channel, the tumor-free images and those of them
            with a predicted pixel; ``tumor_free_pooled`` and ``false_positive_pooled``:
            the same over all channels; ``images``: the images seen.

        Shape:
            intersection, predicted, true, tumor_free, false_positive: (C,);
            tumor_free_pooled, false_positive_pooled, images: ().

        Example:
            >>> import torch
            >>> shards = [SegmentationMetrics(channels=("WT",)) for _ in range(2)]
            >>> shards[0].update(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
            >>> shards[1].update(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
            >>> states = [s.state() for s in shards]
            >>> whole = SegmentationMetrics(channels=("WT",))
            >>> whole.load_state({k: states[0][k] + states[1][k] for k in states[0]})
            >>> whole.compute()["dice_WT"], whole.n_images
            (0.6666666666666666, 2)
        """
        return {
            "intersection": self._inter.clone(),
            "predicted": self._pred.clone(),
            "true": self._true.clone(),
            "tumor_free": self._free.clone(),
            "false_positive": self._false_positive.clone(),
            "tumor_free_pooled": self._free_pooled.clone(),
            "false_positive_pooled": self._false_positive_pooled.clone(),
            "images": torch.tensor(float(self.n_images), dtype=torch.float64),
        }

    def load_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Replace the sums with ``state`` (as :meth:`state` gives, e.g. summed over
        processes); ``state`` is copied, not kept.

        Raises:
            InvalidInputError: An entry is missing or unknown, a shape is not (C,) (or
                () for ``images`` and the pooled counts), or a sum is negative or not a
                whole number.
        """
        expected = {"intersection", "predicted", "true", *_SLICE_COUNTS, *_SCALARS}
        if set(state) != expected:
            raise InvalidInputError(
                f"a metric state has the entries {sorted(state)}, expected {sorted(expected)} "
                "(as SegmentationMetrics.state() gives)."
            )
        size = len(self.channels)
        sums: dict[str, torch.Tensor] = {}
        for name, value in state.items():
            want = () if name in _SCALARS else (size,)
            tensor = torch.as_tensor(value).detach().to("cpu", torch.float64).clone()
            if tuple(tensor.shape) != want:
                raise InvalidInputError(
                    f"the metric state's {name!r} has shape {tuple(tensor.shape)}, expected "
                    f"{want} ({size} channels: {', '.join(self.channels)})."
                )
            if bool((tensor < 0).any()) or not bool((tensor == tensor.round()).all()):
                raise InvalidInputError(
                    f"the metric state's {name!r} holds {tensor.tolist()}; sums of pixels "
                    "and images are whole numbers, at least 0."
                )
            sums[name] = tensor
        self._inter, self._pred, self._true = sums["intersection"], sums["predicted"], sums["true"]
        self._free, self._false_positive = sums["tumor_free"], sums["false_positive"]
        self._free_pooled = sums["tumor_free_pooled"]
        self._false_positive_pooled = sums["false_positive_pooled"]
        self.n_images = int(sums["images"])

    def compute(self) -> dict[str, float]:
        """The scores so far: ``dice_<channel>``, ``dice_pooled``, ``iou_<channel>``, ...

        Keys: ``dice_<channel>`` and ``iou_<channel>`` per channel, ``dice_pooled`` and
        ``iou_pooled``. With no batch seen, every score is 1.0 (empty versus empty).
        ``fp_slice_rate_<channel>`` (and ``fp_slice_rate_pooled``) is there only when
        some image seen was tumor-free in that channel (in every channel): a rate of
        nothing is not reported.
        """
        dice = _ratio(2 * self._inter, self._pred + self._true)
        iou = _ratio(self._inter, self._pred + self._true - self._inter)
        inter, pred, true = self._inter.sum(), self._pred.sum(), self._true.sum()
        scores: dict[str, float] = {}
        for name, values, pooled in (
            ("dice", dice, _ratio(2 * inter, pred + true)),
            ("iou", iou, _ratio(inter, pred + true - inter)),
        ):
            for channel, value in zip(self.channels, values.tolist(), strict=True):
                scores[f"{name}_{channel}"] = float(value)
            scores[f"{name}_pooled"] = float(pooled)
        rates = _rate(self._false_positive, self._free)
        for channel, free, value in zip(
            self.channels, self._free.tolist(), rates.tolist(), strict=True
        ):
            if free > 0:
                scores[f"fp_slice_rate_{channel}"] = float(value)
        if float(self._free_pooled) > 0:
            scores["fp_slice_rate_pooled"] = float(
                _rate(self._false_positive_pooled, self._free_pooled)
            )
        return scores

    def __repr__(self) -> str:
        return f"SegmentationMetrics(channels={self.channels!r}, images={self.n_images})"
