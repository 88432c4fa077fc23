"""The segmentation model factory: names, parameter count, local weights, clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from radiogenomics.errors import ConfigurationError, CorruptFileError, InputNotFoundError
from radiogenomics.models import (
    CHECKPOINT_FORMAT,
    SegmentationModelConfig,
    create_segmentation_model,
    load_segmentation_model,
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


# -- checkpoints of another model ---------------------------------------------------------


def _checkpoint(folder: Path, config: SegmentationModelConfig, **metadata: str) -> Path:
    """A radiogenomics checkpoint (weights + recorded settings) of ``config``."""
    torch.manual_seed(0)
    model = config.create()
    path = folder / "best.safetensors"
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    recorded = {"format": CHECKPOINT_FORMAT, "model_config": config.to_json(), **metadata}
    save_file(tensors, str(path), metadata=recorded)
    return path


@pytest.fixture(scope="module")
def unet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SegmentationModelConfig(architecture="Unet", encoder=TINY, image_size=32)
    return _checkpoint(tmp_path_factory.mktemp("unet"), config)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"architecture": "UnetPlusPlus"}, "architecture: checkpoint 'Unet', model 'UnetPlusPlus'"),
        ({"encoder": "tu-resnet10t"}, "encoder: checkpoint 'tu-test_resnet', model 'tu-resnet10t'"),
        ({"classes": 3}, "classes: checkpoint 2, model 3"),
        ({"in_channels": 1}, "in_channels: checkpoint 3, model 1"),
    ],
    ids=["architecture", "encoder", "classes", "in-channels"],
)
def test_a_checkpoint_of_another_model_is_refused_naming_the_field(
    unet_checkpoint: Path, change: dict[str, object], named: str
) -> None:
    settings = {"architecture": "Unet", "encoder": TINY, **change}
    with pytest.raises(ConfigurationError) as info:
        create_segmentation_model(weights=unet_checkpoint, **settings)  # type: ignore[arg-type]
    message = str(info.value)
    assert named in message
    assert str(unet_checkpoint) in message
    assert "load_segmentation_model" in message


def test_weights_that_contradict_their_recorded_settings_are_refused(tmp_path: Path) -> None:
    """A checkpoint claiming Unet but holding FPN weights: the tensors are compared too."""
    fpn = SegmentationModelConfig(architecture="FPN", encoder=TINY, image_size=32)
    path = _checkpoint(tmp_path, fpn)
    unet = SegmentationModelConfig(architecture="Unet", encoder=TINY, image_size=32)
    forged = tmp_path / "forged.safetensors"
    save_file(
        load_file(str(path)),
        str(forged),
        metadata={"format": CHECKPOINT_FORMAT, "model_config": unet.to_json()},
    )
    with pytest.raises(ConfigurationError, match=r"weights do not fit this model \(\d+ missing"):
        load_segmentation_model(forged)


@pytest.mark.parametrize(
    ("model_config", "match"),
    [(None, "no model_config entry"), ("{not json", "JSONDecodeError"), ("[1, 2]", "JSON object")],
    ids=["missing", "not-json", "not-an-object"],
)
def test_unreadable_recorded_settings_are_a_corrupt_file(
    tmp_path: Path, model_config: str | None, match: str
) -> None:
    config = SegmentationModelConfig(architecture="Unet", encoder=TINY, image_size=32)
    path = _checkpoint(tmp_path, config)
    metadata = {"format": CHECKPOINT_FORMAT}
    if model_config is not None:
        metadata["model_config"] = model_config
    save_file(load_file(str(path)), str(path), metadata=metadata)
    with pytest.raises(CorruptFileError, match=match) as info:
        load_segmentation_model(path)
    assert info.value.path == path
    with pytest.raises(CorruptFileError, match=match):
        load_weights(config.create(), path, config=config)


# -- loading never executes code ------------------------------------------------------------


class _Payload:
    """Pickles to a call of ``os.system``: what a malicious checkpoint holds."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


@pytest.mark.parametrize("option", ["weights", "encoder_weights"])
def test_a_malicious_pickle_is_refused_without_running_it(tmp_path: Path, option: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Payload(f"touch {marker}")}, path)
    with pytest.raises(CorruptFileError) as info:
        create_segmentation_model(architecture="Unet", encoder=TINY, **{option: path})
    assert not marker.exists(), "loading the file ran the code it carries"
    message = str(info.value)
    assert message.startswith(f"[file {path}] refused")
    assert "system" in message
    assert "weights_only=False" not in message  # never advise the unsafe way


