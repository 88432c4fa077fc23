"""Named presets: plain data that users can print, copy and change.

A :class:`Preset` holds every setting of the two-stage solution, one section per step:
stage 1 preparation, model and training, stage 2 preparation and training, and
prediction. :func:`get_preset` returns one by name:

* ``"writeup"``: what the solution's writeup describes. Stage 1 keeps slices whose
  tumor area over *brain* area exceeds 0.01 and drops near-duplicate neighbouring
  slices (here: Pearson correlation with the last kept slice above 0.9); slices are laid
  out radiologically so that they look like Task 2 DICOM images; 20 % of the patients
  are held out; the LSTM has 64 hidden units per direction.
* ``"released-code"``: what the released code actually does. Tumor area over the whole
  *slice* (> 0.01), filter first, then keep every T-th passing slice with
  T = max(round(0.1 n), 1); stored array axes, no reorientation; patient-grouped 5-fold
  split validated on fold 0; areas measured as largest contours, hole contours counted;
  LSTM hidden size 128.
* ``"extended"``: **not the seed's settings**. The writeup's, plus what the library
  measured to make stage 1 masks right on whole volumes (stage 2 runs stage 1 on every
  slice): tumor-free brain slices in stage 1 training (``negative_fraction``) and a
  clean-up of the predicted masks (``cleanup_drop_below``); see :doc:`/presets` for the
  figures behind them.
* ``"tiny"``: the fast demo. The writeup's rules at 64 pixels, a Unet with timm's tiny
  ``test_resnet`` encoder, a ``resnet10t`` backbone over 8-frame chunks, learning rates
  for random initialisation; trains on two CPU cores in minutes.

Both reference presets share the rest: Unet++/DenseNet121 with 2 classes (WT, ET) at
224 pixels, AdamW lr 1e-4 with a 10-epoch frozen encoder for stage 1, ECA-NFNet-L0 with
AdamW lr 1e-6 and a 5-epoch frozen backbone for stage 2, 35-frame chunks every 5, masks
predicted through a 1.2 zoom and chunks predicted zoomed in by 1.2 (the TTA).

Example:
    >>> from radiogenomics.presets import get_preset
    >>> preset = get_preset("released-code")
    >>> preset.segmentation_prep.sampler, preset.classification_train.hidden_size
    ('stride', 128)
    >>> get_preset("tiny").replace(segmentation_train={"epochs": 2}).segmentation_train.epochs
    2
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from radiogenomics._options import check_choice, check_fields, check_range, setting
from radiogenomics.data.prepare_classification import ClassificationPrepConfig
from radiogenomics.data.prepare_segmentation import SegmentationPrepConfig
from radiogenomics.errors import ConfigurationError

if TYPE_CHECKING:
    from radiogenomics.inference.tta import ZoomTTA
    from radiogenomics.models.segmentation import SegmentationModelConfig
    from radiogenomics.training.classification import ClassificationTrainConfig
    from radiogenomics.training.segmentation import SegmentationTrainConfig

__all__ = [
    "EXTENDED_CLEANUP_DROP_BELOW",
    "EXTENDED_NEGATIVE_FRACTION",
    "PRESETS",
    "PredictionSettings",
    "Preset",
    "PresetName",
    "classification_preset",
    "get_preset",
    "segmentation_preset",
]

PresetName = Literal["writeup", "released-code", "tiny", "extended"]
PRESETS: tuple[PresetName, ...] = ("writeup", "released-code", "tiny", "extended")

EXTENDED_NEGATIVE_FRACTION = 1.0
"""Tumor-free slices per tumor slice in the ``extended`` preset's stage 1 training.

Of the fractions measured (0.5 and 1 on synthetic held-out cases, also 2 on the real
case), the one with the fewest false-positive slices and the fewest stage 2 frames without
true tumor on synthetic held-out data (``benchmarks/stage1_negatives.py``; figures in
:doc:`/presets`)."""
EXTENDED_CLEANUP_DROP_BELOW = 2000
"""3D connected components of fewer voxels are dropped from the ``extended`` preset's masks.

