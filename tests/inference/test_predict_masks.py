"""Mask prediction: alignment with the input, shapes, batching, no mutation, real smp model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from radiogenomics.data import IMAGENET_MEAN, IMAGENET_STD
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.inference import (
    MaskCleanup,
    MaskPredictor,
    postprocess_probabilities,
    prepare_inference_model,
    preprocess_slices,
    resolve_channels_last,
    resolve_inference_amp,
    run_model,
    series_masks_to_nifti,
    threshold_probabilities,
)
from radiogenomics.io import read_dicom_series
from radiogenomics.records import PLANES, VolumeRecord
from radiogenomics.slicing import plane_axes
from radiogenomics.testing import standard_series_affine, write_dicom_series


class BrightnessModel(torch.nn.Module):
    """WT logit +10 where the un-normalised red channel is > 0.5, ET where > 0.8."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]
        ones = torch.ones_like(red)
        wt = torch.where(red > 0.5, 10.0 * ones, -10.0 * ones)
        et = torch.where(red > 0.8, 10.0 * ones, -10.0 * ones)
        return torch.stack([wt, et], dim=1)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * float(np.count_nonzero(a & b)) / float(a.sum() + b.sum())


def _blob_volume(
    shape: tuple[int, int, int], centre: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background 100, shell (radius 10) 600, core (radius 6) 1000; WT and ET truth."""
    grid = np.indices(shape, dtype=np.float64)
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
    volume = np.full(shape, 100.0, dtype=np.float32)
    volume[distance <= 10] = 600.0
    volume[distance <= 6] = 1000.0
    volume[0, 0, 0] = 0.0  # min-max maps 0 -> 0 and 1000 -> 255
    return volume, distance <= 10, distance <= 6


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.asarray(np.argwhere(mask).mean(axis=0))


SHAPE = (48, 56, 40)
CENTRE = (20.0, 30.0, 22.0)

AFFINES = {
    "identity": np.eye(4),
    "lps": np.diag([-1.0, -1.0, 1.0, 1.0]),
    # Stored axes (z, x, y): array axis 0 is axial, axis 1 sagittal, axis 2 coronal.
    "permuted": np.array(
        [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.5, 0.0, 0.0, 0.0], [0, 0, 0, 1.0]]
    ),
}


@pytest.mark.parametrize("affine_name", list(AFFINES))
@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("orientation", ["native", "radiological"])
def test_masks_are_aligned_with_the_volume(affine_name: str, plane: str, orientation: str) -> None:
    volume, wt, et = _blob_volume(SHAPE, CENTRE)
    affine = AFFINES[affine_name]
    predictor = MaskPredictor(BrightnessModel(), image_size=64, batch_size=16)
    masks = predictor.predict_volume(volume, affine, plane=plane, orientation=orientation)  # type: ignore[arg-type]
    assert masks.shape == (2, *SHAPE)
    assert masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}
    assert _dice(masks[0], wt) > 0.9
    assert _dice(masks[1], et) > 0.9
    np.testing.assert_allclose(_centroid(masks[0]), CENTRE, atol=0.5)
    np.testing.assert_allclose(_centroid(masks[1]), CENTRE, atol=0.5)
    assert masks[:, 20, 30, 22].tolist() == [1, 1]
    assert masks[:, 20, 30, 30].tolist() == [1, 0]  # shell: WT only
    assert masks[:, 40, 10, 5].tolist() == [0, 0]


def test_default_plane_is_axial() -> None:
    volume, _, _ = _blob_volume(SHAPE, CENTRE)
    affine = AFFINES["permuted"]
    assert plane_axes(affine)["axial"] == 0

    class Recorder(BrightnessModel):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.sizes.append(x.shape[0])
            return super().forward(x)

    model = Recorder()
    predictor = MaskPredictor(model, image_size=32, batch_size=1000)
    default = predictor.predict_volume(volume, affine)
    assert model.sizes == [SHAPE[0]]  # one slice per index along array axis 0
    np.testing.assert_array_equal(default, predictor.predict_volume(volume, affine, plane="axial"))


def test_predict_slices_shapes_and_values() -> None:
    rng = np.random.default_rng(0)
    slices = rng.integers(0, 256, size=(5, 37, 61), dtype=np.uint8)
    probabilities = MaskPredictor(BrightnessModel(), image_size=32).predict_slices(slices)
    assert probabilities.shape == (5, 2, 37, 61)
    assert probabilities.dtype == np.float32
    assert probabilities.min() >= 0.0
    assert probabilities.max() <= 1.0
    empty = MaskPredictor(BrightnessModel(), image_size=32).predict_slices(
        np.zeros((0, 37, 61), dtype=np.uint8)
    )
    assert empty.shape == (0, 2, 37, 61)


def test_preprocess_matches_the_reference_normalisation() -> None:
    slices = np.full((2, 30, 40), 255, dtype=np.uint8)
    slices[1] = 0
    batch = preprocess_slices(slices, image_size=32, zoom=1.2)
    assert batch.shape == (2, 3, 32, 32)
    assert batch.dtype == np.float32
    for c in range(3):
        np.testing.assert_allclose(
            batch[0, c], (1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], rtol=1e-6
        )
        np.testing.assert_allclose(batch[1, c], -IMAGENET_MEAN[c] / IMAGENET_STD[c], rtol=1e-6)


def test_batching_does_not_change_the_result() -> None:
    volume, _, _ = _blob_volume(SHAPE, CENTRE)
    rng = np.random.default_rng(3)
    slices = rng.integers(0, 256, size=(17, 40, 44), dtype=np.uint8)
    one = MaskPredictor(BrightnessModel(), image_size=32, batch_size=1)
    seven = MaskPredictor(BrightnessModel(), image_size=32, batch_size=7)
    np.testing.assert_array_equal(one.predict_slices(slices), seven.predict_slices(slices))
    np.testing.assert_array_equal(
        one.predict_volume(volume, np.eye(4), plane="coronal"),
        seven.predict_volume(volume, np.eye(4), plane="coronal"),
    )


def test_inputs_are_not_mutated() -> None:
    volume, _, _ = _blob_volume(SHAPE, CENTRE)
    before = volume.copy()
    affine = AFFINES["lps"].copy()
    volume.flags.writeable = False  # read-only input works too
    predictor = MaskPredictor(BrightnessModel(), image_size=32)
    predictor.predict_volume(volume, affine, plane="sagittal", orientation="radiological")
    np.testing.assert_array_equal(volume, before)
    np.testing.assert_array_equal(affine, AFFINES["lps"])
    slices = np.ascontiguousarray(np.moveaxis(before, 2, 0)).astype(np.uint8)
    slices_before = slices.copy()
    predictor.predict_slices(slices)
    np.testing.assert_array_equal(slices, slices_before)


def test_predict_record_returns_a_new_record() -> None:
    volume, wt, _ = _blob_volume(SHAPE, CENTRE)
    record = VolumeRecord(patient_id="p1", modality="flair", image=volume, affine=np.eye(4))
    out = MaskPredictor(BrightnessModel(), image_size=64).predict_record(record)
    assert record.masks is None
    assert out.masks is not None
    assert out.masks.shape == (2, *SHAPE)
    assert out.mask_channels == ("WT", "ET")
    assert _dice(out.masks[0], wt) > 0.9


def test_training_flags_are_restored() -> None:
    model = torch.nn.Sequential(BrightnessModel(), torch.nn.Dropout(0.5))
    model.train()
    model[0].eval()
    MaskPredictor(model, image_size=32).predict_slices(np.zeros((2, 20, 20), dtype=np.uint8))
    assert model.training
    assert not model[0].training
    assert model[1].training


def test_threshold_is_strict() -> None:
    values = np.array([0.5, np.nextafter(0.5, 1.0), 0.49, 1.0, 0.0])
    assert threshold_probabilities(values).tolist() == [0, 1, 0, 1, 0]
    assert threshold_probabilities(values, threshold=0.0).tolist() == [1, 1, 1, 1, 0]

    class Zero(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 2, x.shape[2], x.shape[3])

    masks = MaskPredictor(Zero(), image_size=32).predict_volume(np.ones((8, 8, 8)), np.eye(4))
    assert masks.sum() == 0  # sigmoid(0) = 0.5 is not strictly greater than 0.5


def test_dicom_series_is_predicted_along_its_own_plane(tmp_path: Path) -> None:
    n_slices, rows, columns = 16, 40, 48
    grid = np.indices((n_slices, rows, columns), dtype=np.float64)
    distance = np.sqrt((grid[0] - 8) ** 2 + (grid[1] - 14) ** 2 + (grid[2] - 30) ** 2)
    pixels = np.full((n_slices, rows, columns), 110.0, dtype=np.float32)
    pixels[distance <= 7] = 1210.0
    pixels[distance <= 4] = 2010.0
    pixels[0, 0, 0] = -10.0
    affine = standard_series_affine("sagittal", shape=(n_slices, rows, columns))
    write_dicom_series(pixels, affine, tmp_path / "FLAIR")
    series = read_dicom_series(tmp_path / "FLAIR")
    assert series.plane == "sagittal"

    model = BrightnessModel()
    predictor = MaskPredictor(model, image_size=64, batch_size=5)
    masks = predictor.predict_series(series)
    assert masks.shape == (2, n_slices, rows, columns)
    assert _dice(masks[0], distance <= 7) > 0.9
    assert _dice(masks[1], distance <= 4) > 0.85
    np.testing.assert_allclose(_centroid(masks[0]), (8, 14, 30), atol=0.5)

    nifti = series_masks_to_nifti(masks)
    assert nifti.shape == (2, columns, rows, n_slices)
    np.testing.assert_array_equal(nifti[:, 30, 14, 8], masks[:, 8, 14, 30])
    assert plane_axes(series.affine)["sagittal"] == 2
    # The same series given as a NIfTI volume and sliced along the same plane agrees.
    as_volume = predictor.predict_volume(series.to_nifti_array(), series.affine, plane="sagittal")
    assert np.mean(as_volume == nifti) > 0.995


def test_a_real_smp_model_runs_end_to_end() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, classes=2)
    volume, _, _ = _blob_volume((20, 24, 10), (10.0, 12.0, 5.0))
    predictor = MaskPredictor(model, image_size=64, batch_size=4)
    masks = predictor.predict_volume(volume, np.eye(4))
    assert masks.shape == (2, 20, 24, 10)
    assert masks.dtype == np.uint8
    assert set(np.unique(masks)) <= {0, 1}
    np.testing.assert_array_equal(
        masks, MaskPredictor(model, image_size=64, batch_size=10).predict_volume(volume, np.eye(4))
    )
    amp = MaskPredictor(model, image_size=64, amp="bf16").predict_volume(volume, np.eye(4))
    assert amp.shape == masks.shape


def test_model_output_is_checked() -> None:
    class WrongSize(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 2, 16, 16)

    class OneChannel(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 1, x.shape[2], x.shape[3])

    class Pair(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    slices = np.zeros((2, 20, 20), dtype=np.uint8)
    with pytest.raises(ConfigurationError, match=r"expected \(2, C, 32, 32\)"):
        MaskPredictor(WrongSize(), image_size=32).predict_slices(slices)
    with pytest.raises(ConfigurationError, match="1 channel"):
        MaskPredictor(OneChannel(), image_size=32).predict_slices(slices)
    with pytest.raises(ConfigurationError, match="tuple"):
        run_model(Pair(), np.zeros((1, 3, 32, 32), dtype=np.float32))
    one = MaskPredictor(OneChannel(), image_size=32, channels=("WT",))
    assert one.predict_volume(np.ones((6, 6, 6)), np.eye(4)).shape == (1, 6, 6, 6)


def test_configuration_and_input_errors() -> None:
    model = BrightnessModel()
    with pytest.raises(ConfigurationError, match="zoom"):
        MaskPredictor(model, zoom=0.8)
    with pytest.raises(ConfigurationError, match="threshold"):
        MaskPredictor(model, threshold=1.5)
    with pytest.raises(ConfigurationError, match="batch_size"):
        MaskPredictor(model, batch_size=0)
    with pytest.raises(ConfigurationError, match="image_size"):
        MaskPredictor(model, image_size=-1)
    with pytest.raises(ConfigurationError, match="device"):
        MaskPredictor(model, device="gpu0")
    with pytest.raises(ConfigurationError, match=r"torch\.nn\.Module"):
        MaskPredictor(lambda x: x)  # type: ignore[arg-type]
    predictor = MaskPredictor(model, image_size=32)
    with pytest.raises(InvalidInputError, match="to_uint8"):
        predictor.predict_slices(np.zeros((2, 8, 8), dtype=np.float32))
    with pytest.raises(GeometryError, match=r"\(N, H, W\)"):
        predictor.predict_slices(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(GeometryError, match="3D volume"):
        predictor.predict_volume(np.zeros((8, 8)), np.eye(4))
    with pytest.raises(GeometryError, match="4x4"):
        predictor.predict_volume(np.zeros((8, 8, 8)), np.eye(3))
    with pytest.raises(ConfigurationError, match="Did you mean 'axial'"):
        predictor.predict_volume(np.zeros((8, 8, 8)), np.eye(4), plane="axail")  # type: ignore[arg-type]


def test_repr_shows_non_defaults() -> None:
    assert repr(MaskPredictor(BrightnessModel())) == "MaskPredictor(model=BrightnessModel)"
    assert (
        repr(MaskPredictor(BrightnessModel(), image_size=64, batch_size=8))
        == "MaskPredictor(model=BrightnessModel, image_size=64, batch_size=8)"
    )


# -- speed options: amp, channels_last, compile --------------------------------------------


def _tiny_smp_model() -> torch.nn.Module:
    from radiogenomics.models import SegmentationModelConfig

    torch.manual_seed(0)
    config = SegmentationModelConfig(architecture="Unet", encoder="tu-test_resnet", image_size=64)
    return config.create().eval()


def _textured_slices(n: int = 6, size: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    volume, _, _ = _blob_volume((n, size, size), (n / 2, 25.0, 24.0))
    noisy = volume + rng.normal(0.0, 60.0, volume.shape)
    return np.clip(noisy / 4.5, 0, 255).astype(np.uint8)


def test_defaults_on_cpu_are_plain_float32() -> None:
    model = _tiny_smp_model()
    slices = _textured_slices()
    default = MaskPredictor(model, image_size=64, batch_size=4)
    assert default.amp == "auto"
    assert default.channels_last is False
    assert default.compile is False
    probabilities = default.predict_slices(slices)
    # The same steps by hand, in float32, contiguous, no autocast.
    batch = torch.from_numpy(preprocess_slices(slices, image_size=64))
    with torch.no_grad():
        logits = model(batch)
    by_hand = postprocess_probabilities(
        torch.sigmoid(logits).numpy(), zoom=1.2, native_shape=slices.shape[1:]
    )
    np.testing.assert_array_equal(probabilities, by_hand)
    off = MaskPredictor(model, image_size=64, batch_size=4, amp="off", channels_last=False)
    np.testing.assert_array_equal(off.predict_slices(slices), probabilities)
    assert all(p.is_contiguous() for p in model.parameters()), (
        "the CPU default must not change the model's memory format"
    )


def test_bf16_and_channels_last_match_float32_within_bf16_tolerance() -> None:
    slices = _textured_slices()
    reference = MaskPredictor(_tiny_smp_model(), image_size=64, amp="off")
    expected = reference.predict_slices(slices)
    assert float(expected.std()) > 0.05  # not a constant output
    for amp, channels_last, tolerance in (
        ("off", True, 1e-5),
        ("bf16", False, 2e-2),
        ("bf16", True, 2e-2),
    ):
        fast = MaskPredictor(_tiny_smp_model(), image_size=64, amp=amp, channels_last=channels_last)
        got = fast.predict_slices(slices)
        assert got.dtype == np.float32
        difference = float(np.abs(got - expected).max())
        assert difference <= tolerance, (amp, channels_last, difference)
        # Thresholded masks differ only where the probability is near the threshold.
        changed = threshold_probabilities(got) != threshold_probabilities(expected)
        assert np.all(np.abs(expected[changed] - 0.5) <= tolerance)


def test_channels_last_converts_the_model_in_place() -> None:
    model = _tiny_smp_model()
    predictor = MaskPredictor(model, image_size=64, channels_last=True)
    assert predictor.model is model
    weights = [p for p in model.parameters() if p.ndim == 4]
    assert weights
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert repr(predictor) == "MaskPredictor(model=Unet, image_size=64, channels_last=True)"


def test_run_model_options() -> None:
    model = _tiny_smp_model()
    batch = preprocess_slices(_textured_slices(3), image_size=64)
    plain = run_model(model, batch)
    np.testing.assert_array_equal(run_model(model, batch, amp="off", channels_last=False), plain)
    np.testing.assert_allclose(run_model(model, batch, channels_last=True), plain, atol=1e-5)
    np.testing.assert_allclose(run_model(model, batch, amp="bf16"), plain, atol=2e-2)
    with pytest.raises(ConfigurationError, match="needs CUDA"):
        run_model(model, batch, amp="fp16")


def test_compile_wraps_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[torch.nn.Module] = []

    def fake_compile(module: torch.nn.Module) -> torch.nn.Module:
        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = module
                self.calls = 0

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                self.calls += 1
                out: torch.Tensor = self.inner(x)
                return out

        wrapper = Wrapper()
        compiled.append(wrapper)
        return wrapper

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = BrightnessModel()
    predictor = MaskPredictor(model, image_size=32, batch_size=2, compile=True)
    assert predictor.model is model
    slices = np.full((3, 20, 20), 200, dtype=np.uint8)
    masks = predictor.predict_volume(slices, np.eye(4))
    assert masks.shape == (2, 3, 20, 20)
    assert len(compiled) == 1
    assert compiled[0].calls == 10  # 20 axial slices, 2 per batch, all compiled
    assert prepare_inference_model(model, compile=False) is model
    assert "compile=True" in repr(predictor)


def test_speed_option_resolution() -> None:
    assert resolve_inference_amp("auto", "cpu") is None
    assert resolve_inference_amp("off", "cuda") is None
    assert resolve_inference_amp("bf16", "cpu") is torch.bfloat16
    assert resolve_inference_amp("fp16", "cuda") is torch.float16
    assert resolve_inference_amp("auto", "cuda") in (torch.bfloat16, torch.float16)
    with pytest.raises(ConfigurationError, match="needs CUDA"):
        resolve_inference_amp("fp16", "cpu")
    with pytest.raises(ConfigurationError, match="Did you mean 'bf16'"):
        resolve_inference_amp("bf61", "cpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="boolean"):
        resolve_inference_amp(True, "cpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="boolean"):
        MaskPredictor(BrightnessModel(), amp=True)  # type: ignore[arg-type]
    assert resolve_channels_last(None, "cuda") is True
    assert resolve_channels_last(None, "cpu") is False
    assert resolve_channels_last(True, "cpu") is True
    with pytest.raises(ConfigurationError, match="channels_last"):
        resolve_channels_last("yes", "cpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="compile"):
        prepare_inference_model(BrightnessModel(), compile="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="device"):
        resolve_channels_last(None, "gpu0")


# -- clean-up of the predicted masks -----------------------------------------------------


def _blob_with_specks() -> tuple[np.ndarray, np.ndarray]:
    """The blob volume with two bright specks of 2 x 2 x 2 voxels far from it."""
    volume, wt, _ = _blob_volume(SHAPE, CENTRE)
    volume[40:42, 5:7, 5:7] = 1000.0
    volume[3:5, 45:47, 30:32] = 1000.0
    return volume, wt


def test_cleanup_drops_small_components_of_volumes_and_stacks() -> None:
    volume, wt = _blob_with_specks()
    affine = AFFINES["lps"]
    plain = MaskPredictor(BrightnessModel(), image_size=32)
    cleaned = MaskPredictor(BrightnessModel(), image_size=32, cleanup=MaskCleanup(drop_below=50))
    raw = plain.predict_volume(volume, affine, plane="coronal")
    masks = cleaned.predict_volume(volume, affine, plane="coronal")
    assert raw[0, 40:42, 5:7, 5:7].any()  # the model marks the specks ...
    assert not masks[0, 40:42, 5:7, 5:7].any()
    assert not masks[0, 3:5, 45:47, 30:32].any()
    assert np.count_nonzero(masks[0]) > 0.8 * np.count_nonzero(raw[0])  # ... not the tumor
    assert _dice(masks[0], wt) > _dice(raw[0], wt) > 0.8
    # The mask function (stage 2) applies it to the stack of slices it is given.
    slices = np.ascontiguousarray(np.moveaxis(np.rint(volume / 1000 * 255).astype(np.uint8), 1, 0))
    np.testing.assert_array_equal(cleaned(slices), MaskCleanup(drop_below=50)(plain(slices)))
    # Off (the default): the masks as thresholded, and no record of a clean-up.
    assert plain.cleanup is None
    assert "cleanup" not in plain.to_dict()
    assert cleaned.to_dict()["cleanup"] == {"drop_below": 50, "dims": "3d"}
    assert repr(cleaned) == (
        "MaskPredictor(model=BrightnessModel, image_size=32, cleanup=MaskCleanup(drop_below=50))"
    )
    with pytest.raises(ConfigurationError, match="MaskCleanup"):
        MaskPredictor(BrightnessModel(), cleanup=50)  # type: ignore[arg-type]
