"""The ``radiogenomics`` command line.

Commands:

* ``prepare-segmentation``: BraTS Task 1 folder -> prepared stage 1 slices.
* ``train-segmentation``: prepared slices -> a trained stage 1 model (run folder).
* ``prepare-classification``: Task 2 patients -> the stage 2 frame store.
* ``train-classification``: frame store -> one trained stage 2 classifier per MRI type.
* ``cross-validate-classification``: frame store -> K-fold out-of-fold AUCs of stage 2.
* ``compare``: two cross-validations of the same patients -> ΔAUC, interval, p-value.
* ``predict``: Task 2 patients -> a Kaggle submission (both stages).
* ``dicom-to-nifti``: one DICOM series -> ``.nii.gz`` with the series' geometry.
* ``segment``: predict WT/ET masks of a NIfTI volume or DICOM series with a stage 1 model.
* ``evaluate-segmentation``: score a stage 1 model on whole BraTS volumes (Dice,
  false-positive slices).
* ``presets``: print a named preset's settings.
* ``demo``: the foundation demo on a synthetic cohort (and on a real case if given).
* ``plot``: training curves, ROC curves, slice and frame montages (:mod:`radiogenomics.viz`).

Every command exits 0 on success, 1 when some case failed (the others are still
done), 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radiogenomics._outputs import check_apart
from radiogenomics.errors import ConfigurationError, RadiogenomicsError

__all__ = ["build_parser", "main"]


# Argument blocks shared by several commands. Each helper adds its options in the order
# the commands list them; the help texts and defaults are the commands' own.


def _add_preset(p: argparse.ArgumentParser) -> None:
    from radiogenomics.presets import PRESETS

    p.add_argument(
        "--preset",
        default="writeup",
        choices=PRESETS,
        help="settings to start from; the other options change them (default: writeup)",
    )


def _add_settings(p: argparse.ArgumentParser, settings: type, *, skip: Sequence[str] = ()) -> None:
    """One option per described field of a settings class (its help, type and choices).

    The options have no default here: one left out is not in the parsed arguments, and
    the preset gives its value (``radiogenomics presets NAME`` prints a preset's).
    """
    from radiogenomics._options import options_of

    for option in options_of(settings):
        if option.name in skip:
            continue
        kwargs: dict[str, Any] = {
            "dest": option.name,
            "default": argparse.SUPPRESS,
            "help": option.help,
        }
        if option.kind == "choice":
            kwargs["choices"] = option.choices
        elif option.kind == "switch":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.kind == "flag":
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = option.type
            kwargs["metavar"] = option.flag.lstrip("-").upper().replace("-", "_")
        p.add_argument(option.flag, **kwargs)


def _settings_given(args: argparse.Namespace, settings: type) -> dict[str, Any]:
    """The fields of ``settings`` set on the command line, as ``{field: value}``."""
    from radiogenomics._options import options_of

    given = vars(args)
    changes: dict[str, Any] = {}
    for option in options_of(settings):
        if option.name in given:
            value = given[option.name]
            none = option.none_as is not None and value == option.none_as
            changes[option.name] = None if none else value
    return changes


def _add_area(p: argparse.ArgumentParser) -> None:
    p.add_argument("--area", choices=("pixels", "largest_contour"), help="how areas are measured")


def _add_mask_cleanup(p: argparse.ArgumentParser, *, default: str) -> None:
    """The clean-up of predicted masks: drop small connected components (not the seed's)."""
    p.add_argument(
        "--cleanup-below",
        type=int,
        metavar="VOXELS",
        help="drop connected components of the predicted masks with fewer voxels (pixels "
        f"with --cleanup-dims 2d); 0 keeps the masks as predicted (default: {default})",
    )
    p.add_argument(
        "--cleanup-dims",
        choices=("2d", "3d"),
        help="components within each slice (2d) or across the slices in geometric order "
        "(3d, the default)",
    )


def _mask_cleanup(args: argparse.Namespace) -> Any:
    """The ``MaskCleanup`` of ``--cleanup-below`` / ``--cleanup-dims`` (``None``: none)."""
    from radiogenomics.inference.postprocess import MaskCleanup

    if not args.cleanup_below:
        if args.cleanup_dims is not None:
            raise ConfigurationError(
                "--cleanup-dims chooses how --cleanup-below VOXELS finds components; give "
                "--cleanup-below too."
            )
        return None
    return MaskCleanup(drop_below=args.cleanup_below, dims=args.cleanup_dims or "3d")


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


def _add_run_end(
    p: argparse.ArgumentParser, *, plots: str = "also draw curves.png (and roc.png)"
) -> None:
    """The training commands' last options: resume, progress bars, pictures."""
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_no_progress(p, bars=True)
    p.add_argument("--plots", action="store_true", help=plots)


def _add_inference_speed(p: argparse.ArgumentParser) -> None:
    """Mixed precision, memory format and compilation of the models at inference."""
    p.add_argument(
        "--amp",
        choices=("auto", "off", "bf16", "fp16"),
        default="auto",
        help="mixed precision (default: auto = bf16 on CUDA, off on CPU)",
    )
    _add_memory_format_and_compile(p, compiled="the model(s)")


def _add_memory_format_and_compile(p: argparse.ArgumentParser, *, compiled: str) -> None:
    p.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels-last memory format (default: on for CUDA only)",
    )
    p.add_argument("--compile", action="store_true", help=f"run {compiled} through torch.compile")


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
    _add_negative_fraction(p)
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


def _add_negative_fraction(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--negative-fraction",
        type=float,
        help="also keep tumor-free brain slices, this many per tumor slice kept, per case, "
        "modality and plane (not the seed's; default: the preset's, 0 for writeup)",
    )


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
        "negative_fraction",
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


def _printable(path: Path) -> str:
    """``path`` for a message, with bytes that are not UTF-8 shown as escapes."""
    import os

    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _run_prepare_segmentation(args: argparse.Namespace) -> int:
    from radiogenomics.data.prepare_segmentation import (
        SegmentationPrepConfig,
        prepare_segmentation,
    )
    from radiogenomics.io.labels import task2_patient_ids
    from radiogenomics.io.nifti import scan_brats_cases

    config = _segmentation_config(args)
    assert isinstance(config, SegmentationPrepConfig)
    guard = args.task2_labels or args.task2_dir
    check_apart(args.out, [("--task1-dir", args.task1_dir), ("Task 2 guard", guard)])
    scan = scan_brats_cases(args.task1_dir)
    cases = scan.cases
    exclude = task2_patient_ids(guard) if guard is not None else None
    print(f"found {len(cases)} cases under {args.task1_dir}", file=sys.stderr)
    for path, reason in scan.skipped:
        print(f"skipped {_printable(path)}: {reason}", file=sys.stderr)
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
            "downloaded: pass pretrained encoder weights as a file with --encoder-weights. "
            "Every setting left out comes from --preset (radiogenomics presets NAME prints them)."
        ),
    )
    from radiogenomics.models.segmentation import SegmentationModelConfig
    from radiogenomics.training.settings import SegmentationTrainConfig

    p.add_argument("--data", type=Path, required=True, help="prepared folder (manifest.csv)")
    p.add_argument("--out", type=Path, required=True, help="run folder (created)")
    _add_settings(p, SegmentationModelConfig)
    p.add_argument("--encoder-weights", type=Path, help="local file of encoder weights")
    _add_settings(p, SegmentationTrainConfig)
    _add_run_end(p)
    _add_preset(p)
    p.set_defaults(handler=_run_train_segmentation)


