"""The ``radiogenomics`` command line.

Commands:

* ``prepare-segmentation``: BraTS Task 1 folder -> prepared stage 1 slices.
* ``train-segmentation``: prepared slices -> a trained stage 1 model (run folder).
* ``prepare-classification``: Task 2 patients -> the stage 2 frame store.
* ``train-classification``: frame store -> one trained stage 2 classifier per MRI type.
* ``predict``: Task 2 patients -> a Kaggle submission (both stages).
* ``dicom-to-nifti``: one DICOM series -> ``.nii.gz`` with the series' geometry.
* ``segment``: predict WT/ET masks of a NIfTI volume or DICOM series with a stage 1 model.
* ``presets``: print a named preset's settings.
* ``demo``: the foundation demo on a synthetic cohort (and on a real case if given).

Every command exits 0 on success, 1 when some case failed (the others are still
done), 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from radiogenomics.errors import ConfigurationError, RadiogenomicsError

__all__ = ["build_parser", "main"]


# Argument blocks shared by several commands. Each helper adds its options in the order
# the commands list them; the help texts and defaults are the commands' own.


def _add_preset(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        default="writeup",
        choices=("writeup", "released-code"),
        help="settings to start from (default: writeup)",
    )


def _add_area(p: argparse.ArgumentParser) -> None:
    p.add_argument("--area", choices=("pixels", "largest_contour"), help="how areas are measured")


def _add_segmentation_model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--segmentation-model", required=True, type=Path, help="stage 1 training run folder"
    )


def _add_workers(p: argparse.ArgumentParser, *, default: int, help: str) -> None:
    p.add_argument("--workers", type=int, default=default, help=help)


def _add_device(
    p: argparse.ArgumentParser, *, default: str = "cpu", help: str = "torch device (default: cpu)"
) -> None:
    p.add_argument("--device", default=default, help=help)


def _add_batch_size(p: argparse.ArgumentParser, *, default: int, help: str) -> None:
    p.add_argument("--batch-size", type=int, default=default, help=help)


def _add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="delete --out first")


def _add_no_progress(p: argparse.ArgumentParser, *, bars: bool = False) -> None:
    shown = "the progress bars" if bars else "the progress bar"
    p.add_argument("--no-progress", action="store_true", help=f"hide {shown}")


def _add_epochs(p: argparse.ArgumentParser, *, default: int) -> None:
    p.add_argument("--epochs", type=int, default=default, help=f"most epochs (default: {default})")


def _add_optimizer(
    p: argparse.ArgumentParser, *, lr: float, warmup_epochs: int, frozen: str
) -> None:
    """AdamW learning rate and weight decay, and the epochs with a frozen ``frozen``."""
    p.add_argument("--lr", type=float, default=lr, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay")
    p.add_argument(
        "--warmup-epochs", type=int, default=warmup_epochs, help=f"epochs with a frozen {frozen}"
    )


def _add_patience(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--patience", type=int, default=10, help="early stopping patience; 0 never stops"
    )


def _add_val_fraction(p: argparse.ArgumentParser) -> None:
    p.add_argument("--val-fraction", type=float, default=0.2, help="held-out patient fraction")


def _add_image_size(p: argparse.ArgumentParser, *, help: str) -> None:
    p.add_argument("--image-size", type=int, default=224, help=help)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """The training commands' last options: augmentation, AMP, loading, seed, device, resume."""
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"), default="auto")
    _add_workers(p, default=0, help="data loader worker processes")
    p.add_argument("--seed", type=int, default=0)
    _add_device(p, default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_no_progress(p, bars=True)


def _add_prepare_segmentation(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from radiogenomics.io.nifti import MODALITIES
    from radiogenomics.records import PLANES

    p = sub.add_parser(
        "prepare-segmentation",
        help="BraTS Task 1 NIfTI cases -> prepared stage 1 training slices",
        description=(
            "Slice every modality along every plane, sample distinct slices, keep those "
            "with enough tumor, and store them losslessly with WT/ET masks and a manifest. "
            "Defaults follow the writeup; --preset released-code reproduces the released code. "
            "Resumable: rerun the same command after an interruption."
        ),
    )
    p.add_argument(
        "--task1-dir",
        "--data",
        dest="task1_dir",
        required=True,
        type=Path,
        help="folder of BraTS cases (2018-2021 or 2023 naming), or one case folder",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    _add_preset(p)
    p.add_argument("--modalities", nargs="+", choices=MODALITIES, help="modalities to slice")
    p.add_argument("--planes", nargs="+", choices=PLANES, help="planes to slice")
    p.add_argument(
        "--orientation", choices=("native", "radiological"), help="in-plane layout of the slices"
    )
    p.add_argument(
        "--intensity", choices=("minmax", "percentile"), help="per-volume normalisation to uint8"
    )
    p.add_argument("--size", type=int, help="slice size after resizing; 0 keeps native size")
    p.add_argument(
        "--blank-min-fraction",
        type=float,
        help="drop slices whose non-zero fraction is not above this",
    )
    p.add_argument("--min-ratio", type=float, help="keep slices with tumor ratio strictly above")
    p.add_argument("--reference", choices=("brain", "slice"), help="tumor ratio denominator")
    _add_area(p)
    p.add_argument("--max-contours", type=int, help="drop slices with more tumor regions")
    p.add_argument("--sampler", choices=("similarity", "stride"), help="distinct-slice rule")
    p.add_argument("--max-similarity", type=float, help="similarity sampler threshold")
    p.add_argument("--stride-fraction", type=float, help="stride sampler: T = max(round(f n), 1)")
    p.add_argument("--order", choices=("sample-then-filter", "filter-then-sample"))
    guard = p.add_mutually_exclusive_group()
    guard.add_argument(
        "--task2-labels",
        type=Path,
        help="train_labels.csv: leave out Task 1 cases of these Task 2 patients",
    )
    guard.add_argument(
        "--task2-dir", type=Path, help="Task 2 folder: leave out Task 1 cases of its patients"
    )
    _add_workers(p, default=1, help="cases prepared in parallel")
    _add_overwrite(p)
    _add_no_progress(p)
    p.set_defaults(handler=_run_prepare_segmentation)


def _segmentation_config(args: argparse.Namespace) -> object:
    from radiogenomics.presets import segmentation_preset

    changes: dict[str, object] = {}
    for name in (
        "orientation",
        "intensity",
        "blank_min_fraction",
        "min_ratio",
        "reference",
        "area",
        "max_contours",
        "sampler",
        "max_similarity",
        "order",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.modalities:
        changes["modalities"] = tuple(args.modalities)
    if args.planes:
        changes["planes"] = tuple(args.planes)
    if args.size is not None:
        changes["size"] = None if args.size == 0 else args.size
    if args.stride_fraction is not None:
        changes["stride_fraction"] = args.stride_fraction
    return segmentation_preset(args.preset, **changes)


def _run_prepare_segmentation(args: argparse.Namespace) -> int:
    from radiogenomics.data.prepare_segmentation import (
        SegmentationPrepConfig,
        prepare_segmentation,
    )
    from radiogenomics.io.labels import task2_patient_ids
    from radiogenomics.io.nifti import find_brats_cases

    config = _segmentation_config(args)
    assert isinstance(config, SegmentationPrepConfig)
    cases = find_brats_cases(args.task1_dir)
    guard = args.task2_labels or args.task2_dir
    exclude = task2_patient_ids(guard) if guard is not None else None
    print(f"found {len(cases)} cases under {args.task1_dir}", file=sys.stderr)
    report = prepare_segmentation(
        cases,
        args.out,
        config=config,
        workers=args.workers,
        exclude_ids=exclude,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0 if report.ok else 1


def _add_train_segmentation(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train-segmentation",
        help="train the stage 1 segmentation model on prepared slices",
        description=(
            "Train a segmentation_models_pytorch model on the slices written by "
            "prepare-segmentation, validating every epoch on held-out patients. Writes "
            "best.safetensors, last.safetensors, last.state.pt, metrics.jsonl and config.json "
            "under --out. Defaults follow the reference (Unet++/DenseNet121, Dice loss, AdamW "
            "1e-4, batch 128, encoder frozen 10 epochs, early stopping after 10). Nothing is "
            "downloaded: pass pretrained encoder weights as a file with --encoder-weights."
        ),
    )
    p.add_argument("--data", type=Path, required=True, help="prepared folder (manifest.csv)")
    p.add_argument("--out", type=Path, required=True, help="run folder (created)")
    p.add_argument("--architecture", default="UnetPlusPlus", help="smp architecture")
    p.add_argument("--encoder", default="densenet121", help="smp encoder or tu-<timm name>")
    p.add_argument("--encoder-weights", type=Path, help="local file of encoder weights")
    _add_epochs(p, default=180)
    _add_batch_size(p, default=128, help="slices per batch")
    _add_optimizer(p, lr=1e-4, warmup_epochs=10, frozen="encoder")
    _add_patience(p)
    p.add_argument("--plateau-factor", type=float, default=0.1, help="ReduceLROnPlateau factor")
    p.add_argument("--plateau-patience", type=int, default=5, help="ReduceLROnPlateau patience")
    p.add_argument("--loss", choices=("dice", "bce-dice"), default="dice")
    _add_val_fraction(p)
    p.add_argument("--folds", type=int, default=None, help="patient-grouped k-fold instead")
    p.add_argument("--fold", type=int, default=0, help="validation fold (with --folds)")
    _add_image_size(p, help="input size, multiple of 32")
    _add_run_flags(p)
    p.set_defaults(handler=_run_train_segmentation)


def _run_train_segmentation(args: argparse.Namespace) -> int:
    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.training.segmentation import SegmentationTrainConfig, train_segmentation

    config = SegmentationTrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        patience=args.patience or None,
        plateau_factor=args.plateau_factor,
        plateau_patience=args.plateau_patience,
        loss=args.loss,
        val_fraction=args.val_fraction,
        n_folds=args.folds,
        fold=args.fold,
        seed=args.seed,
        image_size=args.image_size,
        augment=not args.no_augment,
        amp=args.amp,
        num_workers=args.workers,
        device=args.device,
    )
    model_config = SegmentationModelConfig(
        architecture=args.architecture, encoder=args.encoder, image_size=args.image_size
    )
    result = train_segmentation(
        args.data,
        args.out,
        config=config,
        model_config=model_config,
        encoder_weights=args.encoder_weights,
        resume=args.resume,
        progress=not args.no_progress,
    )
    scores = ", ".join(
        f"{k} {v:.4f}" for k, v in result.best_scores.items() if k.startswith(("dice", "iou"))
    )
    stop = "stopped early" if result.stopped_early else "finished"
    print(
        f"{stop} after {result.epochs_completed} epochs; best epoch {result.best_epoch}: "
        f"val loss {result.best_val_loss:.4f}; {scores} -> {result.run_dir / 'best.safetensors'}"
    )
    return 0


def _add_prepare_classification(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    from radiogenomics.io.dicom import MRI_TYPES

    p = sub.add_parser(
        "prepare-classification",
        help="Task 2 patients -> the stage 2 frame store (mask-conditioned frames)",
        description=(
            "For every patient and MRI type: read the series in geometric order, normalise "
            "it, predict WT/ET with the stage 1 model, build [image, WT, ET] frames, keep "
            "those with enough tumor and few tumor regions, and store them losslessly with "
            "a manifest. Known-bad series are skipped. Resumable: rerun the same command "
            "after an interruption. Exits 1 when some series failed (see failures.csv)."
        ),
    )
    p.add_argument(
        "--task2-dir", required=True, type=Path, help="Task 2 folder (train/) or one patient"
    )
    p.add_argument("--labels", type=Path, help="train_labels.csv (absent for test data)")
    _add_segmentation_model(p)
    p.add_argument("--out", required=True, type=Path, help="output folder (the frame store)")
    _add_preset(p)
    p.add_argument("--mri-types", nargs="+", choices=MRI_TYPES, help="MRI types to prepare")
    p.add_argument("--min-ratio", type=float, help="keep frames with tumor ratio strictly above")
    p.add_argument("--max-contours", type=int, help="drop frames with more WT contours")
    p.add_argument(
        "--count-holes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count hole contours too (released code)",
    )
    _add_area(p)
    p.add_argument(
        "--include-known-bad", action="store_true", help="also prepare the known-bad series"
    )
    _add_workers(p, default=1, help="patients prepared in parallel")
    _add_device(p, help="torch device of the stage 1 model")
    _add_batch_size(p, default=32, help="slices per stage 1 pass")
    _add_overwrite(p)
    _add_no_progress(p)
    p.set_defaults(handler=_run_prepare_classification)


def _run_prepare_classification(args: argparse.Namespace) -> int:
    from radiogenomics.data.prepare_classification import prepare_classification
    from radiogenomics.presets import classification_preset

    changes: dict[str, object] = {}
    for name in ("min_ratio", "max_contours", "count_holes", "area"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.mri_types:
        changes["mri_types"] = tuple(args.mri_types)
    if args.include_known_bad:
        changes["exclude_known_bad"] = False
    config = classification_preset(args.preset, **changes)
    report = prepare_classification(
        args.task2_dir,
        args.out,
        labels=args.labels,
        segmentation_run=args.segmentation_model,
        config=config,
        workers=args.workers,
        device=args.device,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0 if report.ok else 1


def _add_train_classification(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train-classification",
        help="train the stage 2 MGMT classifier(s) on a prepared frame store",
        description=(
            "Train one sequence classifier (timm backbone shared across frames, "
            "bidirectional LSTM) per MRI type on the chunks of a frame store written by "
            "prepare-classification, validating every epoch on held-out patients "
            "(stratified by label). Writes best.safetensors, last.safetensors, "
            "last.state.pt, metrics.jsonl (loss, chunk AUC, patient AUC), config.json and "
            "prep-config.json under --out (under --out/<MRI type> with --mri-type all). "
            "Defaults follow the reference (ECA-NFNet-L0, hidden 64, 35-frame chunks every "
            "5, batch 4, AdamW 1e-6, backbone frozen 5 epochs, at most 80 epochs, early "
            "stopping after 10). Nothing is downloaded: pass pretrained backbone weights "
            "as a file with --backbone-weights."
        ),
    )
    p.add_argument("--data", type=Path, required=True, help="frame store (series.csv)")
    p.add_argument(
        "--mri-type",
        required=True,
        choices=("FLAIR", "T1w", "T1wCE", "T2w", "all"),
        help="MRI type to train on; all trains each type the store holds",
    )
    p.add_argument("--out", type=Path, required=True, help="run folder (created)")
    p.add_argument("--backbone", default="eca_nfnet_l0", help="timm model name")
    p.add_argument("--backbone-weights", type=Path, help="local file of backbone weights")
    p.add_argument("--hidden-size", type=int, default=64, help="LSTM hidden size (code: 128)")
    p.add_argument("--num-layers", type=int, default=1, help="LSTM layers")
    p.add_argument("--head", choices=("concat", "pooled"), default="concat")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the head")
    p.add_argument("--sequence-length", type=int, default=35, help="frames per chunk")
    p.add_argument("--stride", type=int, default=5, help="frames between chunk starts")
    p.add_argument("--last", choices=("pad", "shift"), default="pad", help="short last chunk")
    _add_image_size(p, help="frame size")
    _add_batch_size(p, default=4, help="chunks per batch")
    _add_optimizer(p, lr=1e-6, warmup_epochs=5, frozen="backbone")
    _add_epochs(p, default=80)
    _add_patience(p)
    _add_val_fraction(p)
    _add_run_flags(p)
    p.set_defaults(handler=_run_train_classification)


def _run_train_classification(args: argparse.Namespace) -> int:
    from radiogenomics.training.classification import (
        ClassificationTrainConfig,
        train_classification,
        train_classification_all,
    )

    config = ClassificationTrainConfig(
        mri_type="FLAIR" if args.mri_type == "all" else args.mri_type,
        backbone=args.backbone,
        backbone_weights=None if args.backbone_weights is None else str(args.backbone_weights),
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        head=args.head,
        dropout=args.dropout,
        sequence_length=args.sequence_length,
        stride=args.stride,
        last=args.last,
        image_size=args.image_size,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        epochs=args.epochs,
        patience=args.patience or None,
        val_fraction=args.val_fraction,
        seed=args.seed,
        augment=not args.no_augment,
        amp=args.amp,
        num_workers=args.workers,
        device=args.device,
    )
    progress = not args.no_progress
    if args.mri_type == "all":
        runs = train_classification_all(
            args.data, args.out, config=config, resume=args.resume, progress=progress
        )
        results = list(runs.values())
    else:
        results = [
            train_classification(
                args.data, args.out, config=config, resume=args.resume, progress=progress
            )
        ]
    for result in results:
        shown = {k: v for k, v in result.best_scores.items() if v == v}  # NaN: no AUC
        scores = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
        stop = "stopped early" if result.stopped_early else "finished"
        print(
            f"{result.mri_type}: {stop} after {result.epochs_completed} epochs; best epoch "
            f"{result.best_epoch}: val loss {result.best_val_loss:.4f}; {scores} -> "
            f"{result.run_dir / 'best.safetensors'}"
        )
    return 0


def _add_predict(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "predict",
        help="Task 2 patients -> submission.csv (stage 1 masks, stage 2 models)",
        description=(
            "Prepare each patient's series as the classification models' training frames "
            "were prepared, predict their chunks (with the reference's 1.2 zoom TTA), "
            "average chunks per series and MRI types per patient, and write the Kaggle "
            "submission: one row per patient found, each exactly once (patients with no "
            "surviving frame get 0.5). Also runs on a single patient folder."
        ),
    )
    p.add_argument(
        "--task2-dir", required=True, type=Path, help="Task 2 folder (test/) or one patient"
    )
    _add_segmentation_model(p)
    p.add_argument(
        "--classification-models",
        required=True,
        nargs="+",
        type=Path,
        help="stage 2 run folders, one per MRI-type model",
    )
    p.add_argument("--out", required=True, type=Path, help="submission CSV to write")
    _add_device(p)
    _add_batch_size(p, default=4, help="chunks per forward pass")
    p.add_argument("--no-tta", action="store_true", help="predict without the 1.2 zoom")
    _add_no_progress(p)
    p.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from radiogenomics.inference.predict import REFERENCE_TTA, run_prediction
    from radiogenomics.inference.submission import write_submission

    result = run_prediction(
        args.task2_dir,
        segmentation_run=args.segmentation_model,
        classification_runs=args.classification_models,
        device=args.device,
        tta=None if args.no_tta else REFERENCE_TTA,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = write_submission(result.probabilities, args.out, expected=list(result.probabilities))
    print(result.summary())
    print(f"wrote {path}: {len(result.probabilities)} patients")
    return 0


def _add_dicom_to_nifti(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dicom-to-nifti",
        help="convert one DICOM series folder to .nii.gz",
        description=(
            "Order slices geometrically, apply rescale and MONOCHROME1, and write a NIfTI "
            "volume whose voxels and affine agree with the DICOM geometry."
        ),
    )
    p.add_argument("series_dir", type=Path, help="folder of one series' .dcm files")
    p.add_argument("out", type=Path, help="output .nii.gz path")
    p.set_defaults(handler=_run_dicom_to_nifti)


def _run_dicom_to_nifti(args: argparse.Namespace) -> int:
    from radiogenomics.io.dicom import read_dicom_series, series_to_nifti

    path = series_to_nifti(args.series_dir, args.out)
    series = read_dicom_series(args.series_dir)
    print(
        f"wrote {path}: {series.pixels.shape[0]} slices, {series.plane} plane, "
        f"spacing {tuple(round(s, 3) for s in series.spacing)} mm"
    )
    return 0


def _add_segment(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from radiogenomics.records import PLANES

    p = sub.add_parser(
        "segment",
        help="predict WT/ET tumor masks of a NIfTI volume or DICOM series folder",
        description=(
            "Predict whole-tumor (WT) and enhancing-tumor (ET) masks with a trained stage 1 "
            "model, slice by slice with the reference's zoom and its inverse, and write them "
            "aligned voxel for voxel with the input as a uint8 NIfTI label map: 0 background, "
            "1 WT (not ET), 2 ET. A DICOM series is sliced along its acquisition plane and "
            "written in its NIfTI layout (as dicom-to-nifti writes the image)."
        ),
    )
    p.add_argument("--model", required=True, type=Path, help="stage 1 training run folder")
    p.add_argument("input", type=Path, help="a .nii/.nii.gz volume or a DICOM series folder")
    p.add_argument("out", type=Path, help="output .nii.gz label map")
    _add_device(p)
    _add_batch_size(p, default=32, help="slices per forward pass")
    p.add_argument("--zoom", type=float, default=1.2, help="zoom factor (default: 1.2)")
    p.add_argument(
        "--plane",
        choices=PLANES,
        default=None,
        help="plane to slice along (default: axial for NIfTI, the acquisition plane for DICOM)",
    )
    p.add_argument(
        "--orientation",
        choices=("native", "radiological"),
        default="native",
        help="in-plane layout of NIfTI slices, as the model was trained (default: native)",
    )
    p.set_defaults(handler=_run_segment)


def _run_segment(args: argparse.Namespace) -> int:
    import importlib

    import numpy as np

    from radiogenomics.errors import InputNotFoundError
    from radiogenomics.inference import (
        MaskPredictor,
        check_nifti_path,
        masks_to_label_map,
        save_label_map,
        series_masks_to_nifti,
    )
    from radiogenomics.io.dicom import read_dicom_series
    from radiogenomics.io.nifti import read_nifti

    check_nifti_path(args.out)
    source: Path = args.input
    if not source.exists():
        raise InputNotFoundError(
            "the input does not exist; pass a .nii/.nii.gz volume or a DICOM series folder.",
            path=source,
        )
    is_dicom = source.is_dir()
    if not is_dicom:
        check_nifti_path(source, name="input")
    models = importlib.import_module("radiogenomics.models")
    model, config = models.load_segmentation_model(args.model, which="best", device=args.device)
    predictor = MaskPredictor(
        model,
        image_size=int(config.image_size),
        zoom=args.zoom,
        batch_size=args.batch_size,
        device=args.device,
    )
    if is_dicom:
        series = read_dicom_series(source)
        affine = np.array(series.affine)
        if args.plane is None or args.plane == series.plane:
            masks = np.ascontiguousarray(series_masks_to_nifti(predictor.predict_series(series)))
            plane = series.plane
        else:
            plane = args.plane
            masks = predictor.predict_volume(
                series.to_nifti_array(), affine, plane=plane, orientation=args.orientation
            )
    else:
        volume, affine = read_nifti(source)
        plane = args.plane or "axial"
        masks = predictor.predict_volume(volume, affine, plane=plane, orientation=args.orientation)
    path = save_label_map(masks_to_label_map(masks), affine, args.out)
    print(
        f"wrote {path}: shape {masks.shape[1:]}, {plane} slices, "
        f"WT {int(np.count_nonzero(masks[0] | masks[1]))} voxels, "
        f"ET {int(np.count_nonzero(masks[1]))} voxels"
    )
    return 0


def _add_presets(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("presets", help="print the settings of a named preset")
    p.add_argument("name", nargs="?", choices=("writeup", "released-code"), default=None)
    p.set_defaults(handler=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from radiogenomics.presets import PRESETS, classification_preset, segmentation_preset

    for name in [args.name] if args.name else list(PRESETS):
        print(f"# {name}: stage 1 preparation")
        print(segmentation_preset(name).to_json())
        print(f"# {name}: stage 2 preparation")
        print(classification_preset(name).to_json())
    return 0


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the slice pipeline on a synthetic cohort (and a real case if given)",
    )
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    p.add_argument("--cases", type=int, default=6, help="synthetic cases to generate")
    p.add_argument(
        "--real-case",
        type=Path,
        default=None,
        help="a BraTS case folder (e.g. ../shared/data/brats2021/BraTS2021_00006)",
    )
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from radiogenomics.demo import run_demo

    return run_demo(
        out=args.out, n_cases=args.cases, real_case=args.real_case, workers=args.workers
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``radiogenomics`` command."""
    from radiogenomics import __version__

    parser = argparse.ArgumentParser(
        prog="radiogenomics",
        description="MGMT promoter methylation from brain MRI: data preparation and tools.",
    )
    parser.add_argument("--version", action="version", version=f"radiogenomics {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare_segmentation(sub)
    _add_train_segmentation(sub)
    _add_prepare_classification(sub)
    _add_train_classification(sub)
    _add_predict(sub)
    _add_dicom_to_nifti(sub)
    _add_segment(sub)
    _add_presets(sub)
    _add_demo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except RadiogenomicsError as error:
        print(f"radiogenomics {args.command}: error: {error}", file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 2 if isinstance(error, ConfigurationError) else 1
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
