"""The foundation demo: stage 1 preparation on a synthetic cohort and a real case."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from radiogenomics.data.prepare_segmentation import prepare_segmentation
from radiogenomics.data.store import read_manifest
from radiogenomics.io.nifti import find_brats_cases
from radiogenomics.presets import segmentation_preset

__all__ = ["run_demo"]


def _describe(out: Path) -> str:
    rows = read_manifest(out / "manifest.csv")
    by_plane = Counter(r["plane"] for r in rows)
    by_modality = Counter(r["modality"] for r in rows)
    ratios = [float(r["tumor_ratio"]) for r in rows if r["tumor_ratio"]]
    mean_ratio = sum(ratios) / len(ratios) if ratios else 0.0
    return (
        f"  {len(rows)} slices kept; per plane {dict(sorted(by_plane.items()))}; "
        f"per modality {dict(sorted(by_modality.items()))}; mean tumor ratio {mean_ratio:.3f}"
    )


def _montage(prepared: Path, out: Path) -> str:
    """Write a montage PNG of one prepared case's kept slices; describe it."""
    from radiogenomics.errors import InputNotFoundError
    from radiogenomics.viz import read_case_slices, save_montage

    try:
        slices = read_case_slices(prepared, limit=32)
    except InputNotFoundError:
        return "  no kept slice to show in a montage"
    path = save_montage(slices, out, columns=8, size=128)
    return f"  montage of {len(slices)} kept slices of {slices[0].patient_id} -> {path}"


def _dicom_demo(root: Path) -> None:
    """Write Kaggle-like DICOM patients, read each series back, convert one to NIfTI."""
    from radiogenomics.io.dicom import find_task2_patients, read_dicom_series, series_to_nifti
    from radiogenomics.io.labels import drop_known_bad, read_labels
    from radiogenomics.testing import write_task2_cohort

    if not (root / "train_labels.csv").is_file():
        write_task2_cohort(root, n_patients=2, seed=0, size=64)
    labels = read_labels(root / "train_labels.csv")
    patients, removed = drop_known_bad(find_task2_patients(root / "train"))
    if removed:
        print(f"  known-bad series left out (pass exclude=() to keep them): {removed}")
    print(f"synthetic Task 2: {len(patients)} DICOM patients in {root} (labels {labels})")
    for patient_id, series in patients.items():
        parts = []
        for mri_type, folder in series.items():
            dicom = read_dicom_series(folder, patient_id=patient_id, mri_type=mri_type)
            parts.append(f"{mri_type} {dicom.plane} {dicom.pixels.shape[0]} slices")
        print(f"  patient {patient_id}: " + "; ".join(parts))
    patient_id, series = next(iter(patients.items()))
    mri_type, folder = next(iter(series.items()))
    path = series_to_nifti(folder, root / f"{patient_id}_{mri_type}.nii.gz")
    print(f"  dicom-to-nifti: {folder} -> {path}")


def run_demo(
    *, out: Path, n_cases: int = 6, real_case: Path | None = None, workers: int = 2
) -> int:
    """Generate a synthetic Task 1 cohort, prepare it under both presets, report.

    With ``real_case`` (a BraTS case folder), prepare that case too. For each
    preparation, a montage of (at most 32) kept slices of one case, with WT (green) and
    ET (red) outlines, is written to ``out/montage-<synthetic|real>-<preset>.png``.

    Returns:
        0 when every case was prepared, else 1.
    """
    from radiogenomics.testing import write_brats_cohort

    out = Path(out)
    status = 0
    started = time.perf_counter()
    cohort = out / "synthetic-task1"
    if not cohort.exists():
        write_brats_cohort(cohort, n_cases=n_cases, seed=0)
    cases = find_brats_cases(cohort)
    print(f"synthetic cohort: {len(cases)} BraTS-like cases in {cohort}")
    targets: list[tuple[str, list]] = [("synthetic", cases)]  # type: ignore[type-arg]
    if real_case is not None:
        real = find_brats_cases(real_case)
        print(f"real data: {[c.case_id for c in real]} from {real_case}")
        targets.append(("real", real))
    for label, group in targets:
        for preset in ("writeup", "released-code"):
            target = out / f"prepared-{label}-{preset}"
            report = prepare_segmentation(
                group,
                target,
                config=segmentation_preset(preset),
                workers=workers,
            )
            print(f"[{label} / preset {preset}] {report.summary()}")
            print(_describe(target))
            print(_montage(target, out / f"montage-{label}-{preset}.png"))
            status |= 0 if report.ok else 1
    _dicom_demo(out / "synthetic-task2")
    print(f"demo finished in {time.perf_counter() - started:.1f} s; outputs under {out}")
    return status
