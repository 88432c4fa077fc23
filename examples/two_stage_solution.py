"""The whole two-stage solution, assembled step by step from the library's public parts.

Stage 1 learns to segment whole tumor (WT) and enhancing tumor (ET) on BraTS Task 1
slices; stage 2 turns every Task 2 DICOM slice into a frame [image, WT, ET] with the
stage 1 model's masks, keeps the frames that show enough tumor, and classifies chunks of
frames with one CNN-LSTM per MRI type. Test patients get the mean over their chunks and
MRI types, written as a Kaggle submission.

With no arguments it runs on data generated on the fly (a synthetic BraTS-like cohort
and a Kaggle-like DICOM cohort with a training and a separate test split), with the
``tiny`` preset on the CPU, in a few minutes:

    python examples/two_stage_solution.py

On the real data (BraTS 2021 Task 1 and the Kaggle Task 2 folders) with the reference's
full settings, on a GPU, with ImageNet weights from local files:

    python examples/two_stage_solution.py --task1-dir BraTS2021_Training_Data \\
        --task2-dir rsna-miccai/train --labels rsna-miccai/train_labels.csv \\
        --test-dir rsna-miccai/test --preset released-code --device cuda \\
        --encoder-weights densenet121.pth --backbone-weights eca_nfnet_l0.safetensors \\
        --out runs/solution

Everything is written under ``--out``: the prepared data, both stages' runs,
``submission.csv``, ``summary.json`` (settings and scores) and, when matplotlib is
installed, pictures (frames with their masks, training curves, ROC curve).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads, ever

from radiogenomics import (
    BlankSliceFilter,
    ChunkDataset,
    ContourCountFilter,
    DistinctSampler,
    MaskPredictor,
    PatientAggregator,
    Pipeline,
    ResizeSlices,
    SequenceClassifier,
    SliceExtractor,
    TumorAreaFilter,
    ZoomTTA,
)
from radiogenomics.data import FrameRecipe, SliceRecipe
from radiogenomics.pipeline import Step
from radiogenomics.presets import PRESETS, Preset, get_preset

MRI_TYPES = ("FLAIR", "T1w", "T1wCE", "T2w")


@dataclass(frozen=True)
class Inputs:
    """Where the data is.

    Attributes:
        task1_dir: BraTS Task 1 cases (stage 1 training).
        task2_dir: Labelled Task 2 patients (stage 2 training).
        labels: Their ``BraTS21ID,MGMT_value`` file.
        test_dir: Patients to predict, or None.
        test_labels: The test patients' labels when known (then their AUC is reported).
    """

    task1_dir: Path
    task2_dir: Path
    labels: Path
    test_dir: Path | None
    test_labels: Path | None


def log(message: str) -> None:
    """Print one progress line, with the seconds since the start."""
    print(f"[{time.perf_counter() - STARTED:6.0f} s] {message}", flush=True)


STARTED = time.perf_counter()


# Step 0 -- the data ---------------------------------------------------------------------


def synthetic_inputs(root: Path, args: argparse.Namespace) -> Inputs:
    """Write a synthetic Task 1 cohort and a Task 2 cohort with train and test splits.

    Task 2 patients carry an MGMT label tied to a learnable image feature of the tumor
    core, so a classifier can learn it; the test split is written with another seed and
    is never used for training or for choosing a checkpoint.
    """
    from radiogenomics.testing import write_brats_cohort, write_task2_cohort

    if not (root / "test_labels.csv").is_file():  # written last: the data is complete
        # Task 1 case numbers start at 2000, above the Task 2 identifiers (< 1000), so
        # the leakage guard of step 1 has nothing to remove here.
        write_brats_cohort(root / "task1", n_cases=args.task1_cases, seed=args.seed, first_id=2000)
        for split, count, seed in (
            ("train", args.patients, args.seed + 1),
            ("test", args.test_patients, args.seed + 2),
        ):
            write_task2_cohort(
                root, n_patients=count, seed=seed, size=64, mri_types=args.mri_types, split=split
            )
    return Inputs(
        task1_dir=root / "task1",
        task2_dir=root / "train",
        labels=root / "train_labels.csv",
        test_dir=root / "test",
        test_labels=root / "test_labels.csv",
    )


def hold_out_patients(inputs: Inputs, root: Path, fraction: float, seed: int) -> Inputs:
    """Set aside a stratified share of the labelled patients as a labelled test split.

    The Kaggle test set has no labels, so a held-out AUC needs patients taken from the
    training set. The two splits are folders of links to the original patient folders
    (nothing is copied), each with its own label file.
    """
    from radiogenomics.io import read_labels
    from radiogenomics.training import stratified_patient_split

    labels = {
        patient: label
        for patient, label in read_labels(inputs.labels).items()
        if (inputs.task2_dir / patient).is_dir()
    }
    patients = sorted(labels)
    train, test = stratified_patient_split(
        patients, [labels[p] for p in patients], val_fraction=fraction, seed=seed
    )
    for split, indices in (("train", train), ("heldout", test)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = ["BraTS21ID,MGMT_value"]
        for i in indices:
            patient = patients[int(i)]
            link = folder / patient
            if not link.exists():
                link.symlink_to((inputs.task2_dir / patient).resolve(), target_is_directory=True)
            rows.append(f"{patient},{labels[patient]}")
        (root / f"{split}_labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    log(f"held out {len(test)} of {len(patients)} labelled patients as a labelled test split")
    return Inputs(
        task1_dir=inputs.task1_dir,
        task2_dir=root / "train",
        labels=root / "train_labels.csv",
        test_dir=root / "heldout",
        test_labels=root / "heldout_labels.csv",
    )


# Step 1 -- the settings -----------------------------------------------------------------


def choose_settings(args: argparse.Namespace) -> Preset:
    """The named preset, with the command line's changes applied section by section."""
    preset = get_preset(args.preset)
    seg_train: dict[str, Any] = {"device": args.device, "seed": args.seed}
    cls_train: dict[str, Any] = {"device": args.device, "seed": args.seed}
    if args.seg_epochs is not None:
        seg_train["epochs"] = args.seg_epochs
    if args.cls_epochs is not None:
        cls_train["epochs"] = args.cls_epochs
    if args.backbone_weights is not None:
        cls_train["backbone_weights"] = str(args.backbone_weights)
    return preset.replace(
        segmentation_train=seg_train,
        classification_train=cls_train,
        classification_prep={"mri_types": tuple(args.mri_types)},
    )


