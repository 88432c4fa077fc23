"""Stage 1 on whole volumes: tumor-free training slices and mask clean-up, measured.

The seed's stage 1 is trained on tumor slices only; stage 2 runs it on every slice. This
script trains the same small model the seed's way and with tumor-free slices
(``prepare-segmentation --negative-fraction F``), and scores each on whole volumes with
``evaluate-segmentation`` (Dice over the tumor slices, the false-positive slice rate),
without and with a clean-up of the predicted masks (``--cleanup-below``). Three parts:

* ``real``: the real case ``BraTS2021_00006`` and a left-right mirrored copy of it (so a
  patient split exists: one is trained on, the other validates), ``tiny`` preset at
  128 px, the same number of epochs for every fraction; scored on the real case's FLAIR
  along each plane (the issue's measure: the model has seen the case, so this measures
  what it does on tumor-free slices, not generalisation).
* ``synthetic``: synthetic BraTS-like cases at 64 px; trained on the first ones, scored on
  held-out cases never seen in training (all four modalities, each plane).
* ``stage2``: the synthetic runs' masks on a synthetic Task 2 cohort, whose true tumor is
  known: how many frames the stage 2 recipe keeps, and how many of them show no true
  tumor, seed's stage 1 against the new one.

Commands (2 CPU cores; each part prints its table and writes
``benchmarks/results/stage1_negatives-<part>.json`` and ``.md``)::

    .venv/bin/python benchmarks/stage1_negatives.py real
    .venv/bin/python benchmarks/stage1_negatives.py synthetic
    .venv/bin/python benchmarks/stage1_negatives.py stage2 --work /tmp/s1neg

``stage2`` reuses the synthetic runs of ``synthetic --work DIR`` (trains them when absent).
Goal (issue 13): a false-positive slice rate at least 3x lower than the seed's, with a
tumor-slice WT Dice at most 0.02 lower.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import Log, machine, write_results

REAL_CASE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brats2021" / "BraTS2021_00006"
)
RESULTS = Path(__file__).resolve().parent / "results"
MIRROR_ID = "BraTS2021_99006"


@dataclass(frozen=True)
class Cleanup:
    """One clean-up setting (``drop_below`` 0: none)."""

    drop_below: int = 0
    dims: str = "3d"

    @property
    def label(self) -> str:
        return "none" if not self.drop_below else f"{self.dims} < {self.drop_below}"

    def build(self) -> Any:
        from radiogenomics.inference import MaskCleanup

        if not self.drop_below:
            return None
        return MaskCleanup(drop_below=self.drop_below, dims=self.dims)  # type: ignore[arg-type]


def parse_cleanup(text: str) -> Cleanup:
    """``none``, ``3d:200`` or ``2d:30``."""
    if text == "none":
        return Cleanup()
    dims, _, size = text.partition(":")
    return Cleanup(drop_below=int(size), dims=dims)


def write_mirror(case: Path, out: Path, case_id: str) -> Path:
    """A left-right mirrored copy of a BraTS 2021 case (every volume and its labels).

    The voxels are flipped along the stored axis that runs left-right; the affine is kept,
    so the copy is the same head with its hemispheres swapped.
    """
    import nibabel as nib
    import numpy as np

    folder = out / case_id
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(case.glob("*.nii.gz")):
        image = nib.load(path)
        axis = int(np.argmax(np.abs(image.affine[0, :3])))  # the x (left-right) voxel axis
        data = np.flip(np.asarray(image.dataobj), axis=axis)
        suffix = path.name[len(case.name) :]
        copy = nib.Nifti1Image(np.ascontiguousarray(data), image.affine, image.header)
        nib.save(copy, folder / f"{case_id}{suffix}")
    return folder


def train_run(
    cases: Sequence[Any],
    work: Path,
    *,
    fraction: float,
    size: int,
    epochs: int,
    seed: int,
    log: Log,
) -> dict[str, Any]:
    """Prepare with ``negative_fraction=fraction`` and train the tiny model: the run."""
    from radiogenomics.data import PreparedSlices, prepare_segmentation
    from radiogenomics.presets import get_preset
    from radiogenomics.training import train_segmentation

    name = f"f{fraction:g}"
    prepared, run = work / f"prepared-{name}", work / f"run-{name}"
    preset = get_preset("tiny").replace(
        segmentation_prep={"size": size, "negative_fraction": fraction},
        segmentation_model={"image_size": size},
        segmentation_train={"image_size": size, "epochs": epochs, "seed": seed, "device": "cpu"},
    )
    began = time.perf_counter()
    prepare_segmentation(cases, prepared, config=preset.segmentation_prep, workers=2)
    store = PreparedSlices(prepared)
    prep_s = time.perf_counter() - began
    if not (run / "best.safetensors").is_file() or not _finished(run, epochs):
        began = time.perf_counter()
        train_segmentation(
            prepared,
            run,
            config=preset.segmentation_train,
            model_config=preset.segmentation_model,
            resume=run.exists(),
            progress=False,
        )
        train_s = time.perf_counter() - began
    else:
        train_s = float("nan")
    from radiogenomics.viz import read_history

    history = read_history(run)
    best = [line for line in history if line.get("best")][-1]
    log(
        f"F={fraction:g}: {len(store)} slices ({len(store.tumor_free_rows)} tumor-free), "
        f"prepared in {prep_s:.0f} s, trained {len(history)} epochs in {train_s:.0f} s; "
        f"best epoch {best['epoch']}: val dice_WT {best['dice_WT']:.3f}"
        + (
            f", fp_slice_rate_WT {best['fp_slice_rate_WT']:.3f}"
            if "fp_slice_rate_WT" in best
            else ""
        )
    )
    return {
        "fraction": fraction,
        "run": run,
        "slices": len(store),
        "tumor_free_slices": len(store.tumor_free_rows),
        "train_seconds": train_s,
        "best_epoch": best["epoch"],
        "validation": {k: v for k, v in best.items() if k.startswith(("dice", "fp_", "val_"))},
    }


def _finished(run: Path, epochs: int) -> bool:
    from radiogenomics.viz import read_history

    try:
        return len(read_history(run)) >= epochs
    except Exception:
        return False


def evaluate(
    run: Path,
    cases: Sequence[Any],
    *,
    cleanup: Cleanup,
    modalities: Sequence[str],
    planes: Sequence[str],
) -> dict[str, dict[str, float]]:
    """The run's whole-volume scores (summary rows) with a clean-up: plane -> figures."""
    from radiogenomics.evaluation import evaluate_segmentation
    from radiogenomics.inference import MaskPredictor
    from radiogenomics.models import load_segmentation_model, training_orientation

    model, config = load_segmentation_model(run, which="best")
    predictor = MaskPredictor(model, image_size=int(config.image_size), cleanup=cleanup.build())
    result = evaluate_segmentation(
        cases,
        predictor,
        orientation=training_orientation(run) or "native",
        planes=planes,  # type: ignore[arg-type]
        modalities=modalities,
    )
    figures: dict[str, dict[str, float]] = {}
    for row in result.summary():
        if row.region != "WT":
            continue
        s = row.scores
        figures[row.plane] = {
            "tumor_slices": s.tumor_slices,
            "dice_tumor_slices": s.dice_tumor_slices,
            "tumor_free_slices": s.tumor_free_slices,
            "fp_slices": s.fp_slices,
            "fp_slice_rate": s.fp_slice_rate,
            "brain_tumor_free_slices": s.brain_tumor_free_slices,
            "brain_fp_slices": s.brain_fp_slices,
            "brain_fp_slice_rate": s.brain_fp_slice_rate,
            "fp_voxels": s.fp_voxels,
            "dice_volume": s.dice_volume,
        }
    return figures


