"""Stage 2 classifier: a timm backbone shared across time steps, then a BiLSTM.

The reference embeds each 3-channel frame of a 35-frame chunk with an ECA-NFNet-L0
(ImageNet) whose classifier is removed (a 2304-d embedding), runs a one-layer
bidirectional LSTM over the 35 embeddings, concatenates all 35 outputs and maps them to
one logit with one linear layer. The writeup gives an LSTM hidden size of 64 (about
23.06 M parameters); the released code uses 128 (about 24.34 M).

Heads (``head=``):

* ``"concat"`` (the reference): every time step's output, concatenated, then one linear
  layer. It needs exactly ``sequence_length`` frames; padding frames go through the
  backbone and the LSTM like real frames (the ``valid`` mask is ignored).
* ``"pooled"``: the mean of the LSTM outputs over the *valid* time steps, then one linear
  layer. It accepts any number of frames, and padding frames have no effect at all: the
  backbone sees only valid frames and the LSTM runs on packed sequences of the valid
  frames (in their order), so the backward direction never reads padding.

Nothing downloads: the backbone is built with ``pretrained=False`` and weights come from
a local file (``pretrained_weights=``), a state dict of the timm backbone as a
``.safetensors`` or torch file (a checkpoint with its classifier is fine: the classifier
is dropped).

This module imports torch and timm.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from radiogenomics._choices import SequenceHead
from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.models.segmentation import HUB_WEIGHT_NAMES, load_state_dict_file

__all__ = ["SequenceClassifier", "SequenceHead", "feature_width", "load_backbone_weights"]


_HEADS: tuple[SequenceHead, ...] = ("concat", "pooled")
_HUB_PREFIXES = ("hf-hub:", "hf_hub:", "timm/", "http://", "https://")
_WRAPPER_PREFIXES = ("module.", "backbone.", "model.", "encoder.")


def _backbone_weight_path(value: str | Path) -> Path:
    from radiogenomics.errors import InputNotFoundError

    if isinstance(value, bool):
        raise ConfigurationError(
            f"pretrained_weights={value!r}: pass the path of a local weights file, or None. "
            "radiogenomics never downloads hub weights."
        )
    text = str(value)
    path = Path(value)
    if not path.is_file() and (
        text.lower() in HUB_WEIGHT_NAMES or text.lower().startswith(_HUB_PREFIXES)
    ):
        raise ConfigurationError(
            f"pretrained_weights={text!r} names hub weights, which would be downloaded; "
            "radiogenomics never downloads. On a machine with network access save the "
            "backbone's weights (timm.create_model(name, pretrained=True, num_classes=0)"
            ".state_dict(), with torch.save or safetensors), copy the file here and pass "
            "its path: pretrained_weights=PATH."
        )
    if not path.is_file():
        raise InputNotFoundError(
            "backbone weights file not found; pass the path of a local .safetensors, .pth "
            "or .pt file holding the timm backbone's state dict.",
            path=path,
        )
    return path


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load a timm backbone's weights from a local file (in place, strictly).

    Keys may carry a wrapper prefix (``module.``, ``backbone.``, ``model.``,
    ``encoder.``); keys of the original classifier (timm's ``pretrained_cfg["classifier"]``,
    e.g. ``head.fc`` of ECA-NFNet-L0) are dropped. Every other key must match the
    backbone in name and shape.

    Args:
        backbone: A timm model built with ``num_classes=0``.
        path: A ``.safetensors`` or torch state-dict file.

    Raises:
        ConfigurationError: The weights do not fit the backbone (the message lists the
            first missing, unexpected or mis-shaped keys).
        InputNotFoundError: The file does not exist.
        CorruptFileError: The file is not a readable state dict.
    """
    path = _backbone_weight_path(path)
    state = load_state_dict_file(path)
    expected = backbone.state_dict()
    candidates = [state] + [
        {k.removeprefix(prefix): v for k, v in state.items()} for prefix in _WRAPPER_PREFIXES
    ]
    best = max(candidates, key=lambda c: sum(k in expected for k in c))
    classifier = getattr(backbone, "pretrained_cfg", {}).get("classifier") or "fc"
    classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    kept = {k: v for k, v in best.items() if not any(k.startswith(f"{c}.") for c in classifiers)}
    missing = [k for k in expected if k not in kept]
    unexpected = [k for k in kept if k not in expected]
    shapes = [
        f"{k}: file {tuple(kept[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in kept and kept[k].shape != v.shape
    ]
    problems = [
        f"{len(items)} {label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
        if items
    ]
    if problems:
        raise ConfigurationError(
            "backbone weights do not fit the backbone (" + "; ".join(problems) + "). Pass "
            "the checkpoint of the same timm model (built with the same in_chans).",
            path=path,
        )
    backbone.load_state_dict(kept, strict=True)


