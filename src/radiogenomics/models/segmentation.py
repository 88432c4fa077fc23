"""Stage 1 segmentation networks: segmentation_models_pytorch models built by name.

Nothing here downloads. smp is always asked for ``encoder_weights=None`` (random
initialisation); pretrained weights come from a file the user names:

* ``encoder_weights=PATH``: an encoder state dict (a torchvision or timm ImageNet
  checkpoint, or smp's own encoder file), loaded into the encoder only. Keys that the
  encoder does not have (a classifier head) are ignored; keys it needs must all be there.
* ``weights=PATH``: a whole-model state dict, such as ``best.safetensors`` written by
  :func:`radiogenomics.training.train_segmentation`, loaded strictly.

Files ending in ``.safetensors`` are read with safetensors; anything else with
``torch.load(weights_only=True)``. Neither can execute code.

Importing this module is cheap: torch and smp are imported when a model is built.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from radiogenomics._options import check_choice, check_fields, setting
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    InputNotFoundError,
    InvalidInputError,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "HUB_WEIGHT_NAMES",
    "SegmentationModelConfig",
    "create_segmentation_model",
    "load_segmentation_model",
    "load_state_dict_file",
    "load_weights",
    "training_orientation",
]

HUB_WEIGHT_NAMES: frozenset[str] = frozenset(
    {"imagenet", "ssl", "swsl", "advprop", "noisy-student", "instagram", "imagenet+5k", "true"}
)
"""Names of hub weights that smp would download; refused here (pass a file instead)."""

CHECKPOINT_FORMAT = "radiogenomics.segmentation/1"
"""``format`` entry of the metadata of checkpoints written by the training loop."""

_HEAD_PREFIXES = ("fc.", "classifier.", "head.", "last_linear.", "_fc.")


@dataclass(frozen=True)
class SegmentationModelConfig:
    """What is needed to rebuild a segmentation model (saved with every checkpoint).

    Attributes:
        architecture: An smp architecture class name (``"UnetPlusPlus"``, ``"Unet"``,
            ``"FPN"``, ...; case-insensitive).
        encoder: An smp encoder name (``"densenet121"``, ``"resnet18"``, ...) or
            ``"tu-<timm model name>"``.
        classes: Output channels (2: WT and ET).
        in_channels: Input channels (3: the slice replicated).
        image_size: The square input size the model was trained at (a multiple of 32).
    """

    architecture: str = setting("UnetPlusPlus", help="smp architecture")
    encoder: str = setting("densenet121", help="smp encoder or tu-<timm name>")
    classes: int = 2
    in_channels: int = 3
    image_size: int = 224

    def __post_init__(self) -> None:
        if self.classes < 1 or self.in_channels < 1:
            raise ConfigurationError(
                f"classes={self.classes} and in_channels={self.in_channels} must be at least 1."
            )
        if self.image_size < 32 or self.image_size % 32:
            raise ConfigurationError(
                f"image_size={self.image_size} must be a positive multiple of 32 (the "
                f"encoders downsample 5 times); use {max(32, round(self.image_size / 32) * 32)}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The fields as JSON."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentationModelConfig:
        """A config from :meth:`to_dict` output (unknown keys are an error).

        Raises:
            ConfigurationError: ``data`` has keys that are not fields.
        """
        check_fields(cls, data, what="model settings")
        return cls(**dict(data))

    def create(
        self,
        *,
        encoder_weights: str | Path | None = None,
        weights: str | Path | None = None,
    ) -> torch.nn.Module:
        """Build this model (see :func:`create_segmentation_model`)."""
        return create_segmentation_model(
            architecture=self.architecture,
            encoder=self.encoder,
            classes=self.classes,
            in_channels=self.in_channels,
            encoder_weights=encoder_weights,
            weights=weights,
        )


def _architecture_name(name: str) -> str:
    import segmentation_models_pytorch as smp

    by_lower: dict[str, str] = {
        cls.__name__.lower(): str(cls.__name__) for cls in smp._MODEL_ARCHITECTURES
    }
    key = check_choice("architecture", name.lower(), by_lower)
    return by_lower[key]


def _check_encoder(name: str) -> None:
    import segmentation_models_pytorch as smp

    if name.startswith("tu-"):
        import timm

        if not timm.is_model(name[3:].split(".")[0]):
            check_choice(
                "encoder",
                name,
                [f"tu-{m}" for m in timm.list_models()],
                listing="timm.list_models(), each with a tu- prefix",
            )
        return
    check_choice("encoder", name, smp.encoders.get_encoder_names())


def _weight_path(value: str | Path, option: str) -> Path:
    text = str(value)
    if text.lower() in HUB_WEIGHT_NAMES and not Path(value).exists():
        raise ConfigurationError(
            f"{option}={value!r} names hub weights, which would be downloaded; radiogenomics "
            "never downloads. Download the weights on a machine with network access (for "
            "example the timm or torchvision ImageNet checkpoint of the encoder), copy the "
            f"file here and pass its path: {option}=PATH (.safetensors, .pth or .pt)."
        )
    path = Path(value)
    if not path.is_file():
        raise InputNotFoundError(
            f"{option} file not found; pass the path of a local .safetensors/.pth file.",
            path=path,
        )
    return path


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a file without executing code.

    ``.safetensors`` files are read with safetensors; others with
    ``torch.load(map_location="cpu", weights_only=True)``. A dict that wraps the state
    dict under ``"state_dict"``, ``"model"`` or ``"model_state_dict"`` is unwrapped.

    Args:
        path: The file.

    Returns:
        Parameter name to tensor (on CPU).

    Raises:
        InputNotFoundError: The file does not exist.
        CorruptFileError: The file cannot be read as a state dict.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("weights file not found.", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: object = load_file(str(path), device="cpu")
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise refused_pickle_error(error, path) from None
    except Exception as error:  # safetensors and pickle raise many unrelated types
        raise CorruptFileError(
            f"cannot read weights ({type(error).__name__}: {error}); expected a "
            ".safetensors file or a torch state dict saved with torch.save.",
            path=path,
        ) from error
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        raise CorruptFileError(
            "the file does not hold a state dict (a mapping of names to tensors).", path=path
        )
    check_finite_weights(loaded, path)
    return dict(loaded)


def check_finite_weights(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Refuse weights holding NaN or infinite values (a damaged file, or a diverged run).

    A model with such weights predicts NaN, which thresholds to empty masks or a 0.5
    probability without a word.

    Raises:
        CorruptFileError: Naming the first tensors with non-finite values and the counts.
    """
    import torch

    bad: list[str] = []
    for name, tensor in state.items():
        if tensor.is_floating_point() or tensor.is_complex():
            count = int((~torch.isfinite(tensor)).sum())
            if count:
                bad.append(f"{name} ({count} of {tensor.numel()})")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CorruptFileError(
            f"the weights hold NaN or infinite values in {len(bad)} tensor(s): {shown}. The "
            "file is damaged or the training diverged; use another checkpoint (e.g. "
            "last.safetensors or an earlier run).",
            path=path,
        )


