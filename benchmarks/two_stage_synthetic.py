"""Both stages end to end on synthetic data, on CPU, within a time budget.

1. Write a synthetic BraTS-like Task 1 cohort, prepare it (64 px) and train a small
   stage 1 model (Unet, ``tu-test_resnet`` encoder) for a share of the budget.
2. Write a synthetic Kaggle-like Task 2 cohort (DICOM; labels tied to a learnable image
   feature of the tumor core) as a training split and a separate *test* split, and
   prepare both frame stores with ``prepare_classification`` (stage 1 masks, tumor
   filters, 3-channel frames).
3. Train one small stage 2 classifier per MRI type (``resnet10t`` backbone from random
   weights, BiLSTM, short chunks) until the budget is spent, epoch by epoch through
   ``train_classification(..., resume=True)``.
4. Predict the test patients (mean of chunk probabilities per series, mean over MRI
   types, 0.5 for a patient with no surviving frame) and report their ROC AUC with a
   bootstrap 95 % interval. The test patients are never seen in training nor used to
   choose a checkpoint (that is done on the validation patients of the training split).

Target (issue 4): patient AUC >= 0.9 within 15 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/two_stage_synthetic.py            # 15 minute budget
    .venv/bin/python benchmarks/two_stage_synthetic.py --minutes 5 --train-patients 24

Prints a summary and writes JSON to ``benchmarks/results/two_stage_synthetic.json``.
No pretrained weights are available offline, so both backbones start from random
weights, the stage 2 backbone is not frozen (``warmup_epochs=0``) and the learning rate
is 1e-3 rather than the reference's 1e-6.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Clock:
    """Seconds since the start, and what is left of the budget."""

    def __init__(self, budget_s: float) -> None:
        self.began = time.perf_counter()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def left(self) -> float:
        return self.budget_s - self.elapsed()


def _log(clock: Clock, message: str) -> None:
    print(f"[{clock.elapsed():6.0f} s] {message}", flush=True)


def _train_segmentation(work: Path, args: argparse.Namespace, clock: Clock) -> dict[str, Any]:
    from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.testing import write_brats_cohort
    from radiogenomics.training import SegmentationTrainConfig, train_segmentation

    cases = write_brats_cohort(work / "task1", n_cases=args.task1_cases, seed=args.seed)
    prep = prepare_segmentation(
        cases, work / "task1-prepared", config=SegmentationPrepConfig(size=64), workers=2
    )
    _log(clock, f"stage 1 data: {prep.summary().splitlines()[0]}")
    config = SegmentationTrainConfig(
        batch_size=32,
        lr=2e-3,
        warmup_epochs=0,
        patience=10,
        image_size=64,
        seed=args.seed,
        device="cpu",
    )
    model_config = SegmentationModelConfig(
        architecture="Unet", encoder="tu-test_resnet", image_size=64
    )
    deadline = clock.elapsed() + args.seg_minutes * 60
    epochs, last_epoch_s, result = 0, 0.0, None
    while epochs == 0 or clock.elapsed() + 1.1 * last_epoch_s <= deadline:
        epochs += 1
        began = time.perf_counter()
        result = train_segmentation(
            work / "task1-prepared",
            work / "seg-run",
            config=dataclasses.replace(config, epochs=epochs),
            model_config=model_config,
            resume=epochs > 1,
            progress=False,
        )
        last_epoch_s = time.perf_counter() - began
        if result.stopped_early:
            break
    assert result is not None
    line = result.history[-1]
    _log(
        clock,
        f"stage 1: {result.epochs_completed} epochs, best epoch {result.best_epoch}, held-out "
        f"Dice WT {result.best_scores['dice_WT']:.3f} ET {result.best_scores['dice_ET']:.3f} "
        f"(last epoch WT {line['dice_WT']:.3f})",
    )
    return {
        "cases": args.task1_cases,
        "epochs": result.epochs_completed,
        "best_epoch": result.best_epoch,
        "best_dice_WT": result.best_scores["dice_WT"],
        "best_dice_ET": result.best_scores["dice_ET"],
    }


def _prepare_task2(
    work: Path, args: argparse.Namespace, clock: Clock, mri_types: tuple[str, ...]
) -> dict[str, Any]:
    from radiogenomics.data import FrameStore
    from radiogenomics.data.prepare_classification import (
        ClassificationPrepConfig,
        prepare_classification,
    )
    from radiogenomics.testing import write_task2_cohort

    info: dict[str, Any] = {}
    for split, count, seed in (
        ("train", args.train_patients, args.seed + 1),
        ("test", args.test_patients, args.seed + 2),
    ):
        root = write_task2_cohort(
            work / "task2", n_patients=count, seed=seed, size=64, mri_types=mri_types, split=split
        )
        report = prepare_classification(
            root / split,
            work / f"frames-{split}",
            labels=root / f"{split}_labels.csv",
            segmentation_run=work / "seg-run",
            config=ClassificationPrepConfig(mri_types=mri_types),
            workers=2,
        )
        store = FrameStore(work / f"frames-{split}")
        empty = sum(store.num_frames(k) == 0 for k in store.series_keys())
        frames = sum(store.num_frames(k) for k in store.series_keys())
        _log(clock, f"task 2 {split}: {report.summary().splitlines()[0]}")
        info[split] = {
            "patients": count,
            "series": len(store),
            "frames": frames,
            "series_without_frames": empty,
        }
    return info


def _train_classifiers(
    work: Path,
    args: argparse.Namespace,
    clock: Clock,
    mri_types: tuple[str, ...],
    reserve_s: float,
) -> dict[str, Any]:
    from radiogenomics.training import ClassificationTrainConfig, train_classification

    config = ClassificationTrainConfig(
        backbone=args.backbone,
        hidden_size=32,
        head=args.head,
        sequence_length=args.sequence_length,
        stride=args.stride,
        image_size=64,
        batch_size=8,
        lr=args.lr,
        warmup_epochs=0,
        epochs=args.max_epochs,
        patience=args.patience,
        val_fraction=0.25,
        seed=args.seed,
        device="cpu",
    )
    out: dict[str, Any] = {}
    for position, mri_type in enumerate(mri_types):
        share = (clock.left() - reserve_s) / (len(mri_types) - position)
        deadline = clock.elapsed() + share
        epochs, last_epoch_s, result = 0, 0.0, None
        while epochs == 0 or clock.elapsed() + 1.1 * last_epoch_s <= deadline:
            epochs += 1
            began = time.perf_counter()
            result = train_classification(
                work / "frames-train",
                work / "cls-runs" / mri_type,
                config=dataclasses.replace(config, mri_type=mri_type, epochs=epochs),
                resume=epochs > 1,
                progress=False,
            )
            last_epoch_s = time.perf_counter() - began
            if result.stopped_early or epochs >= args.max_epochs:
                break
        assert result is not None
        best = result.history[result.best_epoch - 1]
        _log(
            clock,
            f"stage 2 {mri_type}: {result.epochs_completed} epochs "
            f"({last_epoch_s:.1f} s each), best epoch {result.best_epoch}: val loss "
            f"{result.best_val_loss:.3f}, validation patient AUC {best['patient_auc']} "
            f"({len(result.val_patients)} patients)",
        )
        out[mri_type] = {
            "epochs": result.epochs_completed,
            "stopped_early": result.stopped_early,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "val_patient_auc": best["patient_auc"],
            "val_chunk_auc": best["chunk_auc"],
            "val_patients": len(result.val_patients),
            "train_patients": len(result.train_patients),
        }
    out["config"] = {k: v for k, v in config.to_dict().items() if k != "mri_type"}
    return out


def _predict_test(work: Path, mri_types: tuple[str, ...]) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from radiogenomics.data import ChunkDataset, FrameStore
    from radiogenomics.inference import PatientAggregator, bootstrap_auc_ci, roc_auc
    from radiogenomics.training import load_classification_model

    store = FrameStore(work / "frames-test")
    patients = sorted(store.labels)
    truth = [store.labels[p] for p in patients]
    aggregator = PatientAggregator(fallback=0.5)
    per_type: dict[str, float] = {}
    for mri_type in mri_types:
        model, info = load_classification_model(work / "cls-runs" / mri_type)
        dataset = ChunkDataset(
            store.frames_by_series(mri_type=mri_type),
            None,
            length=info.sequence_length,
            stride=info.stride,
            last=info.last,
            image_size=info.image_size,
        )
        single = PatientAggregator(fallback=0.5)
        with torch.no_grad():
            for batch in DataLoader(dataset, batch_size=16):
                probabilities = torch.sigmoid(model(batch["frames"], batch["valid"]))
                aggregator.update(batch["patient_id"], batch["mri_type"], probabilities)
                single.update(batch["patient_id"], batch["mri_type"], probabilities)
        scores = single.aggregate(patients)
        per_type[mri_type] = roc_auc(truth, [scores[p] for p in patients])
    combined = aggregator.aggregate(patients)
    interval = bootstrap_auc_ci(truth, [combined[p] for p in patients], n_boot=2000, seed=0)
    return {
        "patients": len(patients),
        "positives": int(sum(truth)),
        "fallback_patients": len(aggregator.fallback_patients(patients)),
        "auc": interval.auc,
        "ci95": [interval.low, interval.high],
        "per_mri_type_auc": per_type,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="total wall-time budget")
    parser.add_argument("--seg-minutes", type=float, default=4.0, help="stage 1 training")
    parser.add_argument("--task1-cases", type=int, default=12)
    parser.add_argument("--train-patients", type=int, default=60)
    parser.add_argument("--test-patients", type=int, default=40)
    parser.add_argument("--mri-types", nargs="+", default=["FLAIR", "T1wCE"])
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--head", choices=("concat", "pooled"), default="pooled")
    parser.add_argument("--sequence-length", type=int, default=8)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (kept)")
    parser.add_argument(
        "--json", type=Path, default=Path("benchmarks/results/two_stage_synthetic.json")
    )
    args = parser.parse_args()

    import torch

    clock = Clock(args.minutes * 60)
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-two-stage-"))
    for name in ("task1", "task1-prepared", "seg-run", "task2", "frames-train", "frames-test"):
        shutil.rmtree(work / name, ignore_errors=True)
    shutil.rmtree(work / "cls-runs", ignore_errors=True)
    mri_types = tuple(args.mri_types)
    threads = torch.get_num_threads()
    _log(clock, f"work folder {work}; budget {args.minutes:g} min; {threads} threads")

    stage1 = _train_segmentation(work, args, clock)
    data = _prepare_task2(work, args, clock, mri_types)
    stage2 = _train_classifiers(work, args, clock, mri_types, reserve_s=45.0)
    test = _predict_test(work, mri_types)
    wall = clock.elapsed()
    _log(
        clock,
        f"held-out test patients: AUC {test['auc']:.3f} (95 % CI {test['ci95'][0]:.3f}-"
        f"{test['ci95'][1]:.3f}), {test['patients']} patients "
        f"({test['fallback_patients']} with no frame); per type "
        + ", ".join(f"{k} {v:.3f}" for k, v in test["per_mri_type_auc"].items()),
    )
    target = test["auc"] >= 0.9 and wall <= args.minutes * 60 + 30
    print(f"target (AUC >= 0.9 within {args.minutes:g} min): {'met' if target else 'MISSED'}")
    record = {
        "command": " ".join(["python benchmarks/two_stage_synthetic.py", *sys.argv[1:]]),
        "budget_minutes": args.minutes,
        "wall_seconds": round(wall, 1),
        "test": test,
        "stage1": stage1,
        "task2_data": data,
        "stage2": stage2,
        "mri_types": list(mri_types),
        "target_met": bool(target),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "torch": torch.__version__,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
