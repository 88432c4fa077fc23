"""Inference: stage 1 mask prediction, zoom TTA, patient aggregation, submissions.

Importing this package imports torch (``import radiogenomics`` alone does not).
"""

from radiogenomics.inference.aggregate import (
    AucInterval,
    ChunkReduce,
    PatientAggregator,
    bootstrap_auc_ci,
    mean_over_mri_types,
    reduce_chunks,
    roc_auc,
)
from radiogenomics.inference.labels import (
    ET_LABEL,
    WT_LABEL,
    check_nifti_path,
    masks_to_label_map,
    save_label_map,
)
from radiogenomics.inference.predict import (
    REFERENCE_TTA,
    ClassificationRun,
    PredictionResult,
    RunInfo,
    predict_patients,
    run_prediction,
)
from radiogenomics.inference.predict_masks import (
    InferenceAmp,
    MaskPredictor,
    postprocess_probabilities,
    predict_slice_probabilities,
    prepare_inference_model,
    preprocess_slices,
    resolve_channels_last,
    resolve_inference_amp,
    run_model,
    series_masks_to_nifti,
    threshold_probabilities,
)
from radiogenomics.inference.submission import (
    SUBMISSION_HEADER,
    read_submission,
    write_submission,
)
from radiogenomics.inference.tta import IMAGENET_BLACK, TTAReduce, ZoomTTA, zoom_frames
from radiogenomics.inference.zoom import Interpolation, crop_box, zoom_in, zoom_out, zoomed_size

__all__ = [
    "ET_LABEL",
    "IMAGENET_BLACK",
    "REFERENCE_TTA",
    "SUBMISSION_HEADER",
    "WT_LABEL",
    "AucInterval",
    "ChunkReduce",
    "ClassificationRun",
    "InferenceAmp",
    "Interpolation",
    "MaskPredictor",
    "PatientAggregator",
    "PredictionResult",
    "RunInfo",
    "TTAReduce",
    "ZoomTTA",
    "bootstrap_auc_ci",
    "check_nifti_path",
    "crop_box",
    "masks_to_label_map",
    "mean_over_mri_types",
    "postprocess_probabilities",
    "predict_patients",
    "predict_slice_probabilities",
    "prepare_inference_model",
    "preprocess_slices",
    "read_submission",
    "reduce_chunks",
    "resolve_channels_last",
    "resolve_inference_amp",
    "roc_auc",
    "run_model",
    "run_prediction",
    "save_label_map",
    "series_masks_to_nifti",
    "threshold_probabilities",
    "write_submission",
    "zoom_frames",
    "zoom_in",
    "zoom_out",
    "zoomed_size",
]