def _probe_size(backbone: nn.Module) -> int:
    """The frame side at which a backbone's output width is measured."""
    config = getattr(backbone, "pretrained_cfg", None) or {}
    size = config.get("input_size") if isinstance(config, dict) else None
    if isinstance(size, (tuple, list)) and len(size) == 3 and isinstance(size[-1], int):
        return int(size[-1])
    return 224


def feature_width(backbone: nn.Module, *, in_chans: int = 3, size: int | None = None) -> int:
    """The width of a backbone's pooled output, measured with one dry forward pass.

    A timm model's ``num_features`` is the width *before* its head; some families
    (MobileNetV3, LCNet, MobileNetV4) add a hidden head layer, so their pooled output is
    wider. Measuring the output is right for every model, timm's or the user's.

    Args:
        backbone: Maps (N, C, H, W) frames to (N, F) features.
        in_chans: Channels of the frames.
        size: Side of the probe frames; default: the timm model's default input size,
            or 224.

    Returns:
        ``F``.

    Raises:
        ConfigurationError: The backbone fails on a probe frame, or does not return
            pooled features of shape (N, F).
    """
    side = size or _probe_size(backbone)
    training = backbone.training
    parameter = next(backbone.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    backbone.eval()
    try:
        with torch.no_grad():
            output = backbone(torch.zeros(2, in_chans, side, side, device=device))
    except Exception as error:
        raise ConfigurationError(
            f"the backbone ({type(backbone).__name__}) failed on probe frames of shape "
            f"(2, {in_chans}, {side}, {side}) ({type(error).__name__}: {error}); pass "
            "num_features= (its output width) or a frame size it accepts (probe_size=)."
        ) from error
    finally:
        backbone.train(training)
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[0] != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output)
        raise ConfigurationError(
            f"the backbone ({type(backbone).__name__}) must map (N, C, H, W) frames to "
            f"pooled features of shape (N, F); it returned {shape}. End it with "
            "nn.AdaptiveAvgPool2d(1) and nn.Flatten() (a timm model: num_classes=0)."
        )
    return int(output.shape[1])


