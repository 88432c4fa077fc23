"""Predict whole-tumor and enhancing-tumor masks of one volume with a stage 1 model.

The input is a NIfTI volume or one DICOM series folder; the output is a NIfTI label map
aligned voxel for voxel with it (0 background, 1 whole tumor only, 2 enhancing tumor),
the voxel counts, and a montage of the slices with the most tumor, outlined.

    python examples/predict_masks.py                     # synthetic series, tiny model
    python examples/predict_masks.py --model runs/seg --input train/00006/FLAIR \\
        --out FLAIR-masks.nii.gz
    python examples/predict_masks.py --model runs/seg \\
        --input BraTS2021_00006/BraTS2021_00006_flair.nii.gz --plane axial

Without ``--model`` a tiny model is trained on the fly on a synthetic BraTS-like cohort
(about a minute on a CPU: expect rough masks). Without ``--input`` a synthetic DICOM
series is written, whose true masks are known, so the Dice score is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from radiogenomics.records import Plane
from radiogenomics.slicing import Orientation

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads, ever


def train_tiny_model(folder: Path, *, cases: int, epochs: int) -> Path:
    """A stage 1 run trained on a synthetic cohort with the ``tiny`` preset."""
    from radiogenomics.data import prepare_segmentation
    from radiogenomics.presets import get_preset
    from radiogenomics.testing import write_brats_cohort
    from radiogenomics.training import train_segmentation

    if (folder / "run" / "best.safetensors").is_file():  # trained by an earlier run
        return folder / "run"
    preset = get_preset("tiny")
    cohort = write_brats_cohort(folder / "task1", n_cases=cases, seed=0)
    prepare_segmentation(cohort, folder / "slices", config=preset.segmentation_prep)
    train_segmentation(
        folder / "slices",
        folder / "run",
        config=preset.replace(
            segmentation_train={"epochs": epochs, "device": "cpu"}
        ).segmentation_train,
        model_config=preset.segmentation_model,
        progress=False,
    )
    return folder / "run"


def write_synthetic_series(folder: Path, mri_type: str) -> tuple[Path, npt.NDArray[np.uint8]]:
    """One synthetic series as DICOM files, and its true (2, S, R, C) masks.

    As in real scans, FLAIR shows the edema (so the whole tumor) brightly, while the
    enhancing rim (ET) stands out on T1wCE.
    """
    from radiogenomics.testing import make_task2_patient, write_dicom_series

    patient = make_task2_patient("00042", label=1, seed=3, mri_types=(mri_type,))
    series = patient.series[mri_type]
    if not folder.is_dir():  # the same series every time: written once
        write_dicom_series(series.pixels, series.affine, folder, patient_id="00042")
    return folder, np.asarray(series.masks)


def training_orientation(run: Path) -> Orientation:
    """The in-plane layout of the slices the model was trained on (``native`` if unknown).

    A run's ``config.json`` names its prepared folder, whose ``prepare-config.json``
    records the orientation of the slices.
    """
    try:
        data_dir = Path(json.loads((run / "config.json").read_text("utf-8"))["data_dir"])
        prep = json.loads((data_dir / "prepare-config.json").read_text("utf-8"))
    except (OSError, KeyError, ValueError):
        return "native"
    return "radiological" if prep.get("orientation") == "radiological" else "native"


def predict(
    run: Path, source: Path, *, plane: Plane | None, device: str
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float64], str]:
    """Masks of a NIfTI volume or a DICOM series.

    Returns:
        ``(masks, image, affine, plane)``: masks (2, X, Y, Z) and the uint8 image
        (X, Y, Z) in the NIfTI layout of ``affine``, and the plane sliced along.
    """
    from radiogenomics.inference import MaskPredictor, series_masks_to_nifti
    from radiogenomics.io import read_dicom_series, read_nifti
    from radiogenomics.models import load_segmentation_model
    from radiogenomics.presets import get_preset
    from radiogenomics.slicing import to_uint8

    model, config = load_segmentation_model(run, which="best", device=device)
    # Stage 2's settings: the reference zooms in by 1.2 and thresholds at 0.5.
    settings = get_preset("released-code").classification_prep
    predictor = MaskPredictor(
        model,
        image_size=int(config.image_size),
        zoom=settings.zoom,
        threshold=settings.threshold,
        device=device,
    )
    if source.is_dir():  # a DICOM series: slices as acquired, as stage 2 sees them
        series = read_dicom_series(source)
        masks = series_masks_to_nifti(predictor.predict_series(series))
        return masks, to_uint8(series.to_nifti_array()), np.asarray(series.affine), series.plane
    volume, affine = read_nifti(source)
    chosen: Plane = plane or "axial"
    masks = predictor.predict_volume(
        volume, affine, plane=chosen, orientation=training_orientation(run)
    )
    return masks, to_uint8(volume), np.asarray(affine), chosen


def montage_frames(
    image: npt.NDArray[np.uint8], masks: npt.NDArray[np.uint8], *, count: int = 16
) -> npt.NDArray[np.uint8]:
    """[image, WT, ET] frames (N, H, W, 3) of the ``count`` slices with the most tumor.

    Slices are cut along the last array axis (the acquisition axis of a converted DICOM
    series, the axial axis of a BraTS volume).
    """
    area = masks[0].sum(axis=(0, 1))
    chosen = sorted(np.argsort(area)[::-1][:count].tolist())
    frames = np.stack([image, masks[0] * 255, masks[1] * 255], axis=-1)  # (X, Y, Z, 3)
    return np.ascontiguousarray(frames[:, :, chosen].transpose(2, 1, 0, 3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="a .nii/.nii.gz volume or a DICOM folder")
    parser.add_argument("--model", type=Path, help="a stage 1 run folder (train-segmentation)")
    parser.add_argument("--out", type=Path, default=Path("masks.nii.gz"), help="label map")
    parser.add_argument("--plane", choices=("sagittal", "coronal", "axial"), help="NIfTI only")
    parser.add_argument(
        "--mri-type",
        choices=("FLAIR", "T1w", "T1wCE", "T2w"),
        default="FLAIR",
        help="the synthetic series' type (without --input)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--work", type=Path, help="scratch folder (default: beside --out)")
    parser.add_argument("--train-cases", type=int, default=6, help="cases of the tiny model")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the tiny model")
    args = parser.parse_args(argv)

    from radiogenomics.inference import check_nifti_path, masks_to_label_map, save_label_map

    check_nifti_path(args.out)  # fail early, before any training
    work: Path = args.work or args.out.parent / (args.out.name.split(".")[0] + "-work")

    # 1. The model: a run folder given, or a tiny one trained now.
    run = args.model or train_tiny_model(work / "model", cases=args.train_cases, epochs=args.epochs)

    # 2. The input: a file or folder given, or a synthetic series with known masks.
    truth: npt.NDArray[np.uint8] | None = None
    source = args.input
    if source is None:
        source, truth = write_synthetic_series(work / "series" / args.mri_type, args.mri_type)

    # 3. Predict, slice by slice, and write the masks with the input's geometry.
    masks, image, affine, plane = predict(run, source, plane=args.plane, device=args.device)
    path = save_label_map(masks_to_label_map(masks), affine, args.out)
    print(
        f"wrote {path}: shape {masks.shape[1:]}, {plane} slices, "
        f"WT {int(np.count_nonzero(masks[0]))} voxels, ET {int(np.count_nonzero(masks[1]))} "
        "voxels"
    )

    # 4. When the true masks are known, how close are the predicted ones?
    if truth is not None:
        import torch

        from radiogenomics.inference import series_masks_to_nifti
        from radiogenomics.metrics import dice_score

        def slices(m: npt.NDArray[np.uint8]) -> torch.Tensor:  # (2, X, Y, Z) -> (Z, 2, X, Y)
            return torch.from_numpy(m.transpose(3, 0, 1, 2).astype(np.float32))

        expected = series_masks_to_nifti(truth)
        dice = dice_score(slices(masks), slices(expected)).tolist()
        print(f"Dice against the true masks: WT {dice[0]:.3f}, ET {dice[1]:.3f}")

    # 5. A montage of the slices with the most tumor, WT and ET outlined.
    from radiogenomics.viz import save_montage

    picture = args.out.with_name(args.out.name.split(".")[0] + "-montage.png")
    save_montage(montage_frames(image, masks), picture, size=96)
    print(f"montage -> {picture}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