def refused_pickle_error(error: Exception, path: Path) -> CorruptFileError:
    """The error for a torch file that ``torch.load(weights_only=True)`` refused.

    Such a file holds Python objects other than tensors and plain containers: loading it
    fully could run code it carries. The message names the refused object (for example
    ``posix.system``) and never suggests ``weights_only=False``.

    Args:
        error: The ``pickle.UnpicklingError`` raised by ``torch.load``.
        path: The file.
    """
    found = re.search(r"(?:unsupported|Unsupported) (?:GLOBAL|global):? ?([\w.]+)", str(error))
    what = f" ({found.group(1)})" if found else ""
    return CorruptFileError(
        f"refused: the file holds Python objects other than tensors{what}, and loading it "
        "could run code it carries; radiogenomics only reads tensors, numbers and strings. "
        "Use a .safetensors file, or a state dict saved with torch.save from a source you "
        "trust.",
        path=path,
    )


def describe_state_mismatch(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
) -> list[str]:
    """What differs between a model's state dict and a file's, in a few short parts.

    Args:
        expected: The model's state dict.
        given: The state dict read from the file.

    Returns:
        Up to three parts (``"2 missing: a, b"``, ``"1 unexpected: c"``, ``"1 shape: d:
        file (3,) vs model (4,)"``), each naming at most three keys; empty when the two fit.
    """
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k}: file {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in given and given[k].shape != expected[k].shape
    ]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return parts


