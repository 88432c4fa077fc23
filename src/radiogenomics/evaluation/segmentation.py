"""Stage 1 masks judged on whole volumes: every slice, not only the slices with tumor.

Stage 1 is trained and validated on slices that show tumor, but stage 2 runs it on every
slice of every series, and keeps a frame wherever it predicts tumor. This job predicts
whole BraTS volumes the way ``radiogenomics segment`` does (whole-volume normalisation,
each slice along a plane, the run's layout and zoom) and scores, per case, modality,
plane and region (WT, ET):

* **Dice over the tumor slices**: the slices whose true mask of the region is not empty
  (the seed's view: its validation slices all show tumor);
* **Dice over the whole volume**: every voxel, so false positives anywhere count;
* **the false-positive slice rate**: of the slices whose true mask is empty, the share
  with any predicted voxel (:func:`~radiogenomics.metrics.false_positive_slice_rate`);
* **the same rate over brain slices**: only the tumor-free slices whose brain (voxels
  above 0: BraTS volumes are skull-stripped) covers more than 10 % of the slice
  (:data:`BRAIN_SLICE_FRACTION`). Stage 2 never makes a frame of the others (its blank
  filter drops them) and tumor-free training slices are drawn from these only
  (:class:`~radiogenomics.sampling.TumorFreeSlices`), so this is the rate that reaches
  stage 2.

Counts are summed before dividing, per plane over every case and modality and overall
(:meth:`SegmentationEvaluation.summary`), as :class:`~radiogenomics.metrics.SegmentationMetrics`
sums them over a validation set; it computes them here too, so training and this job
share one definition.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_names, check_range
from radiogenomics.errors import GeometryError, RadiogenomicsError
from radiogenomics.filters.blank import nonzero_fraction
from radiogenomics.io.nifti import MODALITIES, BratsCase, load_case
from radiogenomics.records import PLANES, Plane
from radiogenomics.slicing.geometry import Orientation, slice_layout

if TYPE_CHECKING:
    from radiogenomics.inference.predict_masks import MaskPredictor

__all__ = [
    "BRAIN_SLICE_FRACTION",
    "EVALUATION_FIELDS",
    "EvaluationRow",
    "SegmentationEvaluation",
    "SliceScores",
    "evaluate_segmentation",
    "score_slices",
]

BRAIN_SLICE_FRACTION = 0.1
"""A brain slice shows brain on strictly more than this fraction of its pixels.