# Step 2 -- stage 1: the slice recipe, its preparation, the segmentation model ------------


def slice_recipe(preset: Preset) -> SliceRecipe:
    """The stage 1 building blocks, from the preset's settings, in the order they run.

    A volume is cut along each plane (``SliceExtractor``); relatively distinct slices are
    kept (``DistinctSampler``) and, of those, the slices with enough tumor
    (``TumorAreaFilter``) and few tumor regions (``ContourCountFilter``); the kept
    slices are resized last. Any of these may be replaced by a step of your own (see
    ``custom_components.py``).
    """
    settings = preset.segmentation_prep
    extractor = SliceExtractor(
        planes=settings.planes, orientation=settings.orientation, intensity=settings.intensity
    )
    sampler = DistinctSampler(
        method=settings.sampler,
        max_similarity=settings.max_similarity,
        fraction=settings.stride_fraction,
    )
    filters: list[Step] = [
        TumorAreaFilter(
            min_ratio=settings.min_ratio,
            reference=settings.reference,
            area=settings.area,
            channel=settings.regions[0],
        )
    ]
    if settings.max_contours is not None:
        filters.append(ContourCountFilter(max_contours=settings.max_contours, min_contours=0))
    steps: list[Step] = [extractor]
    if settings.blank_min_fraction is not None:
        steps.append(BlankSliceFilter(min_fraction=settings.blank_min_fraction))
    ordered: list[Step] = (
        [sampler, *filters] if settings.order == "sample-then-filter" else [*filters, sampler]
    )
    steps += ordered
    if settings.size is not None:
        steps.append(ResizeSlices(size=settings.size))
    return SliceRecipe(
        Pipeline(steps),
        modalities=settings.modalities,
        regions=settings.regions,  # type: ignore[arg-type]
        settings=settings,  # checked to be these steps; recorded as the preset's settings
    )


