"""Matplotlib figures without pyplot: an Agg canvas per figure, atomic saving."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from radiogenomics._atomic import atomic_target
from radiogenomics._optional import require
from radiogenomics.errors import ConfigurationError

__all__ = ["FIGURE_SUFFIXES", "check_suffix", "new_figure", "require_matplotlib", "save_figure"]

FIGURE_SUFFIXES: tuple[str, ...] = (".png", ".pdf", ".svg")
"""The file types a plot may be saved as (chosen by the path's suffix)."""


def require_matplotlib(purpose: str) -> None:
    """Raise :class:`~radiogenomics.errors.MissingDependencyError` without matplotlib."""
    require("matplotlib", extra="plots", purpose=purpose)


def check_suffix(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> Path:
    """``path`` as a ``Path`` if its suffix is one of ``suffixes`` (any case).

    Raises:
        ConfigurationError: Another suffix.
    """
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise ConfigurationError(
            f"cannot tell the file type from the suffix {target.suffix!r}; expected one of "
            f"{', '.join(suffixes)} (e.g. {target.with_suffix(suffixes[0]).name}).",
            path=target,
        )
    return target


def new_figure(purpose: str, *, width: float, height: float) -> Any:
    """A matplotlib ``Figure`` (inches) on its own Agg canvas: no pyplot, no global state.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    require_matplotlib(purpose)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: Path) -> Path:
    """Write ``figure`` to ``path`` atomically (the format follows the suffix)."""
    with atomic_target(path, suffix=path.suffix) as temporary:
        figure.savefig(temporary, format=path.suffix.lower().lstrip("."))
    return path