The stage 2 blank filter's threshold (``BlankSliceFilter(min_fraction=0.1)``) and that of
the tumor-free training slices (``is_tumor_free(min_brain_fraction=0.1)``)."""

_ALL = "all"
"""The ``case_id``, ``modality`` or ``plane`` of a summary row."""


@dataclass(frozen=True)
class SliceScores:
    """Whole-number counts of one region over a stack of slices, and the scores they give.

    Counts add up (``a + b``), so the scores of many volumes are those of their sums.

    Attributes:
        tumor_slices: Slices whose true mask is not empty.
        tumor_free_slices: Slices whose true mask is empty.
        fp_slices: Tumor-free slices with any predicted voxel.
        true_voxels: Voxels of the true mask.
        predicted_voxels: Voxels predicted, on every slice.
        intersection_voxels: Voxels predicted and true.
        predicted_on_tumor_slices: Voxels predicted on the tumor slices.
        brain_tumor_free_slices: Tumor-free slices that are brain slices (brain on more
            than :data:`BRAIN_SLICE_FRACTION` of the slice); 0 when no brain was given.
        brain_fp_slices: Those of them with any predicted voxel.
    """

    tumor_slices: int = 0
    tumor_free_slices: int = 0
    fp_slices: int = 0
    true_voxels: int = 0
    predicted_voxels: int = 0
    intersection_voxels: int = 0
    predicted_on_tumor_slices: int = 0
    brain_tumor_free_slices: int = 0
    brain_fp_slices: int = 0

    def __add__(self, other: SliceScores) -> SliceScores:
        return SliceScores(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def dice_tumor_slices(self) -> float:
        """Dice over the tumor slices only (1.0 when there is nothing to find nor found)."""
        return _dice(self.intersection_voxels, self.predicted_on_tumor_slices, self.true_voxels)

    @property
    def dice_volume(self) -> float:
        """Dice over every voxel (1.0 when there is nothing to find nor found)."""
        return _dice(self.intersection_voxels, self.predicted_voxels, self.true_voxels)

    @property
    def fp_slice_rate(self) -> float:
        """The share of the tumor-free slices with any predicted voxel (NaN when none)."""
        if self.tumor_free_slices == 0:
            return math.nan
        return self.fp_slices / self.tumor_free_slices

    @property
    def brain_fp_slice_rate(self) -> float:
        """The share of the tumor-free brain slices with any predicted voxel (NaN when none)."""
        if self.brain_tumor_free_slices == 0:
            return math.nan
        return self.brain_fp_slices / self.brain_tumor_free_slices

    @property
    def fp_voxels(self) -> int:
        """Voxels predicted on the tumor-free slices."""
        return self.predicted_voxels - self.predicted_on_tumor_slices


def _dice(intersection: int, predicted: int, true: int) -> float:
    total = predicted + true
    return 1.0 if total == 0 else 2 * intersection / total


def score_slices(
    predicted: npt.NDArray[np.uint8],
    truth: npt.NDArray[np.uint8],
    *,
    regions: Sequence[str],
    brain: npt.NDArray[np.bool_] | None = None,
    min_brain_fraction: float = BRAIN_SLICE_FRACTION,
) -> dict[str, SliceScores]:
    """The counts of each region over a stack of predicted and true masks.

    Computed with :class:`~radiogenomics.metrics.SegmentationMetrics` (the counts
    training validates with): once over every slice, once over the region's tumor
    slices.

    Args:
        predicted: 0/1 predicted masks, one channel per region.
        truth: 0/1 true masks, one channel per region.
        regions: The channels' names, in order.
        brain: Where each slice shows brain; ``None`` leaves the brain-slice counts at 0.
        min_brain_fraction: A brain slice shows brain on strictly more than this
            fraction of its pixels.

    Returns:
        Region name to its counts.

    Raises:
        GeometryError: The shapes differ, do not have one channel per region, or
            ``brain`` is not one (H, W) mask per slice.

    Shape:
        - predicted, truth: (N, C, H, W).
        - brain: (N, H, W).

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((3, 1, 4, 4), np.uint8); truth[0, 0, :2, :2] = 1
        >>> predicted = truth.copy(); predicted[2, 0, 3, 3] = 1  # a false voxel
        >>> scores = score_slices(predicted, truth, regions=("WT",))["WT"]
        >>> scores.dice_tumor_slices, round(scores.dice_volume, 3), scores.fp_slice_rate
        (1.0, 0.889, 0.5)
    """
    import torch

    from radiogenomics.metrics.segmentation import SegmentationMetrics

    if predicted.shape != truth.shape or predicted.ndim != 4 or predicted.shape[1] != len(regions):
        raise GeometryError(
            f"predicted masks {predicted.shape} and true masks {truth.shape} must both be "
            f"(N, {len(regions)}, H, W), one channel per region ({', '.join(regions)})."
        )
    n = predicted.shape[0]
    if brain is None:
        brain_slice = np.zeros(n, dtype=bool)
    else:
        if brain.shape != (n, *predicted.shape[2:]):
            raise GeometryError(
                f"brain masks {brain.shape} must be one (H, W) mask per slice: "
                f"{(n, *predicted.shape[2:])} for masks {predicted.shape}."
            )
        # The blank filter's and the tumor-free sampler's measure of a slice's brain.
        brain_slice = np.array([nonzero_fraction(b) > min_brain_fraction for b in brain], bool)
    scores: dict[str, SliceScores] = {}
    for c, region in enumerate(regions):
        mine = torch.from_numpy(np.ascontiguousarray(predicted[:, c : c + 1]))
        true = torch.from_numpy(np.ascontiguousarray(truth[:, c : c + 1]))
        whole = SegmentationMetrics(channels=(region,))
        whole.update(mine, true)
        tumor = true.flatten(1).any(dim=1).bool()
        on_tumor = SegmentationMetrics(channels=(region,))
        on_tumor.update(mine[tumor], true[tumor])
        counts, tumor_counts = whole.state(), on_tumor.state()
        tumor_free_brain = ~tumor.numpy() & brain_slice
        marked = predicted[:, c].reshape(n, -1).any(axis=1)
        scores[region] = SliceScores(
            tumor_slices=int(tumor_counts["images"]),
            tumor_free_slices=int(counts["tumor_free"][0]),
            fp_slices=int(counts["false_positive"][0]),
            true_voxels=int(counts["true"][0]),
            predicted_voxels=int(counts["predicted"][0]),
            intersection_voxels=int(counts["intersection"][0]),
            predicted_on_tumor_slices=int(tumor_counts["predicted"][0]),
            brain_tumor_free_slices=int(tumor_free_brain.sum()),
            brain_fp_slices=int((tumor_free_brain & marked).sum()),
        )
    return scores


@dataclass(frozen=True)
class EvaluationRow:
    """The scores of one region of one case, modality and plane (or of a summary).

    Attributes:
        case_id: The case, or ``"all"`` in a summary.
        modality: The modality, or ``"all"`` in a summary.
        plane: The plane the volume was sliced along, or ``"all"``.
        region: ``"WT"``, ``"ET"``, ...
        scores: The counts and the scores they give.
    """

    case_id: str
    modality: str
    plane: str
    region: str
    scores: SliceScores

    def to_row(self) -> dict[str, str]:
        """The row of the report CSV (:data:`EVALUATION_FIELDS`)."""
        s = self.scores
        return {
            "case_id": self.case_id,
            "modality": self.modality,
            "plane": self.plane,
            "region": self.region,
            "tumor_slices": str(s.tumor_slices),
            "tumor_free_slices": str(s.tumor_free_slices),
            "fp_slices": str(s.fp_slices),
            "fp_slice_rate": _number(s.fp_slice_rate),
            "brain_tumor_free_slices": str(s.brain_tumor_free_slices),
            "brain_fp_slices": str(s.brain_fp_slices),
            "brain_fp_slice_rate": _number(s.brain_fp_slice_rate),
            "dice_tumor_slices": _number(s.dice_tumor_slices),
            "dice_volume": _number(s.dice_volume),
            "true_voxels": str(s.true_voxels),
            "predicted_voxels": str(s.predicted_voxels),
            "fp_voxels": str(s.fp_voxels),
        }


EVALUATION_FIELDS: tuple[str, ...] = (
    "case_id",
    "modality",
    "plane",
    "region",
    "tumor_slices",
    "tumor_free_slices",
    "fp_slices",
    "fp_slice_rate",
    "brain_tumor_free_slices",
    "brain_fp_slices",
    "brain_fp_slice_rate",
    "dice_tumor_slices",
    "dice_volume",
    "true_voxels",
    "predicted_voxels",
    "fp_voxels",
)
"""Columns of the report that ``evaluate-segmentation`` writes."""


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"


@dataclass
class SegmentationEvaluation:
    """What :func:`evaluate_segmentation` measured.

    Attributes:
        rows: One per case, modality, plane and region, in that order.
        failed: ``(case_id, reason)`` of every case that could not be read.
    """

    rows: list[EvaluationRow] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> list[EvaluationRow]:
        """Counts summed over cases and modalities: per plane, then over every plane.

        Returns:
            Rows with ``case_id`` and ``modality`` ``"all"``: for each plane evaluated
            (in :data:`~radiogenomics.records.PLANES` order) and ``"all"``, one per region.
        """
        regions = list(dict.fromkeys(r.region for r in self.rows))
        planes = [p for p in PLANES if any(r.plane == p for r in self.rows)]
        out = []
        for plane in [*planes, _ALL]:
            for region in regions:
                chosen = [
                    r.scores for r in self.rows if r.region == region and plane in (_ALL, r.plane)
                ]
                out.append(EvaluationRow(_ALL, _ALL, plane, region, sum(chosen, SliceScores())))
        return out

    def to_csv(self) -> str:
        """Every row, then the summary rows, as CSV text (:data:`EVALUATION_FIELDS`)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EVALUATION_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.to_row() for row in [*self.rows, *self.summary()])
        return buffer.getvalue()

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically.

        Raises:
            StorageError: The file cannot be written.
        """
        from radiogenomics._atomic import atomic_text

        atomic_text(path, self.to_csv())
        return Path(path)

    def table(self) -> str:
        """The summary as a small text table, one line per plane and region."""
        header = (
            f"{'plane':<9}{'region':<7}{'tumor slices':>13}{'Dice':>7}"
            f"{'tumor-free':>12}{'with FP':>9}{'FP rate':>9}{'(brain)':>9}{'Dice (volume)':>15}"
        )
        lines = [header]
        for row in self.summary():
            s = row.scores
            rate = "-" if math.isnan(s.fp_slice_rate) else f"{s.fp_slice_rate:.3f}"
            brain = "-" if math.isnan(s.brain_fp_slice_rate) else f"{s.brain_fp_slice_rate:.3f}"
            lines.append(
                f"{row.plane:<9}{row.region:<7}{s.tumor_slices:>13}{s.dice_tumor_slices:>7.3f}"
                f"{s.tumor_free_slices:>12}{s.fp_slices:>9}{rate:>9}{brain:>9}"
                f"{s.dice_volume:>15.3f}"
            )
        return "\n".join(lines)


def _stack(masks: npt.NDArray[Any], axis: int) -> npt.NDArray[np.uint8]:
    """(C, X, Y, Z) masks as (N, C, ., .) slices along ``axis`` of the volume."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(masks, dtype=np.uint8), 1 + axis, 0))