def prepare_stage1(
    inputs: Inputs, recipe: SliceRecipe, out: Path, args: argparse.Namespace
) -> Path:
    """Run the slice recipe over every BraTS case (resumable, in parallel)."""
    from radiogenomics.data import prepare_segmentation
    from radiogenomics.io import find_brats_cases, task2_patient_ids

    cases = find_brats_cases(inputs.task1_dir)
    if args.task1_cases is not None:
        cases = cases[: args.task1_cases]
    # The leakage guard: Task 1 case N is Task 2 patient N. No patient that stage 2
    # learns from or is scored on may have trained the segmentation model.
    task2_ids = task2_patient_ids(inputs.labels)
    for folder in (inputs.test_dir, args.test_dir):
        if folder is not None:
            task2_ids |= task2_patient_ids(folder)
    report = prepare_segmentation(
        cases,
        out,
        recipe=recipe,
        workers=args.workers,
        exclude_ids=task2_ids,
        progress=args.progress,
    )
    log(f"stage 1 data: {report.summary().splitlines()[0]}")
    return out


def train_stage1(
    prepared: Path, preset: Preset, out: Path, args: argparse.Namespace
) -> dict[str, float]:
    """Train the segmentation model, validated on held-out patients every epoch."""
    from radiogenomics.training import train_segmentation

    result = train_segmentation(
        prepared,
        out,
        config=preset.segmentation_train,
        model_config=preset.segmentation_model,
        encoder_weights=args.encoder_weights,  # a local file; None: random weights
        resume=args.resume,
        progress=args.progress,
    )
    scores = result.best_scores  # Dice and IoU of the best epoch, on held-out patients
    log(
        f"stage 1: {result.epochs_completed} epochs, best epoch {result.best_epoch}; held-out "
        f"Dice WT {scores['dice_WT']:.3f} ET {scores['dice_ET']:.3f}, "
        f"IoU WT {scores['iou_WT']:.3f} ET {scores['iou_ET']:.3f}"
    )
    return {k: v for k, v in scores.items() if k.startswith(("dice_", "iou_"))}


# Step 3 -- stage 2: the frame recipe, its preparation, one classifier per MRI type -------


def frame_recipe(preset: Preset, seg_run: Path, device: str) -> FrameRecipe:
    """The stage 2 building blocks: the stage 1 model as mask predictor, and the filters.

    Every slice of a series becomes a frame [image, WT, ET] with the masks the stage 1
    model predicts (``MaskPredictor``: the reference's 1.2 zoom and its inverse); the
    frames with enough tumor and few tumor regions are kept. The same recipe object
    makes the training frames (here) and the frames of the test patients (step 4).
    """
    from radiogenomics.models import load_segmentation_model

    settings = preset.classification_prep
    model, model_config = load_segmentation_model(seg_run, device=device)
    predictor = MaskPredictor(
        model,
        image_size=model_config.image_size,
        zoom=settings.zoom,
        threshold=settings.threshold,
        batch_size=preset.prediction.mask_batch_size,
        device=device,
    )
    steps: list[Step] = [
        BlankSliceFilter(min_fraction=settings.blank_min_fraction),
        TumorAreaFilter(
            min_ratio=settings.min_ratio,
            reference=settings.reference,
            area=settings.area,
            channel="WT",
            brain_threshold=settings.brain_threshold,
        ),
        ContourCountFilter(
            max_contours=settings.max_contours,
            min_contours=settings.min_contours,
            count_holes=settings.count_holes,
            channel="WT",
        ),
    ]
    # `settings=`: the recipe is checked to be the preset's, and recorded as its settings,
    # so `radiogenomics predict` can rebuild it from a run folder too.
    return FrameRecipe(predictor, steps=steps, intensity=settings.intensity, settings=settings)