In voxels of the series as given (native resolution): 2000 voxels are 2 mL at BraTS'
1 mm spacing, far below a glioblastoma's whole tumor (tens of mL), and the threshold that
removed the most false-positive slices on the real case without lowering its Dice
(``benchmarks/stage1_negatives.py``; figures in :doc:`/presets`). Scale it with the voxel
size on other data."""

_SEGMENTATION: dict[str, SegmentationPrepConfig] = {
    "writeup": SegmentationPrepConfig(),
    "released-code": SegmentationPrepConfig(
        orientation="native",
        reference="slice",
        sampler="stride",
        order="filter-then-sample",
    ),
    "tiny": SegmentationPrepConfig(size=64),
    "extended": SegmentationPrepConfig(negative_fraction=EXTENDED_NEGATIVE_FRACTION),
}


_CLASSIFICATION: dict[str, ClassificationPrepConfig] = {
    "writeup": ClassificationPrepConfig(),
    "released-code": ClassificationPrepConfig(area="largest_contour", count_holes=True),
    "tiny": ClassificationPrepConfig(),
    "extended": ClassificationPrepConfig(cleanup_drop_below=EXTENDED_CLEANUP_DROP_BELOW),
}


@dataclass(frozen=True, kw_only=True)
class PredictionSettings:
    """How test patients are predicted (both reference presets: the released code).

    The stage 1 masks of test patients are predicted as the classification run's
    training frames were (its ``classification_prep``: zoom 1.2, threshold 0.5), so
    they are not settings here.

    Attributes:
        tta_scales: Zoom factors of the stage 2 test-time views (``(1.2,)``: one view
            zoomed in by 1.2); empty for no TTA.
        tta_include_identity: Also predict the unzoomed view and average.
        batch_size: Chunks per stage 2 forward pass.
        mask_batch_size: Slices per stage 1 forward pass.
        fallback: Probability of a patient with no surviving frame. The released code
            wrote no row for such a patient; a Kaggle submission needs one.

    Example:
        >>> PredictionSettings().tta()  # the reference: one view zoomed in by 1.2
        ZoomTTA()
    """

    tta_scales: tuple[float, ...] = (1.2,)
    tta_include_identity: bool = False
    batch_size: int = setting(4, help="chunks per forward pass")
    mask_batch_size: int = 32
    fallback: float = setting(0.5, help="probability of a patient with no frame")

    def __post_init__(self) -> None:
        check_range("fallback", self.fallback, low=0.0, high=1.0)
        for scale in self.tta_scales:
            check_range("tta_scales", scale, low=0.0, low_inclusive=False)
        for name in ("batch_size", "mask_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name}={getattr(self, name)} must be at least 1.")

    def tta(self) -> ZoomTTA | None:
        """The test-time augmentation these settings describe (``None``: plain chunks)."""
        from radiogenomics.inference.tta import ZoomTTA

        if not self.tta_scales:
            return None
        return ZoomTTA(scales=self.tta_scales, include_identity=self.tta_include_identity)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        data = dataclasses.asdict(self)
        data["tta_scales"] = list(self.tta_scales)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictionSettings:
        """Settings from :meth:`to_dict` output.

        Raises:
            ConfigurationError: Unknown keys or invalid values.
        """
        check_fields(cls, data, what="prediction settings")
        values = dict(data)
        if "tta_scales" in values:
            values["tta_scales"] = tuple(float(v) for v in values["tta_scales"])
        return cls(**values)


_SECTIONS = (
    "segmentation_prep",
    "segmentation_model",
    "segmentation_train",
    "classification_prep",
    "classification_train",
    "prediction",
)


@dataclass(frozen=True, kw_only=True)
class Preset:
    """Every setting of the two-stage solution, one section per step.

    Build one with :func:`get_preset`; change it with :meth:`replace`; save it with
    :meth:`to_json` and read it back with :meth:`from_dict`.

    Attributes:
        name: The preset's name (``"custom"`` after :meth:`from_dict` of edited data is
            fine: the name is a label).
        description: One line on where the settings come from.
        segmentation_prep: Stage 1 preparation
            (:func:`~radiogenomics.data.prepare_segmentation`).
        segmentation_model: The stage 1 model.
        segmentation_train: Stage 1 training
            (:func:`~radiogenomics.training.train_segmentation`).
        classification_prep: Stage 2 preparation
            (:func:`~radiogenomics.data.prepare_classification`).
        classification_train: Stage 2 training, for one MRI type (replace ``mri_type``
            per model; :func:`~radiogenomics.training.train_classification`).
        prediction: Test-time settings
            (:func:`~radiogenomics.inference.run_prediction`).
    """

    name: str
    description: str
    segmentation_prep: SegmentationPrepConfig
    segmentation_model: SegmentationModelConfig
    segmentation_train: SegmentationTrainConfig
    classification_prep: ClassificationPrepConfig
    classification_train: ClassificationTrainConfig
    prediction: PredictionSettings

    def replace(self, **sections: Mapping[str, Any]) -> Preset:
        """A copy with some settings changed, given per section.

        Args:
            **sections: For each section to change, a mapping of field to new value,
                for example ``segmentation_train={"epochs": 5, "device": "cuda"}``.

        Raises:
            ConfigurationError: An unknown section or field, or an invalid value.
        """
        changed: dict[str, Any] = {}
        for section, changes in sections.items():
            check_choice("section", section, _SECTIONS)
            current = getattr(self, section)
            check_fields(type(current), changes, what=f"{section} settings")
            try:
                changed[section] = dataclasses.replace(current, **dict(changes))
            except TypeError as error:
                raise ConfigurationError(f"{section}: {error}") from None
        return dataclasses.replace(self, **changed)

    def to_dict(self) -> dict[str, Any]:
        """Every setting as a JSON-ready dict, one key per section."""
        prep = json.loads(self.segmentation_prep.to_json())
        return {
            "name": self.name,
            "description": self.description,
            "segmentation_prep": prep,
            "segmentation_model": self.segmentation_model.to_dict(),
            "segmentation_train": self.segmentation_train.to_dict(),
            "classification_prep": self.classification_prep.to_dict(),
            "classification_train": self.classification_train.to_dict(),
            "prediction": self.prediction.to_dict(),
        }

    def to_json(self) -> str:
        """Every setting as indented JSON (what ``radiogenomics presets`` prints)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preset:
        """A preset from :meth:`to_dict` output (possibly edited by hand).

        Raises:
            ConfigurationError: A missing or unknown section or field, or a bad value.
        """
        from radiogenomics.models.segmentation import SegmentationModelConfig
        from radiogenomics.training.classification import ClassificationTrainConfig
        from radiogenomics.training.segmentation import SegmentationTrainConfig

        check_fields(cls, data, what="preset sections")
        missing = [s for s in ("name", *_SECTIONS) if s not in data]
        if missing:
            raise ConfigurationError(
                f"the preset lacks {', '.join(missing)}; start from "
                "get_preset(...).to_dict() so that every section is there."
            )
        prep = dict(data["segmentation_prep"])
        check_fields(SegmentationPrepConfig, prep, what="segmentation_prep settings")
        return cls(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            segmentation_prep=SegmentationPrepConfig.from_json(json.dumps(prep)),
            segmentation_model=SegmentationModelConfig.from_dict(data["segmentation_model"]),
            segmentation_train=SegmentationTrainConfig.from_dict(data["segmentation_train"]),
            classification_prep=ClassificationPrepConfig.from_dict(data["classification_prep"]),
            classification_train=ClassificationTrainConfig.from_dict(data["classification_train"]),
            prediction=PredictionSettings.from_dict(data["prediction"]),
        )