def _parse_model_config(metadata: Mapping[str, str], path: Path) -> SegmentationModelConfig:
    """The model settings recorded in a checkpoint's metadata.

    Raises:
        CorruptFileError: They are missing, not JSON, or not settings.
    """
    text = metadata.get("model_config")
    if text is None and "user_model" in metadata:
        raise ConfigurationError(
            f"this run trained a model built by the user ({metadata['user_model']}), which "
            "the library cannot rebuild from settings. Build the same module and load the "
            "weights into it: radiogenomics.models.load_weights(module, PATH); a "
            "MaskPredictor(module, ...) then predicts with it.",
            path=path,
        )
    try:
        if text is None:
            raise KeyError("no model_config entry")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        return SegmentationModelConfig.from_dict(data)
    except (KeyError, ValueError, TypeError) as error:
        raise CorruptFileError(
            f"the checkpoint's model settings are unreadable ({type(error).__name__}: "
            f"{error}); was the file written by radiogenomics train-segmentation?",
            path=path,
        ) from error


def _checkpoint_config(path: Path) -> SegmentationModelConfig | None:
    if path.suffix != ".safetensors":
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception:  # not a readable safetensors file: reported by the loader
        return None
    if metadata.get("format") != CHECKPOINT_FORMAT or "user_model" in metadata:
        return None
    return _parse_model_config(metadata, path)


def load_weights(
    model: torch.nn.Module,
    path: str | Path,
    *,
    config: SegmentationModelConfig | None = None,
) -> None:
    """Load a whole-model state dict from a file into ``model`` (strictly, in place).

    Args:
        model: The model to fill.
        path: A ``.safetensors`` or torch file.
        config: The model's configuration; when given and the file is a radiogenomics
            checkpoint, the two configurations are compared first.

    Raises:
        ConfigurationError: The file was written for another architecture, encoder or
            number of classes; the message names what differs.
        InputNotFoundError, CorruptFileError: The file is missing or unreadable.
    """
    path = Path(path)
    saved = _checkpoint_config(path)
    if config is not None and saved is not None:
        fields = ("architecture", "encoder", "classes", "in_channels")
        diffs = [
            f"{f}: checkpoint {getattr(saved, f)!r}, model {getattr(config, f)!r}"
            for f in fields
            if getattr(saved, f) != getattr(config, f)
        ]
        if diffs:
            raise ConfigurationError(
                "checkpoint does not match the model (" + "; ".join(diffs) + "). Build the "
                "model from the checkpoint's own settings (load_segmentation_model does).",
                path=path,
            )
    state = load_state_dict_file(path)
    expected = model.state_dict()
    problems = describe_state_mismatch(expected, state)
    if problems:
        raise ConfigurationError(
            "weights do not fit this model (" + "; ".join(problems) + "). Was the file "
            "written for another architecture or encoder?",
            path=path,
        )
    model.load_state_dict(state, strict=True)


_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _load_encoder_weights(encoder: torch.nn.Module, path: Path) -> None:
    import torch

    state = load_state_dict_file(path)
    # Old torchvision DenseNet keys ("norm.1.weight") -> current ("norm1.weight").
    state = {
        (m.group(1) + m.group(2) if (m := _DENSENET_KEY.match(k)) else k): v
        for k, v in state.items()
    }
    expected = encoder.state_dict()

    def strip(prefix: str) -> dict[str, torch.Tensor]:
        return {k.removeprefix(prefix): v for k, v in state.items()}

    candidates = [
        state,
        strip("module."),
        strip("encoder."),  # a whole smp model given as encoder weights
        {f"model.{k}": v for k, v in state.items()},  # timm checkpoint -> tu- encoder
    ]
    best = min(candidates, key=lambda c: sum(k not in c for k in expected))
    kept = {k: v for k, v in best.items() if k in expected}
    ignored = [k for k in best if k not in expected]
    problems = describe_state_mismatch(expected, kept)
    foreign = [k for k in ignored if not k.startswith(_HEAD_PREFIXES)]
    if problems or (foreign and not kept):
        raise ConfigurationError(
            "encoder weights do not fit the encoder (" + "; ".join(problems or foreign[:3]) + "). "
            "Pass the checkpoint of the same encoder (e.g. the timm or torchvision ImageNet "
            "weights of that network), or a whole model through weights=.",
            path=path,
        )
    torch.nn.Module.load_state_dict(encoder, kept, strict=True)


