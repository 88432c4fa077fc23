"""The settings both training loops share, each described once.

Every setting is a dataclass field whose metadata holds its description (and, when the
command line spells it otherwise, its option). The training configs
(:class:`~radiogenomics.training.SegmentationTrainConfig`,
:class:`~radiogenomics.training.ClassificationTrainConfig`) subclass
:class:`TrainingSettings`, changing only the defaults that differ between the stages;
the command line builds its options from the fields (so a setting's help, type and
choices are written once, here or on the config), the presets replace field values, and
the runs record ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from radiogenomics._choices import AmpMode, AugmentOn, LastChunkPolicy, LossName, SequenceHead
from radiogenomics._options import (
    check_choice,
    check_fields,
    check_range,
    dataclass_repr,
    redefault,
    setting,
)
from radiogenomics.errors import ConfigurationError
from radiogenomics.io.dicom import MRI_TYPES

if TYPE_CHECKING:
    from radiogenomics.models.sequence import SequenceClassifier

__all__ = [
    "AugmentOn",
    "ClassificationTrainConfig",
    "LossName",
    "SegmentationTrainConfig",
    "TrainingSettings",
    "check_fast_path",
]


def check_fast_path(channels_last: object, compile: object, augment_on: str) -> None:
    """Validate the speed settings shared by both training configs.

    Raises:
        ConfigurationError: ``channels_last`` is not True, False or None, ``compile`` is
            not a bool, or ``augment_on`` is not ``"loader"`` or ``"device"``.
    """
    if channels_last is not None and not isinstance(channels_last, bool):
        raise ConfigurationError(
            f"channels_last={channels_last!r} must be True, False or None (None: on for "
            "CUDA, off on the CPU)."
        )
    if not isinstance(compile, bool):
        raise ConfigurationError(f"compile={compile!r} must be True or False.")
    check_choice("augment_on", augment_on, ("loader", "device"))


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """The settings both training loops share (each stage's config sets its defaults).

    Attributes:
        epochs: Most epochs to run.
        batch_size: Samples per batch, per process: under ``torchrun --nproc_per_node
            N`` the global batch is ``N * batch_size``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (PyTorch's default; the reference kept it).
        warmup_epochs: Epochs at the start with the pretrained part (the stage 1 encoder,
            the stage 2 backbone) frozen.
        patience: Stop after this many epochs without a strictly lower validation loss;
            ``None`` never stops early.
        val_fraction: Fraction of patients held out for validation.
        seed: Seed of the split, the initialisation, shuffling and augmentation.
        image_size: Square input size.
        augment: Augment training samples (flips, shift-scale-rotate; the reference's).
        amp: Mixed precision: ``"auto"`` (bf16 where CUDA supports it, else fp16, on
            CUDA; off on the CPU), ``"off"``, ``"bf16"``, ``"fp16"`` (CUDA only).
        num_workers: DataLoader worker processes (results do not depend on it).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
            Under torchrun, ``"auto"`` and ``"cuda"`` mean ``cuda:LOCAL_RANK``.
        channels_last: Channels-last memory format (faster convolutions on recent GPUs);
            ``None``: on for CUDA, off on the CPU. May change on resume.
        compile: Run the training step through ``torch.compile`` (the first steps
            compile, later ones run faster). May change on resume.
        augment_on: Where training samples are augmented: ``"loader"`` (per sample, in
            the loader; the reference) or ``"device"`` (per batch on the training device,
            :class:`~radiogenomics.training.augment.DeviceAugment`; other random draws
            from the same distributions).
    """

    epochs: int = setting(1, help="most epochs")
    batch_size: int = setting(1, help="samples per batch")
    lr: float = setting(1e-4, help="AdamW learning rate")
    weight_decay: float = setting(1e-2, help="AdamW weight decay")
    warmup_epochs: int = setting(0, help="epochs with the pretrained part frozen")
    patience: int | None = setting(10, help="early stopping patience; 0 never stops", none_as=0)
    val_fraction: float = setting(0.2, help="held-out patient fraction")
    seed: int = setting(0, help="seed of the split, initialisation and augmentation")
    image_size: int = setting(224, help="input size")
    augment: bool = setting(
        True, help="augment training samples (--no-augment: train without augmentation)"
    )
    amp: AmpMode = setting("auto", help="mixed precision (auto: bf16 on CUDA, off on CPU)")
    num_workers: int = setting(
        0, help="data loader worker processes (per process)", option="--workers"
    )
    device: str = setting("auto", help="auto, cpu, cuda, cuda:N")
    channels_last: bool | None = setting(
        None, help="channels-last memory format (default: on for CUDA only)"
    )
    compile: bool = setting(False, help="run the training step through torch.compile")
    augment_on: AugmentOn = setting(
        "loader", help="augment in the loader (default) or batched on the training device"
    )

    _what: ClassVar[str] = "training settings"

    def __post_init__(self) -> None:
        check_fast_path(self.channels_last, self.compile, self.augment_on)
        check_choice("amp", self.amp, ("auto", "off", "bf16", "fp16"))
        for name in ("epochs", "batch_size", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name}={value!r} must be a positive whole number.")
        for name in ("warmup_epochs", "num_workers", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"{name}={value!r} must be a whole number, at least 0.")
        if self.patience is not None and self.patience < 1:
            raise ConfigurationError(
                f"patience={self.patience} must be at least 1, or None to never stop early."
            )
        check_range("lr", self.lr, low=0.0, low_inclusive=False)
        check_range("weight_decay", self.weight_decay, low=0.0)
        check_range(
            "val_fraction",
            self.val_fraction,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Settings from :meth:`to_dict` output.

        Raises:
            ConfigurationError: Unknown or invalid settings.
        """
        check_fields(cls, data, what=cls._what)
        return cls(**dict(data))

    def __repr__(self) -> str:
        return dataclass_repr(self)


@dataclass(frozen=True, kw_only=True, repr=False)
class SegmentationTrainConfig(TrainingSettings):
    """Every setting of stage 1 training (defaults: the reference's released code).

    The settings both stages share are :class:`~radiogenomics.training.settings.TrainingSettings`'s
    (here: 180 epochs at most, batches of 128 slices, learning rate 1e-4, the encoder
    frozen 10 epochs); stage 1 adds:

    Attributes:
        plateau_factor: ReduceLROnPlateau factor (PyTorch's default; the reference does
            not say).
        plateau_patience: ReduceLROnPlateau patience, in epochs.
        loss: ``"dice"`` (the reference: soft Dice, channels pooled) or ``"bce-dice"``.
        n_folds: Use patient-grouped k-fold instead of ``val_fraction`` (the reference:
            5 folds, fold 0).
        fold: The validation fold when ``n_folds`` is set.
    """

    epochs: int = redefault(TrainingSettings, "epochs", 180)
    batch_size: int = redefault(TrainingSettings, "batch_size", 128)
    lr: float = redefault(TrainingSettings, "lr", 1e-4)
    warmup_epochs: int = redefault(TrainingSettings, "warmup_epochs", 10)
    plateau_factor: float = setting(0.1, help="ReduceLROnPlateau factor")
    plateau_patience: int = setting(5, help="ReduceLROnPlateau patience")
    loss: LossName = setting("dice", help="training loss")
    n_folds: int | None = setting(None, help="patient-grouped k-fold instead", option="--folds")
    fold: int = setting(0, help="validation fold (with --folds)")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("plateau_patience", "fold"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name}={getattr(self, name)} must not be negative.")
        check_range(
            "plateau_factor",
            self.plateau_factor,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        check_choice("loss", self.loss, ("dice", "bce-dice"))
        if self.n_folds is not None and (self.n_folds < 2 or self.fold >= self.n_folds):
            raise ConfigurationError(
                f"n_folds={self.n_folds}, fold={self.fold}: need n_folds >= 2 and "
                "0 <= fold < n_folds."
            )
        if self.image_size < 32 or self.image_size % 32:
            raise ConfigurationError(
                f"image_size={self.image_size} must be a positive multiple of 32; use "
                f"{max(32, round(self.image_size / 32) * 32)}."
            )


@dataclass(frozen=True, kw_only=True, repr=False)
class ClassificationTrainConfig(TrainingSettings):
    """Every setting of stage 2 training (defaults: the reference; see the module notes).

    The settings both stages share are :class:`~radiogenomics.training.settings.TrainingSettings`'s
    (here: 80 epochs at most, batches of 4 chunks, learning rate 1e-6 (the released code;
    the writeup gives none), the backbone frozen 5 epochs, ``val_fraction`` of each
    class's patients held out); stage 2 adds:

    Attributes:
        mri_type: The MRI type to train on: ``"FLAIR"``, ``"T1w"``, ``"T1wCE"`` or
            ``"T2w"`` (one model per type;
            :func:`~radiogenomics.training.train_classification_all` trains all).
        backbone: A timm model name (``"eca_nfnet_l0"`` in the reference).
        backbone_weights: A local file of pretrained backbone weights (the reference
            starts from ImageNet); ``None`` starts from random weights. Nothing downloads.
        hidden_size: LSTM hidden size per direction (writeup 64, released code 128).
        num_layers: Stacked LSTM layers.
        head: ``"concat"`` (the reference: every time step's output, concatenated) or
            ``"pooled"`` (the mean over real frames; ignores padding).
        dropout: Dropout before the linear head.
        sequence_length: Frames per chunk (35).
        stride: Frames between chunk starts (5).
        last: The short last chunk: ``"pad"`` with zero frames (the reference) or
            ``"shift"`` back to end at the series end.
    """

    mri_type: str = "FLAIR"
    backbone: str = setting("eca_nfnet_l0", help="timm model name")
    backbone_weights: str | None = setting(None, help="local file of backbone weights")
    hidden_size: int = setting(64, help="LSTM hidden size (code: 128)")
    num_layers: int = setting(1, help="LSTM layers")
    head: SequenceHead = setting("concat", help="how the LSTM outputs become one logit")
    dropout: float = setting(0.0, help="dropout before the head")
    sequence_length: int = setting(35, help="frames per chunk")
    stride: int = setting(5, help="frames between chunk starts")
    last: LastChunkPolicy = setting("pad", help="short last chunk")
    batch_size: int = redefault(TrainingSettings, "batch_size", 4)
    lr: float = redefault(TrainingSettings, "lr", 1e-6)
    warmup_epochs: int = redefault(TrainingSettings, "warmup_epochs", 5)
    epochs: int = redefault(TrainingSettings, "epochs", 80)

    _what: ClassVar[str] = "classification training settings"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("mri_type", self.mri_type, MRI_TYPES)
        check_choice("head", self.head, ("concat", "pooled"))
        check_choice("last", self.last, ("pad", "shift"))
        if self.backbone_weights is not None:
            object.__setattr__(self, "backbone_weights", str(self.backbone_weights))
        for name in ("hidden_size", "num_layers", "sequence_length", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name}={value!r} must be a positive whole number.")
        if self.stride > self.sequence_length:
            raise ConfigurationError(
                f"stride={self.stride} is larger than sequence_length={self.sequence_length}: "
                "frames between chunks would be skipped. Use stride <= sequence_length."
            )
        check_range("dropout", self.dropout, low=0.0, high=1.0, high_inclusive=False)

    def create_model(self, *, with_weights: bool = True) -> SequenceClassifier:
        """The classifier these settings describe (imports torch and timm).

        Args:
            with_weights: Load ``backbone_weights`` (if set); ``False`` for a model whose
                weights will come from a checkpoint.
        """
        from radiogenomics.models.sequence import SequenceClassifier

        return SequenceClassifier(
            backbone=self.backbone,
            pretrained_weights=self.backbone_weights if with_weights else None,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            sequence_length=self.sequence_length,
            head=self.head,
            dropout=self.dropout,
        )