_SRC = Path(__file__).resolve().parents[2] / "src" / "radiogenomics"

# Calls that can execute code stored in a file, and the keyword that makes each one safe.
_UNSAFE = {
    ("torch", "load"): ("weights_only", True),
    ("np", "load"): ("allow_pickle", False),
    ("numpy", "load"): ("allow_pickle", False),
    ("pickle", "load"): None,
    ("pickle", "loads"): None,
    ("pickle", "Unpickler"): None,
    ("joblib", "load"): None,
    ("dill", "load"): None,
    ("marshal", "loads"): None,
    ("shelve", "open"): None,
    ("yaml", "load"): None,
    ("jit", "load"): None,
}


def test_the_library_never_loads_files_in_a_way_that_runs_code() -> None:
    """Every torch.load has weights_only=True, every np.load allow_pickle=False; no pickle."""
    import ast

    found: list[str] = []
    checked = 0
    for path in sorted(_SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            key = (name, node.func.attr)
            if key not in _UNSAFE:
                continue
            checked += 1
            safe = _UNSAFE[key]
            keywords = {k.arg: k.value for k in node.keywords}
            value = keywords.get(safe[0]) if safe is not None else None
            if safe is None or not (isinstance(value, ast.Constant) and value.value is safe[1]):
                found.append(f"{path.relative_to(_SRC)}:{node.lineno} {name}.{key[1]}")
    assert not found, f"loading that can execute code: {found}"
    assert checked >= 4, "the scan found none of the library's loaders"


def test_training_orientation_reads_the_run(tmp_path: Path) -> None:
    import json

    from radiogenomics.models import training_orientation

    run = tmp_path / "run"
    run.mkdir()
    assert training_orientation(run) is None  # no config.json
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "prepare-config.json").write_text(json.dumps({"orientation": "native"}))
    (run / "config.json").write_text(json.dumps({"data_dir": str(prepared)}))
    assert training_orientation(run) == "native"
    assert training_orientation(run / "best.safetensors") == "native"
    info = {"data_dir": "moved", "prepare_config": {"orientation": "radiological"}}
    (run / "config.json").write_text(json.dumps(info))
    assert training_orientation(run) == "radiological"
    (run / "config.json").write_text(json.dumps({"data_dir": str(tmp_path / "moved")}))
    assert training_orientation(run) is None  # an older run whose data has moved


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        b"\xff\xfe".decode("latin-1"),
        '{"prepare_config": {"orientation": "sideways"}}',
        '{"prepare_config": 3}',
    ],
)
def test_training_orientation_refuses_a_damaged_run_file(tmp_path: Path, text: str) -> None:
    # It used to read a damaged config.json as "not said": segment then sliced the
    # volume in the native layout, and 13,685 of 73,728 voxels differed.
    from radiogenomics.errors import CorruptFileError
    from radiogenomics.models import training_orientation

    (tmp_path / "config.json").write_text(text, encoding="latin-1")
    with pytest.raises(CorruptFileError) as info:
        training_orientation(tmp_path)
    assert "config.json" in str(info.value)


def test_weights_with_nan_or_inf_are_a_corrupt_file(tmp_path: Path) -> None:
    # 0xFF bytes inside best.safetensors decode as NaN: the model then predicted empty
    # masks and segment exited 0.
    config = SegmentationModelConfig(architecture="Unet", encoder=TINY, image_size=32)
    path = _checkpoint(tmp_path, config)
    data = bytearray(path.read_bytes())
    tensors = load_file(str(path))
    name = "segmentation_head.0.weight"
    needle = tensors[name].numpy().tobytes()
    start = bytes(data).index(needle)
    data[start : start + 8] = b"\xff" * 8  # two float32 NaNs
    damaged = tmp_path / "damaged" / "best.safetensors"
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="NaN or infinite") as info:
        load_segmentation_model(damaged.parent)
    assert f"{name} (2 of " in str(info.value)
    state = dict(tensors)
    state["decoder.extra"] = torch.tensor([1.0, float("inf")])
    infinite = tmp_path / "inf.safetensors"
    save_file(state, str(infinite))
    with pytest.raises(CorruptFileError, match=r"decoder.extra \(1 of 2\)"):
        load_state_dict_file(infinite)
