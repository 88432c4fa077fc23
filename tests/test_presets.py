"""Named presets: every section, round trips, changes, and the CLI's use of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radiogenomics.cli import main
from radiogenomics.errors import ConfigurationError
from radiogenomics.presets import (
    PRESETS,
    PredictionSettings,
    Preset,
    classification_preset,
    get_preset,
    segmentation_preset,
)


@pytest.mark.parametrize("name", PRESETS)
def test_round_trip_through_json(name: str) -> None:
    preset = get_preset(name)
    assert Preset.from_dict(json.loads(preset.to_json())) == preset
    assert preset.name == name
    assert preset.segmentation_prep == segmentation_preset(name)
    assert preset.classification_prep == classification_preset(name)


def test_reference_presets_differ_where_the_writeup_and_code_differ() -> None:
    writeup, code = get_preset("writeup"), get_preset("released-code")
    # Stage 1 preparation: brain vs slice ratio, similarity vs stride sampling.
    assert (writeup.segmentation_prep.reference, code.segmentation_prep.reference) == (
        "brain",
        "slice",
    )
    assert (writeup.segmentation_prep.sampler, code.segmentation_prep.sampler) == (
        "similarity",
        "stride",
    )
    # Stage 1 split: a 20 % patient hold-out vs fold 0 of a 5-fold patient split.
    assert writeup.segmentation_train.n_folds is None
    assert (code.segmentation_train.n_folds, code.segmentation_train.fold) == (5, 0)
    # Stage 2: LSTM hidden size 64 vs 128, pixel areas vs largest contours.
    assert (writeup.classification_train.hidden_size, code.classification_train.hidden_size) == (
        64,
        128,
    )
    assert code.classification_prep.count_holes
    assert not writeup.classification_prep.count_holes
    # What they share: the reference models, learning rates and zooms.
    for preset in (writeup, code):
        assert preset.segmentation_model.architecture == "UnetPlusPlus"
        assert preset.segmentation_model.encoder == "densenet121"
        assert preset.segmentation_train.lr == 1e-4
        assert preset.classification_train.backbone == "eca_nfnet_l0"
        assert preset.classification_train.lr == 1e-6
        assert preset.classification_train.sequence_length == 35
        assert preset.classification_prep.zoom == 1.2
        tta = preset.prediction.tta()
        assert tta is not None
        assert tta.views == (1.2,)


def test_extended_preset_is_the_writeup_plus_what_was_measured() -> None:
    from radiogenomics.presets import EXTENDED_CLEANUP_DROP_BELOW, EXTENDED_NEGATIVE_FRACTION

    writeup, extended = get_preset("writeup"), get_preset("extended")
    # The seed's presets keep today's behaviour: tumor slices only, no clean-up.
    for name in ("writeup", "released-code", "tiny"):
        preset = get_preset(name)
        assert preset.segmentation_prep.negative_fraction == 0
        assert preset.classification_prep.cleanup_drop_below == 0
        assert preset.classification_prep.mask_cleanup() is None
    # The extended preset adds both, and changes nothing else.
    assert extended.segmentation_prep.negative_fraction == EXTENDED_NEGATIVE_FRACTION > 0
    assert extended.classification_prep.cleanup_drop_below == EXTENDED_CLEANUP_DROP_BELOW > 0
    assert extended.classification_prep.cleanup_dims == "3d"
    cleanup = extended.classification_prep.mask_cleanup()
    assert cleanup is not None
    assert cleanup.drop_below == EXTENDED_CLEANUP_DROP_BELOW
    assert extended.replace(
        segmentation_prep={"negative_fraction": 0.0},
        classification_prep={"cleanup_drop_below": 0},
    ).to_dict() == {**writeup.to_dict(), "name": "extended", "description": extended.description}


def test_tiny_preset_sizes_agree_and_build_small_models() -> None:
    tiny = get_preset("tiny")
    size = tiny.segmentation_prep.size
    assert size == tiny.segmentation_model.image_size == tiny.segmentation_train.image_size
    assert size == tiny.classification_train.image_size
    seg = tiny.segmentation_model.create()
    assert sum(p.numel() for p in seg.parameters()) < 3_000_000  # reference: 30 M
    classifier = tiny.classification_train.create_model()
    assert sum(p.numel() for p in classifier.parameters()) < 10_000_000


def test_replace_changes_only_the_named_fields() -> None:
    tiny = get_preset("tiny")
    changed = tiny.replace(segmentation_train={"epochs": 2}, prediction={"tta_scales": ()})
    assert changed.segmentation_train.epochs == 2
    assert changed.segmentation_train.lr == tiny.segmentation_train.lr
    assert changed.prediction.tta() is None
    assert tiny.segmentation_train.epochs == 8  # the original is untouched


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"segmentation_trian": {"epochs": 2}}, "section"),
        ({"segmentation_train": {"epoch": 2}}, "epoch"),
        ({"segmentation_train": {"epochs": 0}}, "epochs=0"),
        ({"prediction": {"fallback": 2.0}}, "fallback"),
    ],
)
def test_replace_rejects_bad_changes(changes: dict[str, dict[str, object]], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        get_preset("writeup").replace(**changes)


def test_unknown_preset_lists_the_names() -> None:
    with pytest.raises(ConfigurationError, match="released-code"):
        get_preset("released_code")  # type: ignore[arg-type]


def test_from_dict_names_a_missing_section() -> None:
    data = get_preset("tiny").to_dict()
    del data["prediction"]
    with pytest.raises(ConfigurationError, match="prediction"):
        Preset.from_dict(data)


def test_prediction_settings_validate() -> None:
    with pytest.raises(ConfigurationError, match="tta_scales"):
        PredictionSettings(tta_scales=(0.0,))
    with pytest.raises(ConfigurationError, match="batch_size"):
        PredictionSettings(batch_size=0)


def test_presets_command_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "tiny"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# tiny: ")
    data = json.loads(text.split("\n", 1)[1])
    assert Preset.from_dict(data) == get_preset("tiny")


def test_train_segmentation_takes_defaults_from_the_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.testing import write_brats_cohort

    cases = write_brats_cohort(tmp_path / "task1", n_cases=3, seed=0, shape=(48, 48, 32))
    prep = SegmentationPrepConfig(size=64, modalities=("t1ce",), planes=("axial",))
    assert prepare_segmentation(cases, tmp_path / "prepared", config=prep).ok
    out = tmp_path / "run"
    args = ["train-segmentation", "--data", str(tmp_path / "prepared"), "--out", str(out)]
    args += ["--preset", "tiny", "--epochs", "1", "--val-fraction", "0.34", "--device", "cpu"]
    assert main([*args, "--no-progress"]) == 0
    assert "after 1 epochs" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    tiny = get_preset("tiny")
    assert saved["model_config"]["encoder"] == tiny.segmentation_model.encoder
    assert saved["train_config"]["lr"] == tiny.segmentation_train.lr
    assert saved["train_config"]["epochs"] == 1  # given on the command line
    assert saved["train_config"]["val_fraction"] == 0.34