class SequenceClassifier(nn.Module):
    """A backbone shared across time steps, a (Bi)LSTM and a one-logit head.

    Args:
        backbone: A timm model name (``timm.list_models()``), built with
            ``pretrained=False, num_classes=0``; or any ``nn.Module`` that maps
            (N, C, H, W) frames to pooled features (N, F). The width ``F`` is measured
            with one dry forward pass (timm's ``num_features`` is not the pooled width of
            every family), unless ``num_features`` gives it.
        pretrained_weights: A local file with the (timm) backbone's weights, or ``None``
            for a random initialisation. Hub names (``"imagenet"``, ``"hf-hub:..."``) are
            refused. A module backbone carries its own weights.
        hidden_size: LSTM hidden size per direction (writeup 64, released code 128).
        num_layers: Stacked LSTM layers.
        bidirectional: A bidirectional LSTM (the reference) or a forward one.
        sequence_length: Frames per chunk; the ``"concat"`` head requires exactly this many.
        head: ``"concat"`` (the reference) or ``"pooled"``.
        dropout: Dropout before the linear head (and between LSTM layers when
            ``num_layers > 1``); 0 in the reference.
        in_chans: Channels per frame (3: image, WT, ET).
        num_features: The backbone's output width, when known (no probe pass then).
        probe_size: Side of the probe frames (default: the timm model's default input
            size, or 224).

    Raises:
        ConfigurationError: An option is invalid, the backbone is unknown or does not
            return pooled features, or hub weights were asked for.

    Shape:
        - frames: (B, L, C, H, W), float.
        - valid: (B, L), bool or 0/1; optional.
        - output: (B,) logits.

    Example:
        >>> import torch
        >>> model = SequenceClassifier(backbone="test_resnet", sequence_length=4)
        >>> model(torch.zeros(2, 4, 3, 32, 32)).shape
        torch.Size([2])
        >>> tiny = torch.nn.Sequential(
        ...     torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        >>> SequenceClassifier(backbone=tiny, sequence_length=4).num_features
        8
    """

    def __init__(
        self,
        *,
        backbone: str | nn.Module = "eca_nfnet_l0",
        pretrained_weights: str | Path | None = None,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        sequence_length: int = 35,
        head: SequenceHead = "concat",
        dropout: float = 0.0,
        in_chans: int = 3,
        num_features: int | None = None,
        probe_size: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("head", head, _HEADS)
        for name, value in (
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("sequence_length", sequence_length),
            ("in_chans", in_chans),
            *((("num_features", num_features),) if num_features is not None else ()),
            *((("probe_size", probe_size),) if probe_size is not None else ()),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name}={value!r} must be a positive whole number.")
        check_range("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
        if isinstance(backbone, nn.Module):
            if pretrained_weights is not None:
                raise ConfigurationError(
                    "pretrained_weights is for a timm backbone named by a string; a module "
                    "backbone carries its own weights (load them into it first)."
                )
            module = backbone
            self.backbone_name = type(backbone).__name__
        elif isinstance(backbone, str):
            import timm

            if not timm.is_model(backbone):
                check_choice("backbone", backbone, timm.list_models(), listing="timm.list_models()")
            weights = (
                None if pretrained_weights is None else _backbone_weight_path(pretrained_weights)
            )
            module = timm.create_model(backbone, pretrained=False, num_classes=0, in_chans=in_chans)
            if weights is not None:
                load_backbone_weights(module, weights)
            self.backbone_name = backbone
        else:
            raise ConfigurationError(
                f"backbone={backbone!r} must be a timm model name or an nn.Module."
            )
        self.pretrained_weights = pretrained_weights
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.sequence_length = sequence_length
        self.head: SequenceHead = head
        self.dropout_p = float(dropout)
        self.in_chans = in_chans

        self.backbone: nn.Module = module
        self.num_features = (
            num_features
            if num_features is not None
            else feature_width(module, in_chans=in_chans, size=probe_size)
        )
        self.lstm = nn.LSTM(
            input_size=self.num_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=self.dropout_p if num_layers > 1 else 0.0,
        )
        width = hidden_size * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(self.dropout_p)
        self.classifier = nn.Linear(width * sequence_length if head == "concat" else width, 1)

    # -- backbone freezing ---------------------------------------------------------------

    def freeze_backbone(self) -> None:
        """Stop gradients through the backbone (the reference's warm-up epochs).

        Only ``requires_grad`` changes: normalisation layers with running statistics
        (BatchNorm) still update them in training mode. ECA-NFNet-L0 has none.
        """
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(False)

    def unfreeze_backbone(self) -> None:
        """Let gradients flow through the backbone again."""
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(True)

    @property
    def backbone_frozen(self) -> bool:
        """Whether every backbone parameter has ``requires_grad=False``."""
        return not any(p.requires_grad for p in self.backbone.parameters())

    # -- forward -------------------------------------------------------------------------

    def _check_input(self, frames: torch.Tensor, valid: torch.Tensor | None) -> None:
        if not frames.is_floating_point():
            raise InvalidInputError(
                f"expected normalised floating-point frames; got dtype {frames.dtype}. Feed "
                "the frames through ChunkDataset, or normalise uint8 frames with "
                "radiogenomics.data.chunks.normalise_frames (to [0, 1], then the ImageNet "
                "mean and std)."
            )
        if frames.ndim != 5 or frames.shape[2] != self.in_chans:
            raise GeometryError(
                f"expected frames of shape (B, L, {self.in_chans}, H, W); got shape "
                f"{tuple(frames.shape)}. Batch chunks with default_collate, or add a batch "
                "axis with frames.unsqueeze(0)."
            )
        if self.head == "concat" and frames.shape[1] != self.sequence_length:
            raise GeometryError(
                f"the 'concat' head needs exactly sequence_length={self.sequence_length} "
                f"frames per chunk; got {frames.shape[1]}. Build chunks of that length "
                "(ChunkDataset(length=...)), or use head='pooled', which accepts any length."
            )
        if valid is not None and tuple(valid.shape) != tuple(frames.shape[:2]):
            raise GeometryError(
                f"valid mask of shape {tuple(valid.shape)} does not match frames "
                f"{tuple(frames.shape)}; expected {tuple(frames.shape[:2])}."
            )

    def forward(self, frames: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per chunk.

        Args:
            frames: Normalised frames of each chunk.
            valid: Which frames are real (``ChunkItem["valid"]``); ``None``: all. Used by
                the ``"pooled"`` head only.

        Returns:
            Logits (apply ``torch.sigmoid`` for probabilities).

        Raises:
            GeometryError: The shapes are not as below, or the ``"concat"`` head got
                another number of frames than ``sequence_length``.
            InvalidInputError: The frames are not floating point (uint8 frames must be
                normalised first), or a chunk has no valid frame (``"pooled"`` head).

        Shape:
            - frames: (B, L, C, H, W).
            - valid: (B, L).
            - output: (B,).
        """
        self._check_input(frames, valid)
        if self.head == "concat":
            return self._forward_concat(frames)
        mask = (
            torch.ones(frames.shape[:2], dtype=torch.bool, device=frames.device)
            if valid is None
            else valid.to(device=frames.device, dtype=torch.bool)
        )
        return self._forward_pooled(frames, mask)

    def _embed(self, frames: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.backbone(frames)
        return features.reshape(frames.shape[0], self.num_features)

    def _forward_concat(self, frames: torch.Tensor) -> torch.Tensor:
        batch, length = frames.shape[:2]
        embeddings = self._embed(frames.reshape(batch * length, *frames.shape[2:]))
        outputs, _ = self.lstm(embeddings.reshape(batch, length, self.num_features))
        logits: torch.Tensor = self.classifier(self.dropout(outputs.reshape(batch, -1)))
        return logits.squeeze(-1)

    def _forward_pooled(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        batch, length = frames.shape[:2]
        lengths = mask.sum(dim=1)
        if bool((lengths == 0).any()):
            empty = torch.nonzero(lengths == 0).flatten().tolist()
            raise InvalidInputError(
                f"chunks {empty} of the batch have no valid frame; the pooled head needs at "
                "least one. Drop empty chunks before the model."
            )
        flat_mask = mask.reshape(batch * length)
        # The backbone sees valid frames only (padding then cannot even move BatchNorm
        # statistics); padding rows of the embedding stay zero and are never read.
        embedded = self._embed(frames.reshape(batch * length, *frames.shape[2:])[flat_mask])
        embeddings = embedded.new_zeros((batch * length, self.num_features))
        embeddings = embeddings.index_put((flat_mask.nonzero().flatten(),), embedded)
        # Valid frames first, in their order (stable sort), so that each chunk's valid
        # frames form the prefix that a packed sequence holds.
        order = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices
        embeddings = torch.gather(
            embeddings.reshape(batch, length, self.num_features),
            1,
            order[:, :, None].expand(-1, -1, self.num_features),
        )
        packed = pack_padded_sequence(
            embeddings,
            lengths.cpu(),
            batch_first=True,
            enforce_sorted=False,
        )
        outputs, _ = self.lstm(packed)
        padded, _ = pad_packed_sequence(outputs, batch_first=True, total_length=length)
        pooled = padded.sum(dim=1) / lengths.to(padded.dtype)[:, None]
        logits: torch.Tensor = self.classifier(self.dropout(pooled))
        return logits.squeeze(-1)

    def __repr__(self) -> str:
        return short_repr(
            self,
            backbone=(self.backbone_name, "eca_nfnet_l0"),
            pretrained_weights=(
                None if self.pretrained_weights is None else str(self.pretrained_weights),
                None,
            ),
            hidden_size=(self.hidden_size, 64),
            num_layers=(self.num_layers, 1),
            bidirectional=(self.bidirectional, True),
            sequence_length=(self.sequence_length, 35),
            head=(self.head, "concat"),
            dropout=(self.dropout_p, 0.0),
            in_chans=(self.in_chans, 3),
        )