_DESCRIPTIONS: dict[str, str] = {
    "writeup": "the solution as its writeup describes it",
    "released-code": "what the solution's released code actually does",
    "tiny": "the fast demo: 64 px, tiny models, minutes on two CPU cores",
    "extended": "not the seed's: the writeup plus tumor-free slices in stage 1 training "
    "and a clean-up of the predicted masks",
}


def get_preset(name: PresetName) -> Preset:
    """Every setting of a named preset.

    Args:
        name: ``"writeup"``, ``"released-code"``, ``"tiny"`` or ``"extended"``.

    Raises:
        ConfigurationError: Unknown preset (the message lists the names).

    Example:
        >>> get_preset("writeup").classification_train.hidden_size
        64
    """
    from radiogenomics.models.segmentation import SegmentationModelConfig
    from radiogenomics.training.classification import ClassificationTrainConfig
    from radiogenomics.training.segmentation import SegmentationTrainConfig

    check_choice("preset", name, PRESETS)
    if name == "tiny":
        model = SegmentationModelConfig(
            architecture="Unet", encoder="tu-test_resnet", image_size=64
        )
        seg_train = SegmentationTrainConfig(
            epochs=8, batch_size=32, lr=2e-3, warmup_epochs=0, patience=5, image_size=64
        )
        cls_train = ClassificationTrainConfig(
            backbone="resnet10t",
            hidden_size=32,
            head="pooled",
            sequence_length=8,
            stride=4,
            image_size=64,
            batch_size=8,
            lr=1e-3,
            warmup_epochs=0,
            epochs=15,
            patience=5,
            val_fraction=0.25,
        )
        prediction = PredictionSettings(batch_size=8, mask_batch_size=64)
    else:
        model = SegmentationModelConfig()
        seg_train = (
            SegmentationTrainConfig(n_folds=5, fold=0)
            if name == "released-code"
            else SegmentationTrainConfig()
        )
        cls_train = ClassificationTrainConfig(hidden_size=128 if name == "released-code" else 64)
        prediction = PredictionSettings()
    return Preset(
        name=name,
        description=_DESCRIPTIONS[name],
        segmentation_prep=_SEGMENTATION[name],
        segmentation_model=model,
        segmentation_train=seg_train,
        classification_prep=_CLASSIFICATION[name],
        classification_train=cls_train,
        prediction=prediction,
    )