def evaluate_segmentation(
    cases: Sequence[BratsCase],
    predictor: MaskPredictor,
    *,
    orientation: Orientation = "native",
    planes: Plane | Sequence[Plane] = PLANES,
    modalities: str | Sequence[str] = MODALITIES,
    min_brain_fraction: float = BRAIN_SLICE_FRACTION,
    progress: bool = False,
    on_case: Callable[[str], None] | None = None,
) -> SegmentationEvaluation:
    """Predict whole BraTS volumes and score every slice (see the module notes).

    Each modality's volume is predicted along each plane with
    :meth:`~radiogenomics.inference.MaskPredictor.predict_volume` (as ``radiogenomics
    segment`` predicts a volume: the predictor's zoom, threshold and clean-up, slices laid
    out as ``orientation`` says) and scored against the case's labels, per region of
    ``predictor.channels``.

    Args:
        cases: The labelled cases (:func:`~radiogenomics.io.scan_brats_cases`; BraTS
            2018-2021 and 2023 naming).
        predictor: The stage 1 mask predictor.
        orientation: The in-plane layout the model was trained on
            (:func:`~radiogenomics.models.training_orientation` of its run).
        planes: The planes to slice along.
        modalities: The modalities to predict.
        min_brain_fraction: A tumor-free slice counts as a brain slice when its brain
            (voxels above 0) covers strictly more than this fraction of it.
        progress: Show a progress bar.
        on_case: Called with each case's identifier once it is scored.

    Returns:
        The rows (and the cases that could not be read: library errors of one case are
        reported there and the others go on).

    Raises:
        ConfigurationError: An unknown plane or modality, regions the labels cannot
            give, or ``min_brain_fraction`` outside [0, 1].
    """
    from tqdm.auto import tqdm

    check_range("min_brain_fraction", min_brain_fraction, low=0.0, high=1.0)
    chosen_planes = check_names("planes", planes, PLANES)
    chosen_modalities = check_names("modalities", modalities, MODALITIES)
    regions = tuple(predictor.channels)
    result = SegmentationEvaluation()
    for case in tqdm(cases, desc="evaluate-segmentation", unit="case", disable=not progress):
        try:
            volumes = load_case(case, modalities=chosen_modalities).volumes(
                regions=regions  # type: ignore[arg-type]
            )
        except RadiogenomicsError as error:
            result.failed.append((case.case_id, str(error)))
            continue
        for volume in volumes:
            assert volume.masks is not None
            for plane in chosen_planes:
                axis = slice_layout(volume.affine, plane, orientation=orientation).axis
                predicted = predictor.predict_volume(
                    volume.image, volume.affine, plane=plane, orientation=orientation
                )
                scores = score_slices(
                    _stack(predicted, axis),
                    _stack(volume.masks, axis),
                    regions=regions,
                    brain=_stack(volume.image[None] > 0, axis)[:, 0].astype(bool),
                    min_brain_fraction=min_brain_fraction,
                )
                result.rows += [
                    EvaluationRow(case.case_id, volume.modality, plane, region, scores[region])
                    for region in regions
                ]
        if on_case is not None:
            on_case(case.case_id)
    return result