def create_segmentation_model(
    *,
    architecture: str = "UnetPlusPlus",
    encoder: str = "densenet121",
    classes: int = 2,
    in_channels: int = 3,
    encoder_weights: str | Path | None = None,
    weights: str | Path | None = None,
) -> torch.nn.Module:
    """Build a segmentation_models_pytorch model by name, without downloading anything.

    The defaults are the reference's stage 1 model: Unet++ with a DenseNet121 encoder and
    2 output channels (about 30.07 M parameters). The model returns logits; apply a
    sigmoid for probabilities.

    Args:
        architecture: An smp architecture (``"UnetPlusPlus"``, ``"Unet"``, ``"FPN"``, ...).
        encoder: An smp encoder name, or ``"tu-<timm name>"`` for any timm model.
        classes: Output channels.
        in_channels: Input channels.
        encoder_weights: A local file of encoder weights (see the module docs), or None
            for random initialisation.
        weights: A local file of whole-model weights, loaded after ``encoder_weights``.

    Returns:
        The model, on CPU, in training mode.

    Raises:
        ConfigurationError: Unknown architecture or encoder (with a suggestion), hub
            weights asked for by name (``"imagenet"``), or weights that do not fit.
        InputNotFoundError: A weights file does not exist.

    Shape:
        Input (N, in_channels, H, W) with H and W multiples of 32; output (N, classes, H, W).

    Example:
        >>> from radiogenomics.models import create_segmentation_model
        >>> model = create_segmentation_model(architecture="Unet", encoder="resnet18")
        >>> model.segmentation_head[0].out_channels
        2
    """
    config = SegmentationModelConfig(
        architecture=architecture, encoder=encoder, classes=classes, in_channels=in_channels
    )
    arch = _architecture_name(architecture)
    _check_encoder(encoder)
    encoder_path = _weight_path(encoder_weights, "encoder_weights") if encoder_weights else None
    weights_path = _weight_path(weights, "weights") if weights else None

    import segmentation_models_pytorch as smp

    model: torch.nn.Module = smp.create_model(
        arch,
        encoder_name=encoder,
        encoder_weights=None,
        in_channels=in_channels,
        classes=classes,
    )
    if encoder_path is not None:
        _load_encoder_weights(model.encoder, encoder_path)  # type: ignore[arg-type]
    if weights_path is not None:
        load_weights(model, weights_path, config=config)
    return model