def _run_train_segmentation(args: argparse.Namespace) -> int:
    from radiogenomics.models.segmentation import SegmentationModelConfig
    from radiogenomics.presets import get_preset
    from radiogenomics.training._distributed import is_main_process
    from radiogenomics.training.segmentation import train_segmentation
    from radiogenomics.training.settings import SegmentationTrainConfig

    preset = get_preset(args.preset).replace(
        segmentation_train=_settings_given(args, SegmentationTrainConfig),
        segmentation_model=_settings_given(args, SegmentationModelConfig),
    )
    config, model_config = preset.segmentation_train, preset.segmentation_model
    result = train_segmentation(
        args.data,
        args.out,
        config=config,
        model_config=model_config,
        encoder_weights=args.encoder_weights,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if not is_main_process():
        return 0  # under torchrun, rank 0 reports
    scores = ", ".join(
        f"{k} {v:.4f}"
        for k, v in result.best_scores.items()
        if k.startswith(("dice", "iou", "fp_slice_rate"))
    )
    stop = "stopped early" if result.stopped_early else "finished"
    print(
        f"{stop} after {result.epochs_completed} epochs; best epoch {result.best_epoch}: "
        f"val loss {result.best_val_loss:.4f}; {scores} -> {result.run_dir / 'best.safetensors'}"
    )
    if args.plots:
        _write_run_plots([result.run_dir], held_out=False, device=config.device)
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
    _add_mask_cleanup(p, default="the preset's, 0 for writeup")
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
    if args.cleanup_below is not None:
        changes["cleanup_drop_below"] = args.cleanup_below
    if args.cleanup_dims is not None:
        changes["cleanup_dims"] = args.cleanup_dims
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
            "as a file with --backbone-weights. Every setting left out comes from --preset "
            "(radiogenomics presets NAME prints them)."
        ),
    )
    _add_classification_training(p, out="run folder (created)", val_fraction=True)
    p.set_defaults(handler=_run_train_classification)


