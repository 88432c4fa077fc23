"""Pictures: slice and frame montages, training curves and ROC curves.

Montages need only NumPy and OpenCV; the plots need matplotlib, the optional ``plots``
extra (``pip install "radiogenomics[plots]"``), imported when a plot is drawn, never
with pyplot (each figure gets its own non-interactive Agg canvas). Without it the plot
functions raise :class:`~radiogenomics.errors.MissingDependencyError`. Importing this
package imports neither OpenCV, matplotlib nor torch.
"""

from radiogenomics.evaluation.held_out import HeldOutPredictions, held_out_predictions
from radiogenomics.viz.curves import History, best_epoch, plot_training_curves, read_history
from radiogenomics.viz.montage import (
    LABEL_COLOUR,
    OUTLINE_COLOURS,
    TileSize,
    frame_montage,
    save_montage,
    slice_montage,
)
from radiogenomics.viz.roc import plot_fold_rocs, plot_roc
from radiogenomics.viz.sources import evenly_spaced, read_case_slices

__all__ = [
    "LABEL_COLOUR",
    "OUTLINE_COLOURS",
    "HeldOutPredictions",
    "History",
    "TileSize",
    "best_epoch",
    "evenly_spaced",
    "frame_montage",
    "held_out_predictions",
    "plot_fold_rocs",
    "plot_roc",
    "plot_training_curves",
    "read_case_slices",
    "read_history",
    "save_montage",
    "slice_montage",
]