def prepare_stage2(
    inputs: Inputs,
    recipe: FrameRecipe,
    seg_run: Path,
    preset: Preset,
    out: Path,
    args: argparse.Namespace,
) -> Path:
    """Run the frame recipe over every training series (resumable)."""
    from radiogenomics.data import prepare_classification

    report = prepare_classification(
        inputs.task2_dir,
        out,
        labels=inputs.labels,
        recipe=recipe,
        segmentation_run=seg_run,  # recorded: prediction checks it is the same model
        mri_types=preset.classification_prep.mri_types,
        exclude_known_bad=preset.classification_prep.exclude_known_bad,
        progress=args.progress,
    )
    log(f"stage 2 data: {report.summary().splitlines()[0]}")
    return out


def train_stage2(
    frames: Path, preset: Preset, out: Path, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Train one sequence classifier per MRI type on chunks of frames."""
    from radiogenomics.data import FrameStore
    from radiogenomics.training import train_classification

    store = FrameStore(frames)
    runs: dict[str, dict[str, Any]] = {}
    for mri_type in store.mri_types:
        settings = preset.replace(classification_train={"mri_type": mri_type})
        config = settings.classification_train
        # What the classifier sees: chunks of `sequence_length` frames, every `stride`.
        chunks = ChunkDataset(
            store.frames_by_series(mri_type=mri_type),
            store.labels,
            length=config.sequence_length,
            stride=config.stride,
            last=config.last,
            image_size=config.image_size,
        )
        model = SequenceClassifier(
            backbone=config.backbone,  # a timm name, or any nn.Module of your own
            pretrained_weights=config.backbone_weights,  # a local file, or None
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            sequence_length=config.sequence_length,
            head=config.head,
            dropout=config.dropout,
        )
        result = train_classification(
            frames,
            out / mri_type,
            config=config,
            model=model,
            resume=args.resume,
            progress=args.progress,
        )
        auc = result.best_scores.get("patient_auc", float("nan"))
        log(
            f"stage 2 {mri_type}: {len(chunks)} chunks of {len(chunks.series_keys())} series; "
            f"{result.epochs_completed} epochs, best epoch {result.best_epoch}: val loss "
            f"{result.best_val_loss:.3f}, validation patient AUC {auc:.3f} "
            f"({len(result.val_patients)} patients)"
        )
        runs[mri_type] = {"run": result.run_dir, "val_patient_auc": auc, "config": config}
    return runs


def cross_validate(
    frames: Path, preset: Preset, out: Path, args: argparse.Namespace
) -> dict[str, Any] | None:
    """With ``--folds K``: K-fold cross-validation of stage 2, out-of-fold AUC with intervals.

    One validation split of a few patients says little (see "How sure is an AUC?" in the
    docs); every patient is validated once here, and the pooled out-of-fold AUC comes
    with a bootstrap interval and a permutation p-value.
    """
    if not args.folds:
        return None
    from radiogenomics.training import cross_validate_classification

    result = cross_validate_classification(
        frames,
        out,
        config=preset.classification_train,
        n_folds=args.folds,
        fold_seed=args.seed,
        fallback=preset.prediction.fallback,
        resume=args.resume,
        progress=args.progress,
    )
    summary = result.summary
    if summary is None:  # another process of torchrun: rank 0 reports
        return None
    log(f"stage 2 cross-validation ({args.folds} folds):\n{summary.table()}")
    return summary.to_dict()


# Step 4 -- predict the test patients, aggregate, write the submission -------------------


def predict_test(
    test_dir: Path,
    recipe: FrameRecipe,
    trained: dict[str, dict[str, Any]],
    preset: Preset,
    device: str,
) -> tuple[dict[str, float], dict[str, dict[str, float]], list[str]]:
    """One probability per test patient: the mean over chunks, then over MRI types.

    Each MRI type's classifier (its best checkpoint) predicts the frames that the same
    recipe makes of its series, in chunks, with the test-time zoom (``ZoomTTA``); the
    ``PatientAggregator`` takes the mean over a series' chunks, then over the MRI types
    that kept a chunk, and gives the fallback to a patient with none.
    """
    from radiogenomics.inference import ClassificationRun, run_prediction
    from radiogenomics.models import load_weights

    classifiers = []
    for mri_type, run in trained.items():
        config = run["config"]
        model = SequenceClassifier(
            backbone=config.backbone,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            sequence_length=config.sequence_length,
            head=config.head,
            dropout=config.dropout,
        )
        load_weights(model, Path(run["run"]) / "best.safetensors")
        classifiers.append(
            ClassificationRun(
                model=model.to(device).eval(),
                mri_type=mri_type,
                recipe=recipe,
                sequence_length=config.sequence_length,
                stride=config.stride,
                last=config.last,
                image_size=config.image_size,
                exclude_known_bad=preset.classification_prep.exclude_known_bad,
            )
        )
    settings = preset.prediction
    tta = (
        ZoomTTA(scales=settings.tta_scales, include_identity=settings.tta_include_identity)
        if settings.tta_scales
        else None
    )
    aggregator = PatientAggregator(fallback=settings.fallback)
    result = run_prediction(
        test_dir,
        classifiers=classifiers,
        tta=tta,
        aggregator=aggregator,
        batch_size=settings.batch_size,
    )
    for line in result.summary().splitlines()[1:]:  # series that could not be read
        log(line)
    patients = list(result.probabilities)
    series = aggregator.series_probabilities()  # (patient, MRI type) -> probability
    per_type = {t: {p: series.get((p, t), settings.fallback) for p in patients} for t in trained}
    return result.probabilities, per_type, result.fallback_patients


# Step 5 -- scores and pictures ----------------------------------------------------------


def score_test(
    probabilities: dict[str, float], per_type: dict[str, dict[str, float]], labels: Path
) -> dict[str, Any]:
    """Patient ROC AUC with a bootstrap 95 % interval, overall and per MRI type."""
    from radiogenomics.inference import bootstrap_auc_ci, roc_auc
    from radiogenomics.io import read_labels

    truth_by_patient = read_labels(labels)
    patients = [p for p in probabilities if p in truth_by_patient]
    truth = [truth_by_patient[p] for p in patients]
    interval = bootstrap_auc_ci(truth, [probabilities[p] for p in patients], n_boot=2000, seed=0)
    by_type = {t: roc_auc(truth, [scores[p] for p in patients]) for t, scores in per_type.items()}
    return {
        "patients": len(patients),
        "positives": int(sum(truth)),
        "auc": interval.auc,
        "ci95": [interval.low, interval.high],
        "auc_per_mri_type": by_type,
    }


def draw_pictures(
    out: Path,
    seg_run: Path,
    frames: Path,
    cls_runs: dict[str, Path],
    scored: tuple[dict[str, float], Path] | None,
) -> list[Path]:
    """What stage 2 sees, the training curves and the ROC curve.

    The montage needs only OpenCV; the plots need matplotlib (the ``plots`` extra) and
    are skipped, with a note, without it.
    """
    from radiogenomics import viz
    from radiogenomics.data import FrameStore
    from radiogenomics.io import read_labels

    written: list[Path] = []
    # The training frames of the series that kept the most: [image, WT, ET], outlined.
    store = FrameStore(frames)
    keys = sorted(store.series_keys(), key=store.num_frames, reverse=True)
    if keys and store.num_frames(keys[0]):
        series = store.frames(keys[0])
        chosen = series[viz.evenly_spaced(len(series), 16)]
        written.append(viz.save_montage(chosen, out / "stage2-frames.png", size=96))
    try:
        written.append(viz.plot_training_curves(seg_run, out / "stage1-curves.png"))
        for mri_type, run in cls_runs.items():
            written.append(viz.plot_training_curves(run, out / f"stage2-curves-{mri_type}.png"))
        if scored is not None:  # probabilities of labelled patients, and their labels
            scores, labels = scored
            truth = read_labels(labels)
            patients = [p for p in scores if p in truth]
            truths, probabilities = [truth[p] for p in patients], [scores[p] for p in patients]
            written.append(viz.plot_roc(truths, probabilities, out / "roc.png", n_boot=2000))
    except ImportError as error:  # matplotlib is not installed
        log(f"plots skipped: {error}")
    return written


# The command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = parser.add_argument_group("real data (all three, or none for synthetic data)")
    data.add_argument("--task1-dir", type=Path, help="BraTS 2021 Task 1 folder")
    data.add_argument("--task2-dir", type=Path, help="Kaggle Task 2 train/ folder")
    data.add_argument("--labels", type=Path, help="train_labels.csv")
    data.add_argument("--test-dir", type=Path, help="Kaggle test/ folder to predict")
    data.add_argument("--test-labels", type=Path, help="labels of --test-dir, if known")
    data.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.2,
        help="real data: share of labelled patients held out as a scored test split "
        "(default 0.2; 0: train on all)",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        help="settings (default: tiny on synthetic data, released-code on real data)",
    )
    parser.add_argument(
        "--device",
        help="torch device: cpu, cuda, cuda:1, auto (default: cpu on synthetic data, else auto)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("two-stage-out"), help="output folder (two-stage-out)"
    )
    parser.add_argument("--encoder-weights", type=Path, help="local stage 1 encoder weights")
    parser.add_argument("--backbone-weights", type=Path, help="local stage 2 backbone weights")
    parser.add_argument("--resume", action="store_true", help="continue a run in --out")
    parser.add_argument("--workers", type=int, default=2, help="preparation processes")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: 1 with the tiny preset, whose small models gain "
        "little from more and lose much on a busy machine; else torch's default)",
    )
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--seed", type=int, default=0)
    small = parser.add_argument_group("small settings (to try things quickly)")
    small.add_argument("--task1-cases", type=int, help="Task 1 cases (synthetic default 8)")
    small.add_argument("--patients", type=int, default=32, help="synthetic training patients")
    small.add_argument("--test-patients", type=int, default=16, help="synthetic test patients")
    small.add_argument("--seg-epochs", type=int, help="stage 1 epochs (default: the preset's)")
    small.add_argument(
        "--cls-epochs", type=int, help="stage 2 epochs (synthetic default 10, else the preset's)"
    )
    small.add_argument("--mri-types", nargs="+", choices=MRI_TYPES, default=list(MRI_TYPES))
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        help="also cross-validate stage 2 with this many patient-grouped folds "
        "(out-of-fold AUC with a 95%% interval); 0: no cross-validation",
    )
    args = parser.parse_args(argv)

    real = [args.task1_dir, args.task2_dir, args.labels]
    if any(v is not None for v in real) and not all(v is not None for v in real):
        parser.error("real data needs all of --task1-dir, --task2-dir and --labels")
    args.synthetic = args.task1_dir is None
    if args.synthetic:  # small enough to finish in a few minutes on two cores
        args.task1_cases = 8 if args.task1_cases is None else args.task1_cases
        args.cls_epochs = 10 if args.cls_epochs is None else args.cls_epochs
    args.preset = args.preset or ("tiny" if args.synthetic else "released-code")
    args.device = args.device or ("cpu" if args.synthetic else "auto")
    if not 0.0 <= args.holdout_fraction < 1.0:
        parser.error(f"--holdout-fraction {args.holdout_fraction} must be in [0, 1)")
    if args.out.is_dir() and any(args.out.iterdir()) and not args.resume:
        parser.error(f"{args.out} is not empty: pass --resume to continue, or another --out")
    return args


def main(argv: list[str] | None = None) -> int:
    global STARTED
    STARTED = time.perf_counter()
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    from radiogenomics.training import resolve_device

    args.device = str(resolve_device(args.device))  # "auto" -> "cuda" or "cpu"
    threads = args.threads or (1 if args.preset == "tiny" else None)
    if threads:
        import torch

        torch.set_num_threads(threads)

    # Step 0: the data.
    if args.synthetic:
        inputs = synthetic_inputs(out / "data", args)
        log(f"synthetic data in {out / 'data'}")
    else:
        inputs = Inputs(args.task1_dir, args.task2_dir, args.labels, args.test_dir, None)
        if args.holdout_fraction > 0:
            inputs = hold_out_patients(inputs, out / "split", args.holdout_fraction, args.seed)

    # Step 1: the settings, saved beside the results.
    preset = choose_settings(args)
    (out / "preset.json").write_text(preset.to_json() + "\n", encoding="utf-8")
    log(f"preset {preset.name!r} ({preset.description}), device {args.device}")

    # Step 2: stage 1.
    slices = prepare_stage1(inputs, slice_recipe(preset), out / "stage1-slices", args)
    seg_run = out / "stage1-run"
    segmentation = train_stage1(slices, preset, seg_run, args)

    # Step 3: stage 2.
    recipe = frame_recipe(preset, seg_run, args.device)
    frames = prepare_stage2(inputs, recipe, seg_run, preset, out / "stage2-frames", args)
    trained = train_stage2(frames, preset, out / "stage2-runs", args)
    cls_runs = {t: Path(r["run"]) for t, r in trained.items()}
    cross_validation = cross_validate(frames, preset, out / "stage2-cv", args)

    # Step 4: predict the patients that were never trained on; write their probabilities.
    # Synthetic data: the test split (labelled). Real data: the held-out labelled
    # patients, and the Kaggle test folder (scored only when --test-labels is given).
    from radiogenomics.inference import write_submission

    targets: list[tuple[Path, str, Path | None]] = []
    if inputs.test_dir is not None and inputs.test_dir != args.test_dir:
        name = "submission.csv" if args.synthetic else "heldout-predictions.csv"
        targets.append((inputs.test_dir, name, inputs.test_labels))
    if args.test_dir is not None:
        targets.append((args.test_dir, "submission.csv", args.test_labels))
    summary: dict[str, Any] = {
        "preset": preset.name,
        "device": args.device,
        "stage1_heldout": segmentation,
        "stage2_validation_patient_auc": {t: r["val_patient_auc"] for t, r in trained.items()},
    }
    if cross_validation is not None:
        summary["stage2_cross_validation"] = cross_validation
    scored: tuple[dict[str, float], Path] | None = None
    for folder, name, labels in targets:
        probabilities, per_type, no_chunk = predict_test(
            folder, recipe, trained, preset, args.device
        )
        path = write_submission(probabilities, out / name, expected=list(probabilities))
        log(f"wrote {path}: {len(probabilities)} patients, {len(no_chunk)} without a chunk")
        if labels is not None and scored is None:
            summary["test"] = score_test(probabilities, per_type, labels)
            scored = (probabilities, labels)

    # Step 5: the results.
    pictures = draw_pictures(out, seg_run, frames, cls_runs, scored)
    summary["pictures"] = [str(p) for p in pictures]
    summary["wall_seconds"] = round(time.perf_counter() - STARTED, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print()
    print(
        "held-out stage 1 patients: " + ", ".join(f"{k} {v:.3f}" for k, v in segmentation.items())
    )
    if "test" in summary:
        test = summary["test"]
        low, high = test["ci95"]
        per = ", ".join(f"{t} {v:.3f}" for t, v in test["auc_per_mri_type"].items())
        print(
            f"held-out test patients: AUC {test['auc']:.3f} (95 % CI {low:.3f}-{high:.3f}), "
            f"{test['patients']} patients ({test['positives']} positive); per MRI type: {per}"
        )
    for picture in pictures:
        print(f"picture: {picture}")
    print(f"done in {summary['wall_seconds']:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