def _add_classification_training(
    p: argparse.ArgumentParser, *, out: str, val_fraction: bool, plots: str | None = None
) -> None:
    """The options of the stage 2 training commands, from ``--data`` to ``--preset``."""
    from radiogenomics.training.settings import ClassificationTrainConfig

    p.add_argument("--data", type=Path, required=True, help="frame store (series.csv)")
    p.add_argument(
        "--mri-type",
        required=True,
        choices=("FLAIR", "T1w", "T1wCE", "T2w", "all"),
        help="MRI type to train on; all trains each type the store holds",
    )
    p.add_argument("--out", type=Path, required=True, help=out)
    _add_settings(p, ClassificationTrainConfig, skip=() if val_fraction else ("val_fraction",))
    _add_run_end(p, **({} if plots is None else {"plots": plots}))
    _add_preset(p)


def _run_train_classification(args: argparse.Namespace) -> int:
    from radiogenomics.training._distributed import is_main_process
    from radiogenomics.training.classification import (
        train_classification,
        train_classification_all,
    )

    config = _classification_train_config(args)
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
    if not is_main_process():
        return 0  # under torchrun, rank 0 reports
    for result in results:
        print(_classification_outcome(result))
    if args.plots:
        _write_run_plots([r.run_dir for r in results], held_out=True, device=config.device)
    return 0


def _classification_train_config(args: argparse.Namespace) -> Any:
    """The stage 2 training settings: the preset's, changed by the options given."""
    from radiogenomics.presets import get_preset
    from radiogenomics.training.settings import ClassificationTrainConfig

    changes = _settings_given(args, ClassificationTrainConfig)
    changes["mri_type"] = "FLAIR" if args.mri_type == "all" else args.mri_type
    return get_preset(args.preset).replace(classification_train=changes).classification_train


def _classification_outcome(result: Any, prefix: str = "") -> str:
    """One line on a finished stage 2 run: epochs, best epoch, its scores, its weights."""
    shown = {k: v for k, v in result.best_scores.items() if v == v}  # NaN: no AUC
    scores = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
    stop = "stopped early" if result.stopped_early else "finished"
    return (
        f"{prefix}{result.mri_type}: {stop} after {result.epochs_completed} epochs; best "
        f"epoch {result.best_epoch}: val loss {result.best_val_loss:.4f}; {scores} -> "
        f"{result.run_dir / 'best.safetensors'}"
    )


