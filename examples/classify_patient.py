"""Classify one new patient: four DICOM series in, an MGMT probability out.

The patient folder holds one DICOM series per MRI type (``FLAIR``, ``T1w``, ``T1wCE``,
``T2w``; a missing one is skipped). Each series is read in geometric order, its tumor
masks are predicted by the stage 1 model, frames that show enough tumor go through the
stage 2 model of that MRI type, and the probabilities are averaged: over the series'
chunks, then over the MRI types.

    python examples/classify_patient.py --patient test/00013 --runs two-stage-out
    python examples/classify_patient.py --patient test/00013 --segmentation-model runs/seg \\
        --classification-models runs/cls/FLAIR runs/cls/T1w runs/cls/T1wCE runs/cls/T2w
    python examples/classify_patient.py          # synthetic patient, quick models

``--runs`` is the ``--out`` folder of ``examples/two_stage_solution.py``. Without any
model, quick ones are trained first by that example on small synthetic settings (a
minute or two; their probabilities mean little). Without ``--patient``, a synthetic
patient with a known label is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads, ever

EXAMPLES = Path(__file__).resolve().parent


def quick_runs(folder: Path) -> Path:
    """Train small stage 1 and stage 2 runs with the two-stage example (synthetic data)."""
    sys.path.insert(0, str(EXAMPLES))
    import two_stage_solution

    if not (folder / "summary.json").is_file():  # not trained yet
        settings = ["--task1-cases", "4", "--patients", "16", "--test-patients", "4"]
        settings += ["--seg-epochs", "3", "--cls-epochs", "3", "--workers", "1"]
        two_stage_solution.main(["--out", str(folder), "--resume", *settings])
    return folder


def write_synthetic_patient(folder: Path, mri_types: tuple[str, ...]) -> tuple[Path, int]:
    """A synthetic patient's four DICOM series, and its MGMT label."""
    from radiogenomics.testing import make_task2_patient, write_dicom_series

    label = 1
    patient = make_task2_patient("00777", label=label, seed=77, mri_types=mri_types)
    for mri_type, series in patient.series.items():
        if not (folder / mri_type).is_dir():
            write_dicom_series(
                series.pixels,
                series.affine,
                folder / mri_type,
                rescale_slope=series.rescale_slope,
                rescale_intercept=series.rescale_intercept,
                patient_id="00777",
                mri_type=mri_type,
            )
    return folder, label


def run_mri_type(run: Path) -> str:
    """The MRI type a stage 2 run classifies (from its ``config.json``)."""
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    return str(config["train_config"]["mri_type"])


def classify(
    patient: Path, segmentation_run: Path, classification_runs: list[Path], device: str
) -> tuple[dict[str, float | None], float]:
    """The probability of each MRI type (None: no frame kept) and the combined one.

    Each MRI type's model predicts its own series: the mean over the series' chunks.
    The patient's probability is the mean over the MRI types that kept a chunk (the
    fallback, 0.5, when none did).
    """
    from radiogenomics.inference import mean_over_mri_types, run_prediction
    from radiogenomics.presets import get_preset

    settings = get_preset("released-code").prediction  # TTA: one view zoomed in by 1.2
    per_type: dict[str, float | None] = {}
    series: dict[tuple[str, str], float] = {}
    patient_id = patient.name
    for run in classification_runs:
        mri_type = run_mri_type(run)
        result = run_prediction(
            patient,
            segmentation_run=segmentation_run,
            classification_runs=[run],
            device=device,
            tta=settings.tta(),
            fallback=settings.fallback,
        )
        for line in result.summary().splitlines()[1:]:  # a series that could not be read
            print(line)
        ((patient_id, probability),) = result.probabilities.items()
        kept = result.chunks.get((patient_id, mri_type), 0) > 0
        per_type[mri_type] = probability if kept else None
        if kept:
            series[(patient_id, mri_type)] = probability
    combined = mean_over_mri_types(series, [patient_id], fallback=settings.fallback)
    return per_type, combined[patient_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patient", type=Path, help="patient folder (FLAIR/, T1w/, ...)")
    parser.add_argument("--runs", type=Path, help="--out folder of two_stage_solution.py")
    parser.add_argument("--segmentation-model", type=Path, help="stage 1 run folder")
    parser.add_argument("--classification-models", type=Path, nargs="+", help="stage 2 runs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--work", type=Path, default=Path("classify-patient-work"))
    args = parser.parse_args(argv)
    if (args.segmentation_model is None) != (args.classification_models is None):
        parser.error("give both --segmentation-model and --classification-models, or --runs")

    # 1. The models: named run folders, the two-stage example's output, or quick ones.
    if args.segmentation_model is not None:
        seg_run, cls_runs = args.segmentation_model, list(args.classification_models)
    else:
        runs = args.runs or quick_runs(args.work / "runs")
        seg_run = runs / "stage1-run"
        cls_runs = sorted(p for p in (runs / "stage2-runs").iterdir() if p.is_dir())
    print(f"stage 1: {seg_run}; stage 2: {', '.join(p.name for p in cls_runs)}")

    # 2. The patient: a folder given, or a synthetic one with a known label.
    label: int | None = None
    patient = args.patient
    if patient is None:
        mri_types = tuple(run_mri_type(run) for run in cls_runs)
        patient, label = write_synthetic_patient(args.work / "patient" / "00777", mri_types)

    # 3. Classify: per MRI type, then combined.
    per_type, combined = classify(patient, seg_run, cls_runs, args.device)
    for mri_type, probability in per_type.items():
        shown = "no frame kept" if probability is None else f"{probability:.3f}"
        print(f"{mri_type:>6}: P(MGMT methylated) = {shown}")
    known = "" if label is None else f" (true label {label})"
    print(f"patient {patient.name}: P(MGMT methylated) = {combined:.3f}{known}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
