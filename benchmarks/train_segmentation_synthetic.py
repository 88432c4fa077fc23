"""Train a small stage 1 model on CPU for a time budget; report held-out Dice.

Two modes:

* synthetic (default): write a synthetic BraTS-like cohort, prepare it, train on 80 % of
  the patients and report the whole-tumor (WT) Dice on the held-out 20 % (target of
  issue 3: WT Dice >= 0.85 within 10 minutes on 2 CPU cores);
* ``--real-case PATH``: prepare one real BraTS case, train on its axial and coronal
  slices and validate on its sagittal slices (a held-out *plane* of the same patient).

Training runs epoch by epoch through ``train_segmentation(..., resume=True)`` until the
next epoch would overrun the budget, so it also exercises resuming. Pretrained weights are
not available offline, so the encoder starts from random weights and is not frozen
(``warmup_epochs=0``).

    .venv/bin/python benchmarks/train_segmentation_synthetic.py --minutes 10
    .venv/bin/python benchmarks/train_segmentation_synthetic.py --minutes 10 \
        --real-case ../shared/data/brats2021/BraTS2021_00006

Prints a table and writes JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _train_for(
    data: Path,
    run: Path,
    *,
    budget_s: float,
    config: Any,
    model_config: Any,
    split: tuple[list[int], list[int]] | None,
) -> tuple[Any, float]:
    import dataclasses

    from radiogenomics.training import train_segmentation

    began = time.perf_counter()
    epochs, result, last_epoch_s = 0, None, 0.0
    while True:
        elapsed = time.perf_counter() - began
        if epochs and elapsed + 1.1 * last_epoch_s > budget_s:
            break
        epochs += 1
        step = time.perf_counter()
        result = train_segmentation(
            data,
            run,
            config=dataclasses.replace(config, epochs=epochs),
            model_config=model_config,
            split=split,
            resume=epochs > 1,
            progress=False,
        )
        last_epoch_s = time.perf_counter() - step
        line = result.history[-1]
        print(
            f"  epoch {line['epoch']:3d}  {time.perf_counter() - began:6.0f} s  "
            f"train {line['train_loss']:.4f}  val {line['val_loss']:.4f}  "
            f"WT {line['dice_WT']:.4f}  ET {line['dice_ET']:.4f}",
            flush=True,
        )
        if result.stopped_early:
            break
    assert result is not None
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training time budget")
    parser.add_argument("--cases", type=int, default=20, help="synthetic cases")
    parser.add_argument("--real-case", type=Path, default=None, help="a real BraTS case folder")
    parser.add_argument("--architecture", default="Unet")
    parser.add_argument("--encoder", default="tu-test_resnet")
    parser.add_argument("--image-size", type=int, default=None, help="64 synthetic, 128 real")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (kept)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from radiogenomics.data import PreparedSlices, SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.io import find_brats_cases
    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.testing import write_brats_cohort
    from radiogenomics.training import SegmentationTrainConfig

    real = args.real_case is not None
    size = args.image_size or (128 if real else 64)
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-bench-"))
    shutil.rmtree(work / "run", ignore_errors=True)
    mode = "real" if real else "synthetic"
    began = time.perf_counter()
    if real:
        cases = find_brats_cases(args.real_case)
    else:
        cases = write_brats_cohort(work / "task1", n_cases=args.cases, seed=args.seed)
    prep = prepare_segmentation(
        cases, work / "prepared", config=SegmentationPrepConfig(size=size), workers=2
    )
    prep_s = time.perf_counter() - began
    store = PreparedSlices(work / "prepared")
    split = None
    if real:
        rows = store.rows
        split = (
            [i for i, r in enumerate(rows) if r["plane"] in ("axial", "coronal")],
            [i for i, r in enumerate(rows) if r["plane"] == "sagittal"],
        )
    print(
        f"{mode}: {len(store)} slices of {len(store.patient_ids)} case(s) prepared at "
        f"{size} px in {prep_s:.0f} s ({prep.summary().splitlines()[0]})",
        flush=True,
    )
    config = SegmentationTrainConfig(
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_epochs=0,
        patience=10,
        image_size=size,
        seed=args.seed,
        device="cpu",
    )
    model_config = SegmentationModelConfig(
        architecture=args.architecture, encoder=args.encoder, image_size=size
    )
    result, train_s = _train_for(
        work / "prepared",
        work / "run",
        budget_s=args.minutes * 60,
        config=config,
        model_config=model_config,
        split=split,
    )
    final = result.history[-1]
    record = {
        "mode": mode,
        "validation": "sagittal slices of the case (trained on axial + coronal)"
        if real
        else "held-out patients (20 %)",
        "case": str(args.real_case) if real else f"{args.cases} synthetic cases",
        "slices": len(store),
        "train_slices": len(split[0]) if split else None,
        "val_slices": len(split[1]) if split else None,
        "image_size": size,
        "architecture": args.architecture,
        "encoder": args.encoder,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "budget_minutes": args.minutes,
        "train_seconds": round(train_s, 1),
        "epochs": result.epochs_completed,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "best": result.best_scores,
        "final": {k: v for k, v in final.items() if k.startswith(("dice", "iou"))},
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "torch": torch.__version__,
    }
    print()
    print(f"| {mode} | best epoch | last epoch |")
    print("|---|---|---|")
    for key in ("dice_WT", "dice_ET", "dice_pooled", "iou_WT", "iou_ET", "iou_pooled"):
        print(f"| {key} | {result.best_scores[key]:.4f} | {final[key]:.4f} |")
    print(
        f"| epochs / seconds | {result.best_epoch} | {result.epochs_completed} / {train_s:.0f} s |"
    )
    out = args.json or Path("benchmarks/results") / f"train_segmentation_{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
