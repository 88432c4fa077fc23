"""SequenceClassifier: sizes, heads, masking, freezing, local weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from radiogenomics.data.chunks import ChunkDataset
from radiogenomics.errors import (
    ConfigurationError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
)
from radiogenomics.models.sequence import SequenceClassifier, load_backbone_weights

ECA_NFNET_L0_BACKBONE = 21_838_924  # timm eca_nfnet_l0, num_classes=0


def _lstm_parameters(inputs: int, hidden: int, directions: int = 2) -> int:
    return directions * (4 * hidden * (inputs + hidden) + 8 * hidden)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def seed_model() -> SequenceClassifier:
    return SequenceClassifier()  # eca_nfnet_l0, hidden 64, concat, L=35: the writeup


def test_seed_size_has_about_23_05_million_parameters(seed_model: SequenceClassifier) -> None:
    assert seed_model.num_features == 2304
    total = _count(seed_model)
    assert total == ECA_NFNET_L0_BACKBONE + _lstm_parameters(2304, 64) + 35 * 128 + 1
    assert total == 23_056_845
    assert abs(total / 1e6 - 23.05) < 0.01  # "about 23.05 M"


def test_released_code_size_with_hidden_128(seed_model: SequenceClassifier) -> None:
    # Same backbone; only the LSTM and the head change, so count those on a fresh head.
    lstm = torch.nn.LSTM(2304, 128, batch_first=True, bidirectional=True)
    head = torch.nn.Linear(35 * 256, 1)
    total = _count(seed_model.backbone) + _count(lstm) + _count(head)
    assert total == ECA_NFNET_L0_BACKBONE + _lstm_parameters(2304, 128) + 35 * 256 + 1
    assert total == 24_340_301
    small = SequenceClassifier(backbone="test_resnet", hidden_size=128)
    assert _count(small) == _count(small.backbone) + _lstm_parameters(96, 128) + 35 * 256 + 1


def test_seed_repr_is_short(seed_model: SequenceClassifier) -> None:
    assert repr(seed_model) == "SequenceClassifier()"
    small = SequenceClassifier(backbone="test_resnet", hidden_size=128, head="pooled")
    assert (
        repr(small) == "SequenceClassifier(backbone='test_resnet', hidden_size=128, head='pooled')"
    )


def test_concat_forward_backward_step_on_cpu() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(backbone="resnet10t", sequence_length=6)
    frames = torch.randn(2, 6, 3, 32, 32)
    logits = model(frames)
    assert logits.shape == (2,)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([0.0, 1.0]))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = model.classifier.weight.detach().clone()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    optimiser.step()
    assert not torch.equal(model.classifier.weight, before)


def test_concat_head_requires_the_sequence_length() -> None:
    model = SequenceClassifier(backbone="test_resnet", sequence_length=5)
    with pytest.raises(GeometryError, match=r"sequence_length=5.*got 4.*head='pooled'"):
        model(torch.zeros(1, 4, 3, 32, 32))


@pytest.mark.parametrize("length", [1, 3, 9])
def test_pooled_head_accepts_any_length(length: int) -> None:
    model = SequenceClassifier(backbone="test_resnet", head="pooled", sequence_length=5).eval()
    assert model(torch.randn(2, length, 3, 32, 32)).shape == (2,)


def test_pooled_head_ignores_padding_frames() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(backbone="test_resnet", head="pooled", hidden_size=8).eval()
    real = torch.randn(1, 4, 3, 32, 32)
    padded = torch.cat([real, torch.randn(1, 3, 3, 32, 32)], dim=1)
    valid = torch.tensor([[True] * 4 + [False] * 3])
    other_padding = padded.clone()
    other_padding[:, 4:] = 100.0
    with torch.no_grad():
        alone = model(real)
        masked = model(padded, valid)
        masked_other = model(other_padding, valid)
        unmasked = model(padded)
    torch.testing.assert_close(masked, alone)
    torch.testing.assert_close(masked_other, alone)
    assert not torch.allclose(unmasked, alone)


def test_pooled_head_masks_each_chunk_of_a_batch_independently() -> None:
    torch.manual_seed(1)
    model = SequenceClassifier(backbone="test_resnet", head="pooled", hidden_size=8).eval()
    frames = torch.randn(3, 5, 3, 32, 32)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 0, 1, 1]], dtype=torch.float32)
    with torch.no_grad():
        batch = model(frames, valid)
        one = [model(frames[i : i + 1, valid[i].bool()]) for i in range(3)]
    torch.testing.assert_close(batch, torch.cat(one))


def test_pooled_head_refuses_a_chunk_without_valid_frames() -> None:
    model = SequenceClassifier(backbone="test_resnet", head="pooled")
    with pytest.raises(InvalidInputError, match="no valid frame"):
        model(torch.zeros(2, 3, 3, 32, 32), torch.tensor([[1, 0, 0], [0, 0, 0]]))


def test_shape_errors_say_what_was_expected() -> None:
    model = SequenceClassifier(backbone="test_resnet", head="pooled")
    with pytest.raises(GeometryError, match=r"\(B, L, 3, H, W\)"):
        model(torch.zeros(4, 3, 32, 32))
    with pytest.raises(GeometryError, match="valid mask"):
        model(torch.zeros(1, 4, 3, 32, 32), torch.ones(1, 5))


def test_freeze_and_unfreeze_backbone() -> None:
    model = SequenceClassifier(backbone="test_resnet", sequence_length=2)
    model.freeze_backbone()
    assert model.backbone_frozen
    assert all(p.requires_grad for p in model.lstm.parameters())
    model(torch.randn(1, 2, 3, 32, 32)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.classifier.weight.grad is not None
    model.unfreeze_backbone()
    assert not model.backbone_frozen
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_unidirectional_and_stacked_layers() -> None:
    model = SequenceClassifier(
        backbone="test_efficientnet",
        bidirectional=False,
        num_layers=2,
        hidden_size=4,
        sequence_length=3,
        dropout=0.1,
    )
    assert model.classifier.in_features == 3 * 4
    assert model(torch.randn(2, 3, 3, 32, 32)).shape == (2,)


def test_weights_from_a_local_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source = SequenceClassifier(backbone="test_resnet")
    state = source.backbone.state_dict()
    torch_file = tmp_path / "backbone.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, torch_file)
    safe_file = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(safe_file))
    for path in (torch_file, safe_file, str(safe_file)):
        loaded = SequenceClassifier(backbone="test_resnet", pretrained_weights=path)
        for key, value in loaded.backbone.state_dict().items():
            torch.testing.assert_close(value, state[key])
    assert "pretrained_weights=" in repr(loaded)


def test_classifier_keys_of_a_timm_checkpoint_are_dropped(tmp_path: Path) -> None:
    import timm

    full = timm.create_model("test_resnet", pretrained=False)  # with its classifier
    path = tmp_path / "full.pth"
    torch.save(full.state_dict(), path)
    model = SequenceClassifier(backbone="test_resnet", pretrained_weights=path)
    torch.testing.assert_close(model.backbone.conv1[0].weight, full.conv1[0].weight)


def test_weights_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    import timm

    other = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
    path = tmp_path / "other.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(ConfigurationError, match="do not fit"):
        SequenceClassifier(backbone="test_resnet", pretrained_weights=path)
    backbone = timm.create_model("test_resnet", pretrained=False, num_classes=0)
    with pytest.raises(ConfigurationError, match="missing"):
        load_backbone_weights(backbone, path)


@pytest.mark.parametrize("name", ["imagenet", "hf-hub:timm/eca_nfnet_l0.ra2_in1k", "timm/x"])
def test_hub_weights_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="never downloads"):
        SequenceClassifier(backbone="test_resnet", pretrained_weights=name)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        SequenceClassifier(backbone="test_resnet", pretrained_weights=tmp_path / "nope.pth")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backbone": "test_resnett"}, "Did you mean one of 'test_resnet'"),
        ({"head": "mean"}, "head="),
        ({"hidden_size": 0}, "hidden_size"),
        ({"sequence_length": 0}, "sequence_length"),
        ({"dropout": 1.0}, "dropout"),
        ({"pretrained_weights": True}, "never downloads"),
    ],
)
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    options: dict[str, object] = {"backbone": "test_resnet", **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        SequenceClassifier(**options)  # type: ignore[arg-type]


def test_pooled_head_trains_on_a_chunk_dataset_batch() -> None:
    rng = np.random.default_rng(0)
    series = {
        ("00001", "FLAIR"): rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8),
        ("00002", "FLAIR"): rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8),
    }
    data = ChunkDataset(series, {"00001": 1, "00002": 0}, length=6, stride=3)
    batch = default_collate([data[i] for i in range(len(data))])
    assert not bool(batch["valid"].all())  # the short series is padded
    model = SequenceClassifier(backbone="test_resnet", head="pooled", hidden_size=8)
    logits = model(batch["frames"], batch["valid"])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["label"])
    loss.backward()
    assert model.backbone.conv1[0].weight.grad is not None
    assert model.lstm.weight_ih_l0.grad is not None
    concat = SequenceClassifier(backbone="test_resnet", sequence_length=6, hidden_size=8)
    assert concat(batch["frames"], batch["valid"]).shape == (len(data),)


def test_uint8_frames_are_refused_with_the_fix() -> None:
    model = SequenceClassifier(backbone="test_resnet", hidden_size=4, sequence_length=2)
    frames = torch.zeros((1, 2, 3, 32, 32), dtype=torch.uint8)
    with pytest.raises(InvalidInputError, match="normalise_frames"):
        model(frames)


def test_an_unknown_backbone_names_the_closest_few() -> None:
    # It used to list every timm model (about 30 KB) before "did you mean".
    with pytest.raises(ConfigurationError) as info:
        SequenceClassifier(backbone="resnet_18")
    message = str(info.value)
    assert len(message) < 400
    assert "'resnet18'" in message
    assert "timm.list_models()" in message


# -- any backbone ---------------------------------------------------------------------------

FAMILIES = {
    "resnet": "test_resnet",
    "efficientnet": "test_efficientnet",
    "mobilenetv3": "mobilenetv3_small_050",  # pooled width 1024, num_features 288
    "lcnet": "lcnet_050",  # pooled width 1280, num_features 256
    "mobilenetv4": "mobilenetv4_conv_small",  # pooled width 1280, num_features 960
    "convnext": "test_convnext",
    "regnet": "regnetx_002",
    "nfnet": "test_nfnet",
}


@pytest.mark.parametrize("name", list(FAMILIES.values()), ids=list(FAMILIES))
def test_every_timm_family_trains(name: str) -> None:
    # MobileNetV3 used to fail at the first forward: "shape '[4, 288]' is invalid for
    # input of size 4096" (its num_features is not its pooled width).
    import timm

    torch.manual_seed(0)
    model = SequenceClassifier(backbone=name, hidden_size=8, sequence_length=3)
    probe = timm.create_model(name, pretrained=False, num_classes=0).eval()
    assert model.num_features == probe(torch.zeros(1, 3, 64, 64)).shape[1]
    frames = torch.randn(2, 3, 3, 64, 64)
    logits = model(frames)
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)


def _tiny_backbone(width: int = 12) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )


def test_a_module_backbone_works_and_its_width_is_measured() -> None:
    backbone = _tiny_backbone(12)
    model = SequenceClassifier(backbone=backbone, hidden_size=4, sequence_length=2, head="pooled")
    assert model.backbone is backbone
    assert model.num_features == 12
    assert model.backbone_name == "Sequential"
    assert model(torch.randn(2, 2, 3, 32, 32), torch.ones(2, 2, dtype=torch.bool)).shape == (2,)
    given = SequenceClassifier(backbone=_tiny_backbone(5), num_features=5, sequence_length=2)
    assert given.num_features == 5
    model.freeze_backbone()
    assert model.backbone_frozen


def test_module_backbones_that_cannot_work_are_refused() -> None:
    unpooled = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(ConfigurationError, match=r"pooled features of shape \(N, F\)"):
        SequenceClassifier(backbone=unpooled)
    with pytest.raises(ConfigurationError, match="carries its own weights"):
        SequenceClassifier(backbone=_tiny_backbone(), pretrained_weights="w.safetensors")
    fixed = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 6))
    with pytest.raises(ConfigurationError, match="probe_size"):
        SequenceClassifier(backbone=fixed)
    assert SequenceClassifier(backbone=fixed, probe_size=32).num_features == 6
    with pytest.raises(ConfigurationError, match=r"timm model name or an nn\.Module"):
        SequenceClassifier(backbone=3)  # type: ignore[arg-type]
