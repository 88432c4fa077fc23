"""The segmentation model factory: names, parameter count, local weights, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from radiogenomics.errors import ConfigurationError, CorruptFileError, InputNotFoundError
from radiogenomics.models import (
    SegmentationModelConfig,
    create_segmentation_model,
    load_state_dict_file,
    load_weights,
)

TINY = "tu-test_resnet"


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_seed_size_model_has_30_07_million_parameters() -> None:
    model = create_segmentation_model()  # Unet++ / densenet121 / 2 classes
    assert type(model).__name__ == "UnetPlusPlus"
    assert round(_n_params(model) / 1e6, 2) == 30.07


@pytest.mark.parametrize("architecture", ["Unet", "unetplusplus", "FPN"])
def test_contract_output_shape(architecture: str) -> None:
    torch.manual_seed(0)
    model = create_segmentation_model(architecture=architecture, encoder=TINY, classes=2)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 2, 64, 64)
    assert out.dtype == torch.float32


def test_unknown_architecture_suggests_the_closest() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'unetplusplus'"):
        create_segmentation_model(architecture="UnetPlusPLus2", encoder=TINY)


def test_unknown_encoder_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="resnet18"):
        create_segmentation_model(encoder="resnet181")
    with pytest.raises(ConfigurationError, match="encoder"):
        create_segmentation_model(encoder="tu-not_a_timm_model_xyz")


@pytest.mark.parametrize("name", ["imagenet", "ImageNet", "ssl"])
def test_hub_weight_names_are_refused_with_instructions(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"never downloads.*pass its path"):
        create_segmentation_model(encoder=TINY, encoder_weights=name)


def test_missing_weight_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        create_segmentation_model(encoder=TINY, weights=tmp_path / "nope.safetensors")


def test_corrupt_weight_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptFileError):
        load_state_dict_file(path)


def test_timm_checkpoint_loads_into_a_tu_encoder(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = create_segmentation_model(architecture="Unet", encoder=TINY)
    # A timm classifier checkpoint: no "model." prefix, with a head the encoder lacks.
    state = {k: v.clone() for k, v in source.encoder.model.state_dict().items()}
    state["fc.weight"] = torch.zeros(10, 4)
    path = tmp_path / "timm.pth"
    torch.save(state, path)
    torch.manual_seed(2)
    model = create_segmentation_model(architecture="Unet", encoder=TINY, encoder_weights=path)
    for key, value in source.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[key], value), key
    # The decoder stays randomly initialised (seed 2, not seed 1).
    assert not torch.equal(model.segmentation_head[0].weight, source.segmentation_head[0].weight)


def test_whole_model_weights_round_trip_and_mismatch(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = create_segmentation_model(architecture="Unet", encoder=TINY)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    model = create_segmentation_model(architecture="Unet", encoder=TINY, weights=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    other = create_segmentation_model(architecture="FPN", encoder=TINY)
    with pytest.raises(ConfigurationError, match="missing"):
        load_weights(other, path)


def test_encoder_weights_of_another_encoder_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3, 1, 1)}, path)
    with pytest.raises(ConfigurationError, match="encoder weights do not fit"):
        create_segmentation_model(encoder=TINY, encoder_weights=path)


def test_config_round_trip_and_validation() -> None:
    config = SegmentationModelConfig(architecture="Unet", encoder=TINY, image_size=64)
    assert SegmentationModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigurationError, match="multiple of 32"):
        SegmentationModelConfig(image_size=100)
    with pytest.raises(ConfigurationError, match="unknown model settings"):
        SegmentationModelConfig.from_dict({"arch": "Unet"})
    model = config.create()
    assert model.segmentation_head[0].out_channels == 2