def table(rows: list[dict[str, Any]], planes: Sequence[str], title: str) -> str:
    """Markdown: one line per training setting and clean-up; per plane Dice and FP rates."""
    header = "| training | clean-up | " + " | ".join(
        f"{p}: WT Dice (tumor slices) | {p}: FP slices | {p}: FP brain slices"
        for p in [*planes, "all"]
    )
    lines = [f"### {title}", "", header + " |", "|" + "---|" * (2 + 3 * (len(planes) + 1))]
    for row in rows:
        cells = [row["training"], row["cleanup"]]
        for plane in [*planes, "all"]:
            f = row["figures"][plane]
            cells += [
                f"{f['dice_tumor_slices']:.3f}",
                f"{f['fp_slices']}/{f['tumor_free_slices']} ({f['fp_slice_rate']:.2f})",
                f"{f['brain_fp_slices']}/{f['brain_tumor_free_slices']} "
                f"({f['brain_fp_slice_rate']:.2f})",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _training(fraction: float) -> str:
    return "seed (tumor slices only)" if fraction == 0 else f"--negative-fraction {fraction:g}"


def scored_rows(
    runs: Sequence[dict[str, Any]],
    cases: Sequence[Any],
    cleanups: Sequence[Cleanup],
    *,
    modalities: Sequence[str],
    planes: Sequence[str],
    log: Log,
) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for cleanup in cleanups:
            figures = evaluate(
                run["run"], cases, cleanup=cleanup, modalities=modalities, planes=planes
            )
            every = figures["all"]
            log(
                f"F={run['fraction']:g}, clean-up {cleanup.label}: WT Dice on tumor slices "
                f"{every['dice_tumor_slices']:.3f}, FP slices {every['fp_slices']}/"
                f"{every['tumor_free_slices']} ({every['fp_slice_rate']:.3f}), on brain slices "
                f"{every['brain_fp_slices']}/{every['brain_tumor_free_slices']} "
                f"({every['brain_fp_slice_rate']:.3f})"
            )
            rows.append(
                {
                    "training": _training(run["fraction"]),
                    "fraction": run["fraction"],
                    "cleanup": cleanup.label,
                    "figures": figures,
                }
            )
    return rows


def part_real(args: argparse.Namespace, work: Path, log: Log) -> dict[str, Any]:
    from radiogenomics.io import find_brats_cases

    task1 = work / "task1"
    if not (task1 / REAL_CASE.name).exists():
        task1.mkdir(parents=True, exist_ok=True)
        (task1 / REAL_CASE.name).symlink_to(args.real_case.resolve(), target_is_directory=True)
        write_mirror(args.real_case, task1, MIRROR_ID)
    cases = find_brats_cases(task1)
    runs = [
        train_run(
            cases, work, fraction=f, size=args.size, epochs=args.epochs, seed=args.seed, log=log
        )
        for f in args.fractions
    ]
    real = [c for c in cases if c.case_id == REAL_CASE.name]
    planes = ("sagittal", "coronal", "axial")
    rows = scored_rows(runs, real, args.cleanup, modalities=("flair",), planes=planes, log=log)
    return {"runs": runs, "rows": rows, "planes": planes}


def part_synthetic(args: argparse.Namespace, work: Path, log: Log) -> dict[str, Any]:
    from radiogenomics.io import find_brats_cases
    from radiogenomics.testing import write_brats_cohort

    task1, held_out = work / "synthetic-train", work / "synthetic-held-out"
    if not task1.exists():
        write_brats_cohort(task1, n_cases=args.cases, seed=args.seed)
        write_brats_cohort(held_out, n_cases=args.held_out, seed=args.seed + 1, first_id=9001)
    cases, test = find_brats_cases(task1), find_brats_cases(held_out)
    runs = [
        train_run(
            cases, work, fraction=f, size=args.size, epochs=args.epochs, seed=args.seed, log=log
        )
        for f in args.fractions
    ]
    planes = ("sagittal", "coronal", "axial")
    modalities = ("flair", "t1", "t1ce", "t2")
    rows = scored_rows(runs, test, args.cleanup, modalities=modalities, planes=planes, log=log)
    return {"runs": runs, "rows": rows, "planes": planes}


def part_stage2(args: argparse.Namespace, work: Path, log: Log) -> dict[str, Any]:
    """Kept frames with no true tumor on a synthetic Task 2 cohort, per stage 1 run."""
    from radiogenomics.data import FrameRecipe
    from radiogenomics.inference import MaskPredictor
    from radiogenomics.models import load_segmentation_model
    from radiogenomics.presets import classification_preset
    from radiogenomics.testing import make_task2_patient

    synthetic = part_synthetic(args, work, log)
    patients = [
        make_task2_patient(f"{i:05d}", label=i % 2, seed=1000 + i, size=args.size)
        for i in range(args.patients)
    ]
    rows = []
    for run in synthetic["runs"]:
        model, config = load_segmentation_model(run["run"], which="best")
        for cleanup in args.cleanup:
            prep = classification_preset(
                "tiny", cleanup_drop_below=cleanup.drop_below, cleanup_dims=cleanup.dims
            )
            predictor = MaskPredictor(
                model, image_size=int(config.image_size), cleanup=prep.mask_cleanup()
            )
            recipe = FrameRecipe.from_config(prep, predictor)
            kept = without = tumor_slices = 0
            for patient in patients:
                for series in patient.series.values():
                    _, records = recipe(series.pixels)
                    truth = series.masks[0]
                    kept += len(records)
                    without += sum(not truth[r.index].any() for r in records)
                    tumor_slices += int(truth.reshape(truth.shape[0], -1).any(axis=1).sum())
            log(
                f"stage 2, F={run['fraction']:g}, clean-up {cleanup.label}: {kept} frames kept, "
                f"{without} without true tumor ({tumor_slices} slices with tumor)"
            )
            rows.append(
                {
                    "training": _training(run["fraction"]),
                    "cleanup": cleanup.label,
                    "frames_kept": kept,
                    "frames_without_true_tumor": without,
                    "slices_with_true_tumor": tumor_slices,
                }
            )
    return {"synthetic": synthetic, "rows": rows}


def stage2_table(rows: Sequence[dict[str, Any]], patients: int) -> str:
    lines = [
        f"### Stage 2 frames on {patients} synthetic Task 2 patients (4 series each)",
        "",
        "| stage 1 training | clean-up | frames kept | kept frames with no true tumor |",
        "|---|---|---|---|",
    ]
    for row in rows:
        share = row["frames_without_true_tumor"] / max(row["frames_kept"], 1)
        lines.append(
            f"| {row['training']} | {row['cleanup']} | {row['frames_kept']} | "
            f"{row['frames_without_true_tumor']} ({share:.1%}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("real", "synthetic", "stage2"))
    parser.add_argument("--work", type=Path, help="scratch folder, kept (default: a temporary one)")
    parser.add_argument("--real-case", type=Path, default=REAL_CASE)
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0], help="values of F"
    )
    parser.add_argument(
        "--cleanup",
        type=parse_cleanup,
        nargs="+",
        default=[Cleanup(), Cleanup(100, "3d"), Cleanup(1000, "3d"), Cleanup(30, "2d")],
        help="clean-ups to score: none, 3d:VOXELS, 2d:PIXELS",
    )
    parser.add_argument("--size", type=int, help="slice size (default: 128 real, 64 synthetic)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--cases", type=int, default=12, help="synthetic training cases")
    parser.add_argument("--held-out", type=int, default=4, help="synthetic held-out cases")
    parser.add_argument("--patients", type=int, default=8, help="synthetic Task 2 patients")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="", help="suffix of the results' file names")
    args = parser.parse_args()
    if args.size is None:
        args.size = 128 if args.part == "real" else 64
    if args.part == "real" and not args.real_case.is_dir():
        parser.error(f"no real case at {args.real_case}; pass --real-case")

    import torch

    torch.set_num_threads(2)
    log = Log()
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-stage1-negatives-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"work folder {work}")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    settings["cleanup"] = [c.label for c in args.cleanup]
    if args.part == "stage2":
        outcome = part_stage2(args, work, log)
        synthetic = outcome["synthetic"]
        text = table(synthetic["rows"], synthetic["planes"], "Synthetic held-out cases")
        text += "\n" + stage2_table(outcome["rows"], args.patients)
    else:
        outcome = (
            part_real(args, work, log) if args.part == "real" else part_synthetic(args, work, log)
        )
        title = (
            "Real case BraTS2021_00006 (FLAIR), trained on it and its mirror"
            if args.part == "real"
            else f"Synthetic: {args.held_out} held-out cases, all modalities"
        )
        text = table(outcome["rows"], outcome["planes"], title)
    record = {"part": args.part, "settings": settings, "machine": machine(), **outcome}
    name = f"stage1_negatives-{args.part}{'-' + args.tag if args.tag else ''}.json"
    write_results(record, text, RESULTS / name)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
