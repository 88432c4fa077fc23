"""The two-stage solution with one part of your own in each stage.

The jobs of radiogenomics take parts, so any one of them can be replaced without
touching the rest. Here, on the synthetic cohorts of ``two_stage_solution.py``:

* stage 1 preparation gets a filter of our own, :class:`BrainCoverageFilter` (drop
  slices that show little brain), between the library's sampler and tumor filter;
* the stage 2 classifier gets a hand-written CNN as its frame backbone
  (:class:`SmallCNN`) inside the library's :class:`~radiogenomics.SequenceClassifier`;
* prediction gets an aggregation of our own, :class:`TrimmedMeanAggregator` (the mean
  of each series' chunks without the highest and lowest, then the mean over MRI types).

Everything else is the library's. It runs on the CPU in a couple of minutes:

    python examples/custom_components.py --out custom-out

and prints the held-out Dice of stage 1 and the ROC AUC of the test patients.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads, ever

import numpy as np
import torch
from torch import nn

from radiogenomics import (
    BlankSliceFilter,
    ContourCountFilter,
    DistinctSampler,
    MaskPredictor,
    Pipeline,
    ResizeSlices,
    SequenceClassifier,
    SliceExtractor,
    TumorAreaFilter,
    ZoomTTA,
)
from radiogenomics.data import FrameRecipe, SliceRecipe
from radiogenomics.filters import SliceFilter
from radiogenomics.records import SliceRecord

MRI_TYPES = ("FLAIR", "T1w", "T1wCE", "T2w")


# Stage 1: a filter of our own -------------------------------------------------------------


class BrainCoverageFilter(SliceFilter):
    """Keep slices whose brain covers strictly more than ``min_fraction`` of the slice.

    A step is any callable from slices to the slices kept; subclassing
    :class:`~radiogenomics.filters.SliceFilter` gives the per-slice loop, order and
    immutability for free. The ``repr`` shows the setting, which the preparation job
    records (a rerun with another setting is refused); defined at module level, the
    filter pickles, so ``--workers`` may run it in several processes.
    """

    def __init__(self, *, min_fraction: float = 0.2) -> None:
        self.min_fraction = min_fraction

    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        brain = record.brain if record.brain is not None else record.image > 0
        return float(np.mean(brain)) > self.min_fraction, record

    def __repr__(self) -> str:
        return f"BrainCoverageFilter(min_fraction={self.min_fraction})"


def slice_recipe(size: int) -> SliceRecipe:
    """The library's stage 1 steps, with our filter after the sampler."""
    return SliceRecipe(
        Pipeline(
            [
                SliceExtractor(orientation="radiological"),
                DistinctSampler(max_similarity=0.9),
                BrainCoverageFilter(min_fraction=0.2),
                TumorAreaFilter(min_ratio=0.01),
                ResizeSlices(size=size),
            ]
        )
    )


# Stage 2: a backbone of our own ----------------------------------------------------------


class SmallCNN(nn.Module):
    """Three strided convolutions and a global average: one 32-d vector per frame."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, stride=2, padding=1),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.layers(frames)
        return result


def classifier(sequence_length: int) -> SequenceClassifier:
    """The library's sequence model (a BiLSTM over frames) around our backbone."""
    return SequenceClassifier(
        backbone=SmallCNN(), hidden_size=16, sequence_length=sequence_length, head="pooled"
    )


# Prediction: an aggregation of our own --------------------------------------------------


class TrimmedMeanAggregator:
    """One probability per patient: each series' trimmed chunk mean, then the MRI types' mean.

    Any object with ``update`` and ``aggregate`` (the
    :class:`~radiogenomics.inference.Aggregator` protocol) can stand in for the library's
    :class:`~radiogenomics.PatientAggregator`.
    """

    def __init__(self, *, fallback: float = 0.5) -> None:
        self.fallback = fallback
        self.chunks: dict[tuple[str, str], list[float]] = {}

    def update(
        self, patient_ids: Sequence[str], mri_types: Sequence[str], probabilities: Any
    ) -> None:
        values = torch.as_tensor(probabilities).reshape(-1).tolist()
        for patient, mri_type, value in zip(patient_ids, mri_types, values, strict=True):
            self.chunks.setdefault((str(patient), str(mri_type)), []).append(float(value))

    def aggregate(self, patients: Iterable[str] | None = None) -> dict[str, float]:
        series: dict[str, list[float]] = {}
        for (patient, _), values in self.chunks.items():
            ordered = sorted(values)
            kept = ordered[1:-1] if len(ordered) > 2 else ordered
            series.setdefault(patient, []).append(float(np.mean(kept)))
        wanted = list(series) if patients is None else list(patients)
        return {p: float(np.mean(series[p])) if p in series else self.fallback for p in wanted}


