"""ROC curves of patient probabilities, with the AUC and its bootstrap interval.

:func:`plot_roc` draws any labelled scores (e.g. a submission against the labels of the
patients it covers, or a stage 2 run's held-out patients scored by
:func:`~radiogenomics.evaluation.held_out_predictions`); :func:`plot_fold_rocs` the
curves of a cross-validation's folds. Plots need matplotlib (the ``plots`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radiogenomics.errors import (
    ConfigurationError,
    InvalidInputError,
)
from radiogenomics.viz._figure import (
    FIGURE_SUFFIXES,
    check_suffix,
    new_figure,
    require_matplotlib,
    save_figure,
)

__all__ = ["plot_fold_rocs", "plot_roc"]


def plot_roc(
    truth: Sequence[int] | npt.NDArray[Any],
    scores: Sequence[float] | npt.NDArray[Any],
    path: str | os.PathLike[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Draw the ROC curve of scores against 0/1 labels, with the AUC in the legend.

    The AUC is :func:`~radiogenomics.inference.roc_auc`; its 95 % interval is the
    percentile bootstrap of :func:`~radiogenomics.inference.bootstrap_auc_ci` (patients
    resampled ``n_boot`` times). When too few resamples hold both classes (a handful of
    patients), the legend says the interval is unavailable instead of failing.

    Args:
        truth: 0/1 labels, one per patient.
        scores: Their probabilities (or any score, higher meaning class 1).
        path: The image to write: ``.png``, ``.pdf`` or ``.svg`` (written atomically).
        n_boot: Bootstrap resamples (at least 10); 0 draws no interval.
        seed: Seed of the resampling.
        title: The plot title; default: the number of patients and positives.

    Returns:
        ``path``.

    Raises:
        MissingDependencyError: matplotlib is not installed.
        LabelError: Labels other than 0/1, or only one class.
        InvalidInputError: Lengths differ, or a score is not finite.
        ConfigurationError: ``path`` has another suffix, or ``n_boot`` is invalid.

    Shape:
        - truth, scores: (N,).

    Example:
        >>> plot_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], "roc.png")  # doctest: +SKIP
        PosixPath('roc.png')
    """
    target = _check_plot(path, n_boot, "plot_roc")
    y_true, y_score, label = _pooled_curve_label(truth, scores, n_boot=n_boot, seed=seed)
    figure, axes = _roc_figure("plot_roc")
    _draw_curve(axes, y_true, y_score, label=label, color="C0", width=2)
    positives = int(y_true.sum())
    return _finish(
        figure,
        axes,
        target,
        title
        if title is not None
        else f"ROC: {y_true.size} patients ({positives} positive, "
        f"{y_true.size - positives} negative)",
    )


def plot_fold_rocs(
    truth: Sequence[int] | npt.NDArray[Any],
    scores: Sequence[float] | npt.NDArray[Any],
    folds: Sequence[int] | npt.NDArray[Any],
    path: str | os.PathLike[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Draw the ROC curve of each fold's out-of-fold scores and of all of them pooled.

    Each fold's curve is thin, with its AUC in the legend (a fold whose patients have
    one label has no curve and says so); the pooled curve is thick, with its AUC and
    bootstrap interval as in :func:`plot_roc`.

    Args:
        truth: 0/1 labels, one per patient.
        scores: Their out-of-fold probabilities.
        folds: The fold of each patient.
        path: The image to write: ``.png``, ``.pdf`` or ``.svg`` (written atomically).
        n_boot: Bootstrap resamples of the pooled interval (at least 10); 0: none.
        seed: Seed of the resampling.
        title: The plot title; default: the number of patients and folds.

    Returns:
        ``path``.

    Raises:
        MissingDependencyError: matplotlib is not installed.
        LabelError: Labels other than 0/1, or only one class in all.
        InvalidInputError: Lengths differ, or a score is not finite.
        ConfigurationError: ``path`` has another suffix, or ``n_boot`` is invalid.

    Shape:
        - truth, scores, folds: (N,).
    """
    target = _check_plot(path, n_boot, "plot_fold_rocs")
    y_true, y_score, label = _pooled_curve_label(truth, scores, n_boot=n_boot, seed=seed)
    fold_of = np.asarray(folds).reshape(-1)
    if fold_of.shape != y_true.shape:
        raise InvalidInputError(
            f"got {fold_of.size} folds for {y_true.size} patients; expected one fold each."
        )
    from radiogenomics.inference.aggregate import roc_auc

    figure, axes = _roc_figure("plot_fold_rocs")
    values = sorted(set(fold_of.tolist()))
    for number, fold in enumerate(values):
        chosen = fold_of == fold
        if np.unique(y_true[chosen]).size < 2:
            axes.plot([], [], " ", label=f"fold {fold}: one class, no curve")
            continue
        auc = roc_auc(y_true[chosen], y_score[chosen])
        _draw_curve(
            axes,
            y_true[chosen],
            y_score[chosen],
            label=f"fold {fold}: AUC {auc:.3f} ({int(chosen.sum())} patients)",
            color=f"C{number % 9 + 1}",
            width=1,
        )
    _draw_curve(axes, y_true, y_score, label=f"pooled: {label}", color="C0", width=2.5)
    default = f"out-of-fold ROC: {y_true.size} patients, {len(values)} folds"
    return _finish(figure, axes, target, title if title is not None else default)


def _check_plot(path: str | os.PathLike[str], n_boot: int, purpose: str) -> Path:
    target = check_suffix(path, FIGURE_SUFFIXES)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ConfigurationError(
            f"n_boot={n_boot!r} must be 0 (no interval) or a whole number, at least 10."
        )
    require_matplotlib(purpose)
    return target


def _pooled_curve_label(
    truth: Sequence[int] | npt.NDArray[Any],
    scores: Sequence[float] | npt.NDArray[Any],
    *,
    n_boot: int,
    seed: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], str]:
    """The labels and scores as arrays (validated), and the legend: AUC and interval."""
    from radiogenomics.inference.aggregate import bootstrap_auc_ci, roc_auc

    auc = roc_auc(truth, scores)  # validates labels and scores
    label = f"AUC {auc:.3f}"
    if n_boot:
        try:
            interval = bootstrap_auc_ci(truth, scores, n_boot=n_boot, seed=seed)
        except InvalidInputError:  # labels were checked: too few two-class resamples
            label += " (95% CI: too few patients)"
        else:
            label += f" (95% CI {interval.low:.3f}-{interval.high:.3f})"
    y_true = np.asarray(truth).reshape(-1).astype(np.int64)
    y_score = np.asarray(scores, dtype=np.float64).reshape(-1)
    return y_true, y_score, label


def _roc_figure(purpose: str) -> tuple[Any, Any]:
    figure = new_figure(purpose, width=5.2, height=5.2)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], ":", color="0.5", label="chance (AUC 0.5)")
    return figure, axes


def _draw_curve(
    axes: Any,
    y_true: npt.NDArray[np.int64],
    y_score: npt.NDArray[np.float64],
    *,
    label: str,
    color: str,
    width: float,
) -> None:
    from sklearn.metrics import roc_curve

    false_positive, true_positive, _ = roc_curve(y_true, y_score)
    axes.plot(false_positive, true_positive, color=color, linewidth=width, label=label)


def _finish(figure: Any, axes: Any, target: Path, title: str) -> Path:
    axes.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        xlabel="false positive rate (1 - specificity)",
        ylabel="true positive rate (sensitivity)",
        aspect="equal",
    )
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    return save_figure(figure, target)