def read_checkpoint_metadata(
    path: Path, *, kind: str, expected_format: str, missing_hint: str, format_hint: str
) -> dict[str, str]:
    """The metadata of a radiogenomics ``.safetensors`` checkpoint, checked for its format.

    Only the header is read (no tensors, no code).

    Args:
        path: The checkpoint file.
        kind: What the checkpoint should be, for the message ("stage 2 classification").
        expected_format: The ``format`` metadata value the caller accepts.
        missing_hint: What to tell the user when the file does not exist.
        format_hint: What to tell the user when the format is another one.

    Raises:
        InputNotFoundError: The file does not exist.
        CorruptFileError: The file is not a readable safetensors file.
        InvalidInputError: The checkpoint has another format.
    """
    from safetensors import safe_open

    if not path.is_file():
        raise InputNotFoundError(missing_hint, path=path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata: dict[str, str] = dict(handle.metadata() or {})
    except Exception as error:  # safetensors raises its own error types
        raise CorruptFileError(f"not a readable safetensors file ({error}).", path=path) from error
    if metadata.get("format") != expected_format:
        raise InvalidInputError(
            f"not a {kind} checkpoint (format {metadata.get('format')!r}, expected "
            f"{expected_format!r}); {format_hint}",
            path=path,
        )
    return metadata


def _read_metadata(path: Path) -> dict[str, str]:
    return read_checkpoint_metadata(
        path,
        kind="radiogenomics segmentation",
        expected_format=CHECKPOINT_FORMAT,
        missing_hint="checkpoint not found; train with `radiogenomics train-segmentation` first.",
        format_hint="For plain weights use create_segmentation_model(weights=PATH).",
    )


def load_segmentation_model(
    run_dir: str | Path,
    *,
    which: Literal["best", "last"] = "best",
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, SegmentationModelConfig]:
    """Rebuild a trained model from a run folder (or a checkpoint file), ready for inference.

    Args:
        run_dir: A folder written by
            :func:`~radiogenomics.training.train_segmentation`, or one of its
            ``.safetensors`` files.
        which: ``"best"`` (lowest validation loss) or ``"last"``.
        device: Where to put the model.

    Returns:
        ``(model, config)``: the model in eval mode (it returns logits), and the settings
        it was built with (``config.image_size`` is its training input size).

    Raises:
        InputNotFoundError: No such checkpoint.
        InvalidInputError: The file is not a radiogenomics checkpoint.
        ConfigurationError: The weights do not fit the recorded model settings, or
            ``device`` is not available (CUDA on a machine without a GPU).
    """
    from radiogenomics._device import resolve_device

    check_choice("which", which, ("best", "last"))
    target = resolve_device(device)
    path = Path(run_dir)
    if path.is_dir() or path.suffix != ".safetensors":
        path = path / f"{which}.safetensors"
    metadata = _read_metadata(path)
    config = _parse_model_config(metadata, path)
    model = config.create()
    load_weights(model, path, config=config)
    model.eval()
    return model.to(target), config


def training_orientation(run_dir: str | Path) -> Literal["native", "radiological"] | None:
    """The in-plane layout of the slices a stage 1 run was trained on, if known.

    A NIfTI volume must be sliced the way the model's training slices were (see
    :data:`~radiogenomics.slicing.Orientation`): ``writeup`` and ``tiny`` preparation lays
    them out radiologically, ``released-code`` keeps the stored axes. The run's
    ``config.json`` records the preparation settings (``prepare_config``) or, for older
    runs, the prepared folder whose ``prepare-config.json`` holds them.

    Args:
        run_dir: A folder written by :func:`~radiogenomics.training.train_segmentation`
            (or one of its ``.safetensors`` files).

    Returns:
        ``"native"`` or ``"radiological"``; ``None`` when the run does not say (no
        ``config.json``, or its prepared folder has moved).

    Raises:
        CorruptFileError: ``config.json`` (or the preparation settings it points to) is
            damaged, or records no valid orientation: never read as "not said".
    """
    from radiogenomics._files import read_json_object

    run = Path(run_dir)
    if run.suffix == ".safetensors":
        run = run.parent
    fix = "Restore the run folder's config.json, or pass the layout (--orientation)."
    if not (run / "config.json").is_file():
        return None
    info = read_json_object(run / "config.json", what="the stage 1 run's settings", fix=fix)
    prep = info.get("prepare_config")
    if prep is None and "data_dir" in info:  # runs written before prepare_config
        source = Path(str(info["data_dir"])) / "prepare-config.json"
        if not source.is_file():
            return None  # the prepared folder has moved
        prep = read_json_object(source, what="the preparation settings", fix=fix)
    if prep is None:
        return None
    orientation = prep.get("orientation") if isinstance(prep, dict) else None
    if orientation not in ("native", "radiological"):
        raise CorruptFileError(
            f"the run's preparation settings give orientation={orientation!r}; expected "
            f"'native' or 'radiological'. {fix}",
            path=run / "config.json",
        )
    return orientation  # type: ignore[no-any-return]