def segmentation_preset(name: PresetName, **changes: object) -> SegmentationPrepConfig:
    """The stage 1 preparation settings of a named preset, with optional changes.

    The same as ``get_preset(name).segmentation_prep`` with ``changes`` applied, without
    importing torch.

    Args:
        name: ``"writeup"``, ``"released-code"``, ``"tiny"`` or ``"extended"``.
        **changes: Fields of :class:`~radiogenomics.data.SegmentationPrepConfig` to change.

    Raises:
        ConfigurationError: Unknown preset or invalid change.
    """
    check_choice("preset", name, PRESETS)
    try:
        return dataclasses.replace(_SEGMENTATION[name], **changes)  # type: ignore[arg-type]
    except TypeError as error:
        raise ConfigurationError(
            f"invalid stage 1 preparation setting ({error}); see SegmentationPrepConfig."
        ) from None


def classification_preset(name: PresetName, **changes: object) -> ClassificationPrepConfig:
    """The stage 2 preparation settings of a named preset, with optional changes.

    Both reference presets keep frames with tumor/brain > 0.025 and 1 to 5 WT contours.
    The writeup counts pixels; the released code measures the largest outer contour of
    the tumor and of the brain (``image > 1``) and also counts hole contours.

    Args:
        name: ``"writeup"``, ``"released-code"``, ``"tiny"`` or ``"extended"``.
        **changes: Fields of :class:`~radiogenomics.data.ClassificationPrepConfig` to
            change.

    Raises:
        ConfigurationError: Unknown preset or invalid change.

    Example:
        >>> classification_preset("released-code").count_holes
        True
    """
    check_choice("preset", name, PRESETS)
    try:
        return dataclasses.replace(_CLASSIFICATION[name], **changes)  # type: ignore[arg-type]
    except TypeError as error:
        raise ConfigurationError(
            f"invalid stage 2 preparation setting ({error}); see ClassificationPrepConfig."
        ) from None