# The solution ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Synthetic data, both stages with our parts, prediction; print the scores."""
    from radiogenomics.data import prepare_classification, prepare_segmentation
    from radiogenomics.inference import ClassificationRun, roc_auc, run_prediction
    from radiogenomics.io import find_brats_cases, read_labels
    from radiogenomics.models import load_segmentation_model, load_weights
    from radiogenomics.presets import get_preset
    from radiogenomics.testing import write_brats_cohort, write_task2_cohort
    from radiogenomics.training import train_classification, train_segmentation

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("custom-out"), help="output folder")
    parser.add_argument("--task1-cases", type=int, default=6)
    parser.add_argument("--patients", type=int, default=24, help="training patients")
    parser.add_argument("--test-patients", type=int, default=12)
    parser.add_argument("--seg-epochs", type=int, default=4)
    parser.add_argument("--cls-epochs", type=int, default=6)
    parser.add_argument("--mri-types", nargs="+", choices=MRI_TYPES, default=["FLAIR", "T2w"])
    args = parser.parse_args(argv)
    began = time.perf_counter()
    out: Path = args.out
    torch.set_num_threads(1)  # small models: one thread is fastest on a shared machine
    preset = get_preset("tiny")  # the library's small settings for everything else

    data = out / "data"
    if not (data / "test_labels.csv").is_file():
        write_brats_cohort(data / "task1", n_cases=args.task1_cases, seed=0, first_id=2000)
        for split, count, seed in (("train", args.patients, 1), ("test", args.test_patients, 2)):
            write_task2_cohort(
                data, n_patients=count, seed=seed, size=64, mri_types=args.mri_types, split=split
            )

    # Stage 1: our filter in the slice recipe; the library's model and training.
    size = preset.segmentation_prep.size or 64
    report = prepare_segmentation(
        find_brats_cases(data / "task1"), out / "slices", recipe=slice_recipe(size)
    )
    print(f"stage 1 slices: {report.summary().splitlines()[0]}")
    seg = train_segmentation(
        out / "slices",
        out / "seg",
        config=preset.replace(segmentation_train={"epochs": args.seg_epochs}).segmentation_train,
        model_config=preset.segmentation_model,
        resume=(out / "seg" / "last.state.pt").is_file(),
        progress=False,
    )
    dice = {k: round(v, 3) for k, v in seg.best_scores.items() if k.startswith("dice_")}
    print(f"stage 1 held-out Dice: {dice}")

    # Stage 2: the library's frame recipe with the trained stage 1 model as mask function.
    model, model_config = load_segmentation_model(out / "seg")
    masks = MaskPredictor(model, image_size=model_config.image_size)
    recipe = FrameRecipe(
        masks, steps=[BlankSliceFilter(), TumorAreaFilter(min_ratio=0.025), ContourCountFilter()]
    )
    prepare_classification(
        data / "train",
        out / "frames",
        labels=data / "train_labels.csv",
        recipe=recipe,
        segmentation_run=out / "seg",
        mri_types=args.mri_types,
    )
    settings = preset.replace(
        classification_train={"epochs": args.cls_epochs, "warmup_epochs": 0, "lr": 3e-3}
    ).classification_train
    classifiers = []
    for mri_type in args.mri_types:
        config = dataclasses.replace(settings, mri_type=mri_type)
        run = out / "cls" / mri_type
        network = classifier(config.sequence_length)  # our backbone inside
        result = train_classification(
            out / "frames",
            run,
            config=config,
            model=network,
            resume=(run / "last.state.pt").is_file(),
            progress=False,
        )
        print(
            f"stage 2 {mri_type}: best epoch {result.best_epoch}, validation patient AUC "
            f"{result.best_scores.get('patient_auc', float('nan')):.3f}"
        )
        best = classifier(config.sequence_length)  # the same module, best weights
        load_weights(best, run / "best.safetensors")
        classifiers.append(
            ClassificationRun(
                model=best.eval(),
                mri_type=mri_type,
                recipe=recipe,  # the frames it was trained on are made the same way
                sequence_length=config.sequence_length,
                stride=config.stride,
                image_size=config.image_size,
            )
        )

    # Prediction: our aggregation.
    prediction = run_prediction(
        data / "test", classifiers=classifiers, tta=ZoomTTA(), aggregator=TrimmedMeanAggregator()
    )
    labels = read_labels(data / "test_labels.csv")
    patients = [p for p in prediction.probabilities if p in labels]
    auc = roc_auc([labels[p] for p in patients], [prediction.probabilities[p] for p in patients])
    print(f"test patients: {len(patients)}, AUC {auc:.3f} (trimmed-mean aggregation)")
    print(f"done in {time.perf_counter() - began:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
