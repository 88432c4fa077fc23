"""Training curves of a run folder: losses and validation scores per epoch.

Reads the ``metrics.jsonl`` that both training loops write (one JSON object per epoch)
and draws two panels: the training and validation losses, and the validation scores
(``dice_*``, ``iou_*`` and ``fp_slice_rate_*`` for stage 1, ``chunk_auc`` and
``patient_auc`` for stage 2).
The best epoch (the checkpoint in ``best.safetensors``) is marked on both, and epochs
trained with a frozen encoder or backbone are shaded. Needs matplotlib (the ``plots``
extra).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import CorruptFileError, InputNotFoundError, InvalidInputError
from radiogenomics.viz._figure import (
    FIGURE_SUFFIXES,
    check_suffix,
    new_figure,
    require_matplotlib,
    save_figure,
)

__all__ = ["History", "best_epoch", "plot_training_curves", "read_history"]

History = Sequence[Mapping[str, Any]]
"""The epochs of a training run, one mapping per epoch (the lines of ``metrics.jsonl``)."""

_LOSSES: tuple[tuple[str, str], ...] = (("train_loss", "training"), ("val_loss", "validation"))
_FROZEN: tuple[tuple[str, str], ...] = (
    ("encoder_frozen", "frozen encoder"),
    ("backbone_frozen", "frozen backbone"),
)


def read_history(source: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The epochs of a run's ``metrics.jsonl``, in file order.

    Args:
        source: A run folder (holding ``metrics.jsonl``) or the file itself.

    Returns:
        One dict per non-blank line.

    Raises:
        InputNotFoundError: No such file.
        CorruptFileError: A line is not a JSON object.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise InputNotFoundError(
            "no metrics.jsonl; pass a run folder written by train-segmentation or "
            "train-classification (for --mri-type all, one of its MRI-type folders).",
            path=path,
        )
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorruptFileError(f"line {number} is not JSON ({error}).", path=path) from None
        if not isinstance(line, dict):
            raise CorruptFileError(
                f"line {number} is {type(line).__name__}, not a JSON object.", path=path
            )
        lines.append(line)
    return lines


def _number(value: object) -> float:
    """A finite or NaN float; ``None``, flags and text count as missing (NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    return float(value)


def _by_epoch(history: History) -> list[tuple[int, Mapping[str, Any]]]:
    """``(epoch, line)`` sorted by epoch; a repeated epoch keeps its last line."""
    lines: dict[int, Mapping[str, Any]] = {}
    for position, line in enumerate(history, start=1):
        if not isinstance(line, Mapping):
            raise InvalidInputError(
                f"history entry {position} is {type(line).__name__}; expected a mapping "
                "(one JSON object per epoch, as in metrics.jsonl)."
            )
        epoch = _number(line.get("epoch"))
        lines[int(epoch) if math.isfinite(epoch) else position] = line
    return sorted(lines.items(), key=lambda item: item[0])


def best_epoch(history: History) -> int | None:
    """The epoch of ``best.safetensors``: the last one flagged ``"best"``.

    Without flags, the first epoch with the lowest finite ``val_loss`` (an epoch counts
    as better only when strictly lower, as in training).

    Args:
        history: The epochs (see :func:`read_history`).

    Returns:
        The epoch (1-based), or ``None`` when no epoch has a validation loss.
    """
    epochs = _by_epoch(history)
    flagged = [epoch for epoch, line in epochs if line.get("best") is True]
    if flagged:
        return flagged[-1]
    losses = [(_number(line.get("val_loss")), epoch) for epoch, line in epochs]
    finite = [(loss, epoch) for loss, epoch in losses if math.isfinite(loss)]
    if not finite:
        return None
    lowest = min(loss for loss, _ in finite)
    return next(epoch for loss, epoch in finite if loss == lowest)


_FP_RATE = "fp_slice_rate_"


def _is_score(key: str) -> bool:
    return key.startswith(("dice_", "iou_", _FP_RATE)) or key.endswith("_auc")


def _series(epochs: Sequence[tuple[int, Mapping[str, Any]]], key: str) -> npt.NDArray[np.float64]:
    return np.array([_number(line.get(key)) for _, line in epochs], dtype=np.float64)


def _shade_frozen(axes: Any, epochs: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    for key, label in _FROZEN:
        frozen = [epoch for epoch, line in epochs if line.get(key) is True]
        if frozen:
            axes.axvspan(min(frozen) - 0.5, max(frozen) + 0.5, color="0.85", zorder=0, label=label)


def plot_training_curves(
    run_dir_or_history: str | os.PathLike[str] | History,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Draw a run's loss curves and validation scores, with its best epoch marked.

    Left panel: ``train_loss`` and ``val_loss`` per epoch. Right panel: every key that
    starts with ``dice_``, ``iou_`` (IoU dashed) or ``fp_slice_rate_`` (the
    false-positive slice rate, dotted) or ends with ``_auc``, with the 0.5
    chance level when there is an AUC. Missing values (``null``, ``NaN``, a key absent
    from some epochs) leave gaps; other keys (``lr``, ``seconds`` ...) are ignored.

    Args:
        run_dir_or_history: A run folder, its ``metrics.jsonl``, or the history itself
            (e.g. ``TrainResult.history``).
        path: The image to write: ``.png``, ``.pdf`` or ``.svg`` (written atomically).
        title: The figure title; default: the run folder's name and its best epoch.

    Returns:
        ``path``.

    Raises:
        MissingDependencyError: matplotlib is not installed.
        ConfigurationError: ``path`` has another suffix.
        InputNotFoundError, CorruptFileError: As :func:`read_history`.
        InvalidInputError: The history has no epoch with a loss or a score.

    Example:
        >>> plot_training_curves("runs/seg", "runs/seg/curves.png")  # doctest: +SKIP
        PosixPath('runs/seg/curves.png')
    """
    target = check_suffix(path, FIGURE_SUFFIXES)
    require_matplotlib("plot_training_curves")
    if isinstance(run_dir_or_history, str | os.PathLike):
        source = Path(run_dir_or_history)
        history: History = read_history(source)
        name = (source if source.is_dir() else source.parent).name
    else:
        history, name = run_dir_or_history, "training run"
    epochs = _by_epoch(history)
    x = np.array([epoch for epoch, _ in epochs], dtype=np.int64)
    losses = {key: _series(epochs, key) for key, _ in _LOSSES}
    score_keys = list(dict.fromkeys(k for _, line in epochs for k in line if _is_score(k)))
    scores = {key: _series(epochs, key) for key in score_keys}
    scores = {key: values for key, values in scores.items() if np.isfinite(values).any()}
    if not any(np.isfinite(v).any() for v in (*losses.values(), *scores.values())):
        raise InvalidInputError(
            f"the history ({len(epochs)} epochs) has no finite train_loss, val_loss or "
            "validation score to plot."
        )
    best = best_epoch(history)

    from matplotlib.ticker import MaxNLocator

    figure = new_figure("plot_training_curves", width=11 if scores else 6, height=4.2)
    panels = figure.subplots(1, 2 if scores else 1, squeeze=False)[0]
    marker = "o" if len(x) <= 30 else None
    loss_axes = panels[0]
    _shade_frozen(loss_axes, epochs)
    for key, label in _LOSSES:
        if np.isfinite(losses[key]).any():
            loss_axes.plot(x, losses[key], marker=marker, markersize=3, label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="losses")
    if scores:
        score_axes = panels[1]
        _shade_frozen(score_axes, epochs)
        colours: dict[str, str] = {}
        for key, values in scores.items():
            family, _, channel = key.partition("_")
            if key.startswith(_FP_RATE):
                family, channel = "fp", key[len(_FP_RATE) :]
            group = key if key.endswith("_auc") else channel
            colour = colours.setdefault(group, f"C{len(colours) % 10}")
            style = {"iou": "--", "fp": ":"}.get(family, "-")
            score_axes.plot(x, values, style, color=colour, marker=marker, markersize=3, label=key)
        if any(key.endswith("_auc") for key in scores):
            score_axes.axhline(0.5, color="0.5", linestyle=":", linewidth=1, label="chance")
        values = np.concatenate(list(scores.values()))
        finite = values[np.isfinite(values)]
        if finite.min() >= 0 and finite.max() <= 1:
            score_axes.set_ylim(-0.02, 1.02)
        score_axes.set(xlabel="epoch", ylabel="score", title="validation scores")
    headline = name
    if best is not None:
        row = int(np.flatnonzero(x == best)[0])
        val_loss = losses["val_loss"][row]
        for axes in panels:
            axes.axvline(best, color="0.3", linestyle="--", linewidth=1, label=f"best: {best}")
        if math.isfinite(val_loss):
            loss_axes.plot([best], [val_loss], "*", color="C1", markersize=12, zorder=3)
            headline += f": best epoch {best} (validation loss {val_loss:.4f})"
        else:
            headline += f": best epoch {best}"
    for axes in panels:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(title if title is not None else headline)
    return save_figure(figure, target)
