"""Inference: stage 1 mask prediction, zoom TTA, patient aggregation, submissions, prediction.

Every name is imported on first use, so importing one module of the package (the
NumPy-only aggregation, say) does not import the others, nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiogenomics._lazy import lazy_getattr

_MEMBERS: dict[str, str] = {
    "Aggregator": "radiogenomics.inference.predict",
    "AucInterval": "radiogenomics.inference.aggregate",
    "ChunkReduce": "radiogenomics.inference.aggregate",
    "ClassificationRun": "radiogenomics.inference.predict",
    "CleanupDims": "radiogenomics.inference.postprocess",
    "ET_LABEL": "radiogenomics.inference.labels",
    "IMAGENET_BLACK": "radiogenomics.inference.tta",
    "InferenceAmp": "radiogenomics.inference.predict_masks",
    "Interpolation": "radiogenomics.inference.zoom",
    "MaskCleanup": "radiogenomics.inference.postprocess",
    "MaskPredictor": "radiogenomics.inference.predict_masks",
    "PatientAggregator": "radiogenomics.inference.aggregate",
    "PredictionResult": "radiogenomics.inference.predict",
    "REFERENCE_TTA": "radiogenomics.inference.predict",
    "RunInfo": "radiogenomics.inference.predict",
    "SUBMISSION_HEADER": "radiogenomics.inference.submission",
    "TTAReduce": "radiogenomics.inference.tta",
    "WT_LABEL": "radiogenomics.inference.labels",
    "ZoomTTA": "radiogenomics.inference.tta",
    "bootstrap_auc_ci": "radiogenomics.inference.aggregate",
    "check_nifti_path": "radiogenomics.inference.labels",
    "check_segmentation_model": "radiogenomics.inference.predict",
    "crop_box": "radiogenomics.inference.zoom",
    "load_classification_runs": "radiogenomics.inference.predict",
    "masks_to_label_map": "radiogenomics.inference.labels",
    "mean_over_mri_types": "radiogenomics.inference.aggregate",
    "postprocess_probabilities": "radiogenomics.inference.predict_masks",
    "predict_patients": "radiogenomics.inference.predict",
    "predict_slice_probabilities": "radiogenomics.inference.predict_masks",
    "prepare_inference_model": "radiogenomics.inference.predict_masks",
    "preprocess_slices": "radiogenomics.inference.predict_masks",
    "read_submission": "radiogenomics.inference.submission",
    "reduce_chunks": "radiogenomics.inference.aggregate",
    "remove_small_components": "radiogenomics.inference.postprocess",
    "resolve_channels_last": "radiogenomics.inference.predict_masks",
    "resolve_inference_amp": "radiogenomics.inference.predict_masks",
    "roc_auc": "radiogenomics.inference.aggregate",
    "run_model": "radiogenomics.inference.predict_masks",
    "run_prediction": "radiogenomics.inference.predict",
    "save_label_map": "radiogenomics.inference.labels",
    "series_masks_to_nifti": "radiogenomics.inference.predict_masks",
    "threshold_probabilities": "radiogenomics.inference.predict_masks",
    "write_submission": "radiogenomics.inference.submission",
    "zoom_frames": "radiogenomics.inference.tta",
    "zoom_in": "radiogenomics.inference.zoom",
    "zoom_out": "radiogenomics.inference.zoom",
    "zoomed_size": "radiogenomics.inference.zoom",
}

__all__ = [
    "ET_LABEL",
    "IMAGENET_BLACK",
    "REFERENCE_TTA",
    "SUBMISSION_HEADER",
    "WT_LABEL",
    "Aggregator",
    "AucInterval",
    "ChunkReduce",
    "ClassificationRun",
    "CleanupDims",
    "InferenceAmp",
    "Interpolation",
    "MaskCleanup",
    "MaskPredictor",
    "PatientAggregator",
    "PredictionResult",
    "RunInfo",
    "TTAReduce",
    "ZoomTTA",
    "bootstrap_auc_ci",
    "check_nifti_path",
    "check_segmentation_model",
    "crop_box",
    "load_classification_runs",
    "masks_to_label_map",
    "mean_over_mri_types",
    "postprocess_probabilities",
    "predict_patients",
    "predict_slice_probabilities",
    "prepare_inference_model",
    "preprocess_slices",
    "read_submission",
    "reduce_chunks",
    "remove_small_components",
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

if TYPE_CHECKING:
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
    from radiogenomics.inference.postprocess import (
        CleanupDims,
        MaskCleanup,
        remove_small_components,
    )
    from radiogenomics.inference.predict import (
        REFERENCE_TTA,
        Aggregator,
        ClassificationRun,
        PredictionResult,
        RunInfo,
        check_segmentation_model,
        load_classification_runs,
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
    from radiogenomics.inference.tta import (
        IMAGENET_BLACK,
        TTAReduce,
        ZoomTTA,
        zoom_frames,
    )
    from radiogenomics.inference.zoom import (
        Interpolation,
        crop_box,
        zoom_in,
        zoom_out,
        zoomed_size,
    )


__getattr__ = lazy_getattr(__name__, globals(), _MEMBERS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MEMBERS))