def _add_cross_validate_classification(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    p = sub.add_parser(
        "cross-validate-classification",
        help="cross-validate stage 2: K folds, out-of-fold AUCs with intervals and p-values",
        description=(
            "Split the patients of a frame store into K patient-grouped, label-stratified "
            "folds (or take --folds-csv), train one classifier per fold and MRI type on the "
            "other folds (as train-classification, with the fold held out), and predict every "
            "patient with the model that never saw it. Writes folds.csv, fold-<k>/<MRI "
            "type>/ run folders, oof.csv (BraTS21ID,fold,mri_type,probability,MGMT_value; "
            "mri_type 'combined' is the mean over MRI types, as predict combines them) and "
            "summary.json under --out, and prints per MRI type and combined: the pooled "
            "out-of-fold AUC with a bootstrap 95% interval, its permutation p-value against "
            "chance, and each fold's AUC. Takes every train-classification option and "
            "--preset. Resumable: rerun with --resume; finished runs are not trained again."
        ),
    )
    _add_classification_training(
        p,
        out="cross-validation folder (created)",
        val_fraction=False,
        plots="also draw roc-<MRI type>.png: the ROC curve of every fold and pooled",
    )
    folds = p.add_mutually_exclusive_group()
    folds.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    folds.add_argument(
        "--folds-csv", type=Path, help="your own folds: a CSV with columns BraTS21ID,fold"
    )
    p.add_argument(
        "--fold-seed",
        type=int,
        default=0,
        help="seed of the folds, apart from --seed so settings compare on the same folds",
    )
    p.add_argument(
        "--fallback",
        type=float,
        help="combined probability of a patient with no frame (default: the preset's, 0.5)",
    )
    _add_statistics(p)
    p.set_defaults(handler=_run_cross_validate_classification)


def _add_statistics(p: argparse.ArgumentParser, *, permutations: bool = True) -> None:
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of the intervals")
    if permutations:
        p.add_argument(
            "--n-permutations",
            type=int,
            default=9999,
            help="permutations of the test against chance",
        )
    p.add_argument("--stats-seed", type=int, default=0, help="seed of the resampling")


def _run_cross_validate_classification(args: argparse.Namespace) -> int:
    from radiogenomics.io.labels import read_folds
    from radiogenomics.presets import get_preset
    from radiogenomics.training.cross_validation import cross_validate_classification

    config = _classification_train_config(args)
    fallback = args.fallback
    if fallback is None:
        fallback = get_preset(args.preset).prediction.fallback
    result = cross_validate_classification(
        args.data,
        args.out,
        config=config,
        mri_types=None if args.mri_type == "all" else [args.mri_type],
        n_folds=args.folds,
        fold_seed=args.fold_seed,
        folds=None if args.folds_csv is None else read_folds(args.folds_csv),
        fallback=fallback,
        n_boot=args.n_boot,
        n_permutations=args.n_permutations,
        stats_seed=args.stats_seed,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if result.summary is None:
        return 0  # under torchrun, rank 0 reports
    for (fold, _), run in result.runs.items():
        print(_classification_outcome(run, prefix=f"fold {fold} "))
    print(result.summary.table())
    if result.fallback_patients:
        print(
            f"{len(result.fallback_patients)} patient(s) had no frame in any MRI type; their "
            f"combined probability is the fallback {fallback}"
        )
    print(f"wrote {result.out_dir / 'oof.csv'} and {result.out_dir / 'summary.json'}")
    if args.plots:
        from radiogenomics.metrics.oof import oof_groups
        from radiogenomics.viz import plot_fold_rocs

        for name, rows in oof_groups(result.oof).items():  # the table's order: its intervals
            path = plot_fold_rocs(
                [r.label for r in rows],
                [r.probability for r in rows],
                [r.fold for r in rows],
                result.out_dir / f"roc-{name}.png",
                n_boot=args.n_boot,
                seed=args.stats_seed,
                title=f"{name}: out-of-fold ROC, {len(rows)} patients",
            )
            print(f"ROC per fold and pooled -> {path}")
    return 0


def _add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two cross-validations of the same patients: ΔAUC, interval, p-value",
        description=(
            "Read the oof.csv of two cross-validations (or their folders) and, per MRI type "
            "and combined, print AUC(A) - AUC(B) with a paired bootstrap 95% interval (the "
            "same resampled patients for both) and DeLong's two-sided p-value. Refuses two "
            "cross-validations whose patients, folds or labels differ: run both on the same "
            "frame store with the same --fold-seed or --folds-csv."
        ),
    )
    p.add_argument("oof_a", type=Path, help="oof.csv of A (or its cross-validation folder)")
    p.add_argument("oof_b", type=Path, help="oof.csv of B (or its cross-validation folder)")
    _add_statistics(p, permutations=False)
    p.add_argument("--out", type=Path, help="also write the comparison as JSON here")
    p.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    import json

    from radiogenomics._atomic import atomic_text
    from radiogenomics.metrics.oof import compare_oof, read_oof

    comparison = compare_oof(
        read_oof(args.oof_a), read_oof(args.oof_b), n_boot=args.n_boot, seed=args.stats_seed
    )
    print(f"A: {args.oof_a}\nB: {args.oof_b}")
    print(comparison.table())
    if args.out is not None:
        record = {"a": str(args.oof_a), "b": str(args.oof_b), **comparison.to_dict()}
        atomic_text(args.out, json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")
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
            "surviving frame get 0.5). Also runs on a single patient folder. TTA, batch "
            "size and fallback come from --preset unless given."
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
    from radiogenomics.presets import PredictionSettings

    _add_device(p)
    _add_settings(p, PredictionSettings)  # --batch-size, --fallback
    p.add_argument("--no-tta", action="store_true", help="predict without the 1.2 zoom")
    p.add_argument(
        "--allow-other-segmentation-model",
        action="store_true",
        help="accept a stage 1 model other than the one the classifiers' training frames "
        "were made with (refused by default: its masks would differ)",
    )
    _add_inference_speed(p)
    _add_no_progress(p)
    _add_preset(p)
    p.set_defaults(handler=_run_predict)


def _check_submission_path(args: argparse.Namespace) -> None:
    """Refuse a submission path that is an input or lies inside a series or a model run.

    A submission beside the patient folders (``test/submission.csv``) is harmless; one
    inside a series folder would become a slice of the series.
    """
    from radiogenomics.data.prepare_classification import find_series_inputs
    from radiogenomics.errors import InputNotFoundError

    try:
        series = find_series_inputs(args.task2_dir)
    except InputNotFoundError:
        series = {}  # prediction reports it
    check_apart(
        args.out,
        [
            ("--segmentation-model", args.segmentation_model),
            *(("--classification-models", run) for run in args.classification_models),
        ],
    )
    check_apart(args.out, [("--task2-dir", args.task2_dir)], allow_inside=True)
    check_apart(
        args.out,
        [
            (f"{mri_type} series of patient {patient}", path)
            for patient, found in series.items()
            for mri_type, path in found.items()
        ],
    )


def _run_predict(args: argparse.Namespace) -> int:
    from radiogenomics.inference.predict import run_prediction
    from radiogenomics.inference.submission import write_submission
    from radiogenomics.presets import get_preset

    _check_submission_path(args)
    from radiogenomics.presets import PredictionSettings

    changes = _settings_given(args, PredictionSettings)
    if args.no_tta:
        changes["tta_scales"] = ()
    settings = get_preset(args.preset).replace(prediction=changes).prediction
    result = run_prediction(
        args.task2_dir,
        segmentation_run=args.segmentation_model,
        classification_runs=args.classification_models,
        device=args.device,
        tta=settings.tta(),
        batch_size=settings.batch_size,
        mask_batch_size=settings.mask_batch_size,
        fallback=settings.fallback,
        progress=not args.no_progress,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        allow_other_segmentation_model=args.allow_other_segmentation_model,
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
    _add_series_uid(p)
    p.set_defaults(handler=_run_dicom_to_nifti)


def _add_series_uid(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--series-uid",
        default=None,
        metavar="UID",
        help=(
            "the SeriesInstanceUID of the series to read from a folder that holds several "
            "(a folder of several series is refused otherwise, with the list of its UIDs)"
        ),
    )


def _run_dicom_to_nifti(args: argparse.Namespace) -> int:
    import numpy as np

    from radiogenomics.inference.labels import check_nifti_path
    from radiogenomics.io.dicom import read_dicom_series
    from radiogenomics.io.nifti import write_nifti

    check_apart(args.out, [("series folder", args.series_dir)], option="OUT")
    check_nifti_path(args.out)
    series = read_dicom_series(args.series_dir, series_uid=args.series_uid)
    path = write_nifti(np.asarray(series.to_nifti_array()), np.array(series.affine), args.out)
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
    _add_zoom(p)
    p.add_argument(
        "--plane",
        choices=PLANES,
        default=None,
        help="plane to slice along (default: axial for NIfTI, the acquisition plane for DICOM)",
    )
    _add_series_uid(p)
    _add_mask_cleanup(p, default="0")
    _add_orientation(p, what="NIfTI slices")
    _add_inference_speed(p)
    p.set_defaults(handler=_run_segment)


def _add_zoom(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zoom", type=float, default=1.2, help="zoom factor (default: 1.2)")


def _add_orientation(p: argparse.ArgumentParser, *, what: str) -> None:
    p.add_argument(
        "--orientation",
        choices=("native", "radiological"),
        default=None,
        help=(
            f"in-plane layout of {what} (default: as the model's training slices, "
            "read from the run; native when the run does not say)"
        ),
    )


def _add_evaluate_segmentation(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from radiogenomics.io.nifti import MODALITIES
    from radiogenomics.records import PLANES

    p = sub.add_parser(
        "evaluate-segmentation",
        help="score a stage 1 model on whole BraTS volumes: Dice and false-positive slices",
        description=(
            "Predict every slice of every modality of each BraTS case along each plane, as "
            "segment does (the run's input size and layout, --zoom, the clean-up options), "
            "and score it against the case's labels per region (WT, ET): Dice over the "
            "slices with tumor (the seed's view), Dice over the whole volume, and the "
            "false-positive slice rate (slices without tumor that get a predicted voxel, "
            "over slices without tumor), also over the tumor-free brain slices only "
            "(--min-brain-fraction). Writes one CSV row per case, modality, plane and "
            "region, then summary rows (case_id 'all') per plane and over all planes, and "
            "prints the summary. Exits 1 when a case could not be read."
        ),
    )
    p.add_argument("--model", required=True, type=Path, help="stage 1 training run folder")
    p.add_argument(
        "--task1-dir",
        required=True,
        type=Path,
        help="folder of labelled BraTS cases (2018-2021 or 2023 naming), or one case folder",
    )
    p.add_argument("--out", required=True, type=Path, help="report CSV to write")
    p.add_argument("--planes", nargs="+", choices=PLANES, help="planes (default: all three)")
    p.add_argument(
        "--modalities", nargs="+", choices=MODALITIES, help="modalities (default: all four)"
    )
    _add_device(p)
    _add_batch_size(p, default=32, help="slices per forward pass")
    _add_zoom(p)
    p.add_argument(
        "--min-brain-fraction",
        type=float,
        default=0.1,
        help=(
            "a tumor-free slice is a brain slice, scored on its own (the FP rate that "
            "reaches stage 2, whose blank filter drops the others), when its brain covers "
            "more than this fraction of it (default: 0.1)"
        ),
    )
    _add_mask_cleanup(p, default="0")
    _add_orientation(p, what="the slices")
    _add_inference_speed(p)
    _add_no_progress(p)
    p.set_defaults(handler=_run_evaluate_segmentation)


def _run_evaluate_segmentation(args: argparse.Namespace) -> int:
    from radiogenomics.evaluation.segmentation import evaluate_segmentation
    from radiogenomics.io.nifti import MODALITIES, scan_brats_cases
    from radiogenomics.records import PLANES

    check_apart(args.out, [("--task1-dir", args.task1_dir), ("--model", args.model)])
    scan = scan_brats_cases(args.task1_dir)
    for path, reason in scan.skipped:
        print(f"skipped {_printable(path)}: {reason}", file=sys.stderr)
    predictor, orientation = _segment_predictor(args)
    result = evaluate_segmentation(
        scan.cases,
        predictor,
        orientation=orientation,
        planes=tuple(args.planes or PLANES),
        modalities=tuple(args.modalities or MODALITIES),
        min_brain_fraction=args.min_brain_fraction,
        progress=not args.no_progress,
    )
    path = result.write_csv(args.out)
    print(result.table())
    cases = len(scan.cases)
    print(f"wrote {path}: {len(result.rows)} rows of {cases} cases ({orientation} layout)")
    for case_id, error in result.failed:
        print(f"FAILED {case_id}: {error}")
    return 1 if result.failed else 0


def _segment_predictor(args: argparse.Namespace) -> tuple[Any, Any]:
    """The mask predictor of ``--model`` with the options given, and the slices' layout.

    As ``segment`` predicts: the run's input size, ``--zoom``, the clean-up options, and
    the layout of the run's training slices unless ``--orientation`` says otherwise.
    """
    import importlib

    from radiogenomics.inference import MaskPredictor
    from radiogenomics.inference.zoom import check_zoom

    check_zoom("--zoom", args.zoom)
    cleanup = _mask_cleanup(args)
    models = importlib.import_module("radiogenomics.models")
    model, config = models.load_segmentation_model(args.model, which="best", device=args.device)
    orientation = args.orientation or models.training_orientation(args.model) or "native"
    predictor = MaskPredictor(
        model,
        image_size=int(config.image_size),
        zoom=args.zoom,
        batch_size=args.batch_size,
        device=args.device,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        cleanup=cleanup,
    )
    return predictor, orientation


def _run_segment(args: argparse.Namespace) -> int:
    import numpy as np

    from radiogenomics.errors import InputNotFoundError
    from radiogenomics.inference import (
        check_nifti_path,
        masks_to_label_map,
        save_label_map,
        series_masks_to_nifti,
    )
    from radiogenomics.inference.zoom import check_zoom
    from radiogenomics.io.dicom import read_dicom_series
    from radiogenomics.io.nifti import read_nifti

    check_nifti_path(args.out)
    check_zoom("--zoom", args.zoom)
    source: Path = args.input
    check_apart(args.out, [("INPUT", source)], option="OUT")
    if not source.exists():
        raise InputNotFoundError(
            "the input does not exist; pass a .nii/.nii.gz volume or a DICOM series folder.",
            path=source,
        )
    is_dicom = source.is_dir()
    if not is_dicom:
        check_nifti_path(source, name="input")
        if args.series_uid is not None:
            raise ConfigurationError(
                f"--series-uid {args.series_uid!r} picks a series of a DICOM folder; the "
                f"input {source} is a NIfTI file. Leave the option out."
            )
    # The input is read before the model is loaded, so a refused series fails fast.
    series = read_dicom_series(source, series_uid=args.series_uid) if is_dicom else None
    predictor, orientation = _segment_predictor(args)
    if series is not None:
        affine = np.array(series.affine)
        if args.plane is None or args.plane == series.plane:
            masks = np.ascontiguousarray(series_masks_to_nifti(predictor.predict_series(series)))
            plane = series.plane
        else:
            plane = args.plane
            masks = predictor.predict_volume(
                series.to_nifti_array(), affine, plane=plane, orientation=orientation
            )
    else:
        volume, affine = read_nifti(source)
        plane = args.plane or "axial"
        masks = predictor.predict_volume(volume, affine, plane=plane, orientation=orientation)
    path = save_label_map(masks_to_label_map(masks), affine, args.out)
    print(
        f"wrote {path}: shape {masks.shape[1:]}, {plane} slices ({orientation} layout), "
        f"WT {int(np.count_nonzero(masks[0] | masks[1]))} voxels, "
        f"ET {int(np.count_nonzero(masks[1]))} voxels"
    )
    return 0


def _add_presets(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from radiogenomics.presets import PRESETS

    p = sub.add_parser(
        "presets",
        help="print every setting of a named preset (all presets when none is named)",
        description=(
            "Print a preset's settings as JSON, one section per step (stage 1 preparation, "
            "model and training, stage 2 preparation and training, prediction). The output "
            "is plain data: save it, edit it and load it with Preset.from_dict."
        ),
    )
    p.add_argument("name", nargs="?", choices=PRESETS, default=None)
    p.set_defaults(handler=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from radiogenomics.presets import PRESETS, get_preset

    for name in [args.name] if args.name else list(PRESETS):
        preset = get_preset(name)
        print(f"# {name}: {preset.description}")
        print(preset.to_json())
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


def _write_run_plots(run_dirs: Sequence[Path], *, held_out: bool, device: str) -> None:
    """``--plots``: curves.png in each run folder; stage 2 also roc.png of held-out patients."""
    from radiogenomics.viz import held_out_predictions, plot_roc, plot_training_curves

    for run in run_dirs:
        print(f"training curves -> {plot_training_curves(run, run / 'curves.png')}")
        if not held_out:
            continue
        scored = held_out_predictions(run, device=device)
        if len(set(scored.truth.tolist())) < 2:
            print(f"no ROC curve for {run}: its held-out patients all have one label")
            continue
        title = f"{scored.mri_type}: {len(scored.patients)} held-out patients, epoch {scored.epoch}"
        print(
            f"held-out ROC -> {plot_roc(scored.truth, scored.scores, run / 'roc.png', title=title)}"
        )


def _add_plot(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from radiogenomics.records import PLANES

    group = sub.add_parser(
        "plot",
        help="pictures: training curves, ROC curves, slice and frame montages",
        description=(
            "Draw training curves of a run folder, the ROC curve of labelled predictions, "
            "or a montage of prepared slices or frames with their WT (green) and ET (red) "
            'outlines. Curves need matplotlib: pip install "radiogenomics[plots]".'
        ),
    )
    plots = group.add_subparsers(dest="plot", required=True, metavar="PICTURE")
    p = plots.add_parser(
        "curves",
        help="losses and validation scores per epoch of a training run",
        description="Read RUN_DIR/metrics.jsonl and draw the losses and validation scores "
        "per epoch, with the best epoch marked.",
    )
    p.add_argument("run_dir", type=Path, help="a training run folder (metrics.jsonl)")
    p.add_argument("--out", type=Path, help="image to write (default: RUN_DIR/curves.png)")
    p.set_defaults(handler=_run_plot_curves)

    p = plots.add_parser(
        "roc",
        help="ROC curve with AUC and bootstrap 95%% interval",
        description="The ROC curve of a submission's probabilities against labels, or of a "
        "stage 2 run's held-out validation patients at its best epoch.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictions", type=Path, help="submission CSV (BraTS21ID,MGMT_value)")
    source.add_argument("--run", type=Path, help="a train-classification run folder (one type)")
    p.add_argument("--labels", type=Path, help="train_labels.csv (with --predictions)")
    p.add_argument("--data", type=Path, help="frame store of --run (default: its config.json's)")
    _add_device(p)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples; 0: no interval")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--title", help="plot title")
    p.add_argument("--out", type=Path, help="image to write (default with --run: RUN/roc.png)")
    p.set_defaults(handler=_run_plot_roc)

    p = plots.add_parser(
        "montage",
        help="PNG montage of a prepared case's slices or a frame store series' frames",
        description="Tile the kept slices of one case of a prepare-segmentation folder, or "
        "the frames of one series of a prepare-classification store, with WT (green) and "
        "ET (red) outlines.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--prepared", type=Path, help="prepare-segmentation folder")
    source.add_argument("--frames", type=Path, help="prepare-classification frame store")
    p.add_argument("--case", help="case of --prepared (default: the first)")
    p.add_argument("--modality", help="only this modality (with --prepared)")
    p.add_argument("--plane", choices=PLANES, help="only this plane (with --prepared)")
    p.add_argument("--series", help="PATIENT/MRI_TYPE of --frames (default: the first with frames)")
    p.add_argument(
        "--limit", type=int, default=64, help="at most this many tiles, evenly spaced; 0: all"
    )
    p.add_argument("--columns", type=int, default=8, help="tiles per row")
    p.add_argument("--size", type=int, help="tile side in pixels (default: native size)")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.set_defaults(handler=_run_plot_montage)


def _run_plot_curves(args: argparse.Namespace) -> int:
    from radiogenomics.viz import plot_training_curves

    out = args.out or args.run_dir / "curves.png"
    print(f"wrote {plot_training_curves(args.run_dir, out)}")
    return 0


def _run_plot_roc(args: argparse.Namespace) -> int:
    from radiogenomics.errors import LabelError
    from radiogenomics.inference.aggregate import roc_auc
    from radiogenomics.viz import held_out_predictions, plot_roc

    if args.run is not None:
        scored = held_out_predictions(args.run, data_dir=args.data, device=args.device)
        truth, scores = scored.truth.tolist(), scored.scores.tolist()
        title = args.title or (
            f"{scored.mri_type}: {len(truth)} held-out patients, epoch {scored.epoch}"
        )
        out = args.out or args.run / "roc.png"
    else:
        from radiogenomics.inference.submission import read_submission
        from radiogenomics.io.labels import read_labels

        if args.labels is None or args.out is None:
            raise ConfigurationError("--predictions needs --labels LABELS.csv and --out IMAGE.")
        predictions = read_submission(args.predictions)
        labels = read_labels(args.labels)
        missing = [p for p in predictions if p not in labels]
        if missing:
            raise LabelError(
                f"{len(missing)} of the {len(predictions)} predicted patients have no label "
                f"(first: {missing[:5]}); pass the labels file that covers them.",
                path=args.labels,
            )
        truth = [labels[p] for p in predictions]
        scores = list(predictions.values())
        title, out = args.title, args.out
    path = plot_roc(truth, scores, out, n_boot=args.n_boot, seed=args.seed, title=title)
    print(f"wrote {path}: {len(truth)} patients, AUC {roc_auc(truth, scores):.4f}")
    return 0


def _run_plot_montage(args: argparse.Namespace) -> int:
    import numpy as np

    from radiogenomics.viz import evenly_spaced, read_case_slices, save_montage

    limit = args.limit or None
    options = {"columns": args.columns, "size": args.size}
    if args.prepared is not None:
        slices = read_case_slices(
            args.prepared,
            case_id=args.case,
            modality=args.modality,
            plane=args.plane,
            limit=limit,
        )
        path = save_montage(slices, args.out, **options)
        print(f"wrote {path}: {len(slices)} slices of {slices[0].patient_id}")
        return 0
    from radiogenomics.data.frame_store import FrameStore
    from radiogenomics.errors import InputNotFoundError
    from radiogenomics.io.labels import normalize_patient_id

    store = FrameStore(args.frames)
    if args.series is None:
        keys = [k for k in store.series_keys() if store.num_frames(k) > 0]
        if not keys:
            raise InputNotFoundError("the frame store holds no kept frame.", path=args.frames)
        key = keys[0]
    else:
        patient, _, mri_type = args.series.partition("/")
        if not mri_type:
            raise ConfigurationError(
                f"--series {args.series!r} must be PATIENT/MRI_TYPE, e.g. 00006/FLAIR."
            )
        key = (normalize_patient_id(patient), mri_type)
    frames = store.frames(key)
    if not len(frames):
        raise InputNotFoundError(
            f"series {key[1]} kept no frame.", path=store.frame_path(key), patient_id=key[0]
        )
    chosen = evenly_spaced(len(frames), limit)
    labels = [f"#{i}" for i in chosen]
    path = save_montage(np.asarray(frames[chosen]), args.out, labels=labels, **options)
    print(f"wrote {path}: {len(chosen)} of {len(frames)} frames of {key[0]}/{key[1]}")
    return 0


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
    _add_cross_validate_classification(sub)
    _add_compare(sub)
    _add_predict(sub)
    _add_dicom_to_nifti(sub)
    _add_segment(sub)
    _add_evaluate_segmentation(sub)
    _add_presets(sub)
    _add_demo(sub)
    _add_plot(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # File names with bytes that are not UTF-8 are printed escaped, never a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "plots", False):  # fail before training, not after
            from radiogenomics.viz._figure import require_matplotlib

            require_matplotlib(f"{args.command} --plots")
        status: int = args.handler(args)
    except KeyboardInterrupt:
        again = "rerun with --resume" if args.command.startswith("train-") else "rerun it"
        print(
            f"radiogenomics {args.command}: interrupted; what was finished is kept: "
            f"{again} to continue where it stopped.",
            file=sys.stderr,
        )
        return 130
    except RadiogenomicsError as error:
        print(f"radiogenomics {args.command}: error: {error}", file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 2 if isinstance(error, ConfigurationError) else 1
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
