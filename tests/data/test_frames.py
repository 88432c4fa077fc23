"""The stage 2 frame recipe, shared by preparation and prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from radiogenomics import ContourCountFilter, SequenceClassifier, TumorAreaFilter
from radiogenomics.data import (
    ClassificationPrepConfig,
    FrameRecipe,
    FrameStore,
    prepare_classification,
    series_to_frames,
)
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters import BlankSliceFilter
from radiogenomics.inference import ClassificationRun, run_prediction
from radiogenomics.io.task2 import find_series_inputs, load_series_pixels
from radiogenomics.records import SliceRecord
from radiogenomics.testing.synthetic_dicom import write_task2_cohort

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class BrightMasks:
    """A user's mask function: WT where the slice is bright, ET where very bright."""

    def __init__(self, *, level: int = 150) -> None:
        self.level = level

    def __call__(self, slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        wt = slices > self.level
        et = slices > (self.level + 255) // 2
        return np.stack([wt, et], axis=1).astype(np.uint8)

    def __repr__(self) -> str:
        return f"BrightMasks(level={self.level})"


def middle_half(records: Sequence[SliceRecord]) -> list[SliceRecord]:
    """A user's frame step: the middle half of the series."""
    n = len(records)
    return list(records[n // 4 : n - n // 4])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_task2_cohort(
        tmp_path_factory.mktemp("task2"), n_patients=3, seed=5, size=32, n_slices=12
    )


def test_the_recipe_of_settings_is_the_librarys_frames(cohort: Path, seg_run: Path) -> None:
    from radiogenomics.data.prepare_classification import _load_predictor

    config = ClassificationPrepConfig(min_ratio=0.0)
    predictor = _load_predictor(seg_run, config=config, device="cpu", batch_size=4)
    recipe = FrameRecipe.from_config(config, predictor)
    assert recipe.record() == config.to_dict()
    patient, series = next(iter(find_series_inputs(cohort / "train").items()))
    path = series["T1wCE"]
    assert path is not None
    pixels, positions = load_series_pixels(path)
    frames, records = recipe(pixels, positions=positions, patient_id=patient)
    same, _ = series_to_frames(pixels, predictor, config, positions=positions)
    assert np.array_equal(frames, same)
    assert len(records) == len(frames) > 0
    with pytest.raises(ConfigurationError, match=r"zoom=1\.2 but the settings say zoom=1\.5"):
        FrameRecipe.from_config(ClassificationPrepConfig(zoom=1.5), predictor)


def test_preparation_and_prediction_make_the_same_frames(cohort: Path, tmp_path: Path) -> None:
    # One recipe object, the user's own parts: the frames a classifier trains on and the
    # frames it predicts are made by the same code, so they are equal byte for byte.
    recipe = FrameRecipe(
        BrightMasks(),
        steps=[BlankSliceFilter(), middle_half, TumorAreaFilter(min_ratio=0.0)],
    )
    store_dir = tmp_path / "store"
    report = prepare_classification(cohort / "train", store_dir, recipe=recipe)
    assert report.ok
    store = FrameStore(store_dir)
    recorded = (store_dir / "prepare-config.json").read_text()
    assert "BrightMasks(level=150)" in recorded
    assert f"{__name__}.middle_half" in recorded
    seen: dict[str, list[npt.NDArray[np.uint8]]] = {}

    class Recorder(torch.nn.Module):
        """Records the frames of each chunk it is asked about, and answers 0."""

        def __init__(self) -> None:
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(1))

        def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
            seen.setdefault("chunks", []).append(frames.numpy().copy())
            return self.bias.expand(frames.shape[0])

    run = ClassificationRun(
        model=Recorder(), mri_type="T2w", recipe=recipe, sequence_length=64, stride=64
    )
    result = run_prediction(cohort / "train", classifiers=[run], tta=None)
    assert set(result.probabilities) == set(find_series_inputs(cohort / "train"))
    predicted = {p: n for (p, m), n in result.chunks.items()}
    stored = {p: store.num_frames((p, "T2w")) for p in store.patient_ids}
    assert predicted == {p: 1 for p, n in stored.items() if n}
    # The frames predicted are the stored frames, through the same chunking.
    from radiogenomics.data import ChunkDataset

    chunks = iter(seen["chunks"])
    for patient in sorted(p for p, n in stored.items() if n):
        dataset = ChunkDataset(
            {(patient, "T2w"): store.frames((patient, "T2w"))}, None, length=64, stride=64
        )
        expected = dataset[0]["frames"].numpy()
        assert np.array_equal(next(chunks)[0], expected)


def test_a_mask_function_of_the_wrong_shape_is_refused(cohort: Path) -> None:
    def flat(slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return np.zeros(slices.shape, np.uint8)

    recipe = FrameRecipe(flat, steps=[ContourCountFilter()])
    with pytest.raises(ConfigurationError, match=r"expected \(12, 2, 32, 32\)"):
        recipe(np.random.default_rng(0).random((12, 32, 32)))
    with pytest.raises(ConfigurationError, match="must be a mask function"):
        FrameRecipe(3)  # type: ignore[arg-type]


def test_a_run_without_its_recipe_is_refused() -> None:
    model: Any = SequenceClassifier(backbone="test_resnet", sequence_length=2)
    with pytest.raises(ConfigurationError, match="must be a FrameRecipe"):
        ClassificationRun(model=model, mri_type="FLAIR", recipe=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="MRI type 'DWI'"):
        ClassificationRun(model=model, mri_type="DWI", recipe=FrameRecipe(BrightMasks()))


def test_settings_given_to_a_frame_recipe_are_checked() -> None:
    config = ClassificationPrepConfig(min_ratio=0.05)
    recipe = FrameRecipe(BrightMasks(), steps=config.filters(), settings=config)
    assert recipe.record() == config.to_dict()
    with pytest.raises(ConfigurationError, match="not the one its settings describe"):
        FrameRecipe(BrightMasks(), steps=config.filters(), settings=ClassificationPrepConfig())
    with pytest.raises(ConfigurationError, match="intensity='percentile'"):
        FrameRecipe(BrightMasks(), steps=config.filters(), intensity="percentile", settings=config)


def test_mask_cleanup_settings_are_recorded_only_when_on(seg_run: Path) -> None:
    from radiogenomics.data.prepare_classification import _load_predictor
    from radiogenomics.inference import MaskCleanup

    seed = ClassificationPrepConfig()
    assert "cleanup_drop_below" not in seed.to_dict()
    assert "cleanup_dims" not in seed.to_dict()
    assert seed.mask_cleanup() is None
    # A store written before the settings existed reads back as the seed's settings.
    assert ClassificationPrepConfig.from_dict(seed.to_dict()) == seed
    config = ClassificationPrepConfig(cleanup_drop_below=40)
    assert config.to_dict()["cleanup_drop_below"] == 40
    assert "cleanup_dims" not in config.to_dict()  # its default, 3d
    assert config.mask_cleanup() == MaskCleanup(drop_below=40)
    assert ClassificationPrepConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigurationError, match="would drop nothing"):
        ClassificationPrepConfig(cleanup_drop_below=1)
    with pytest.raises(ConfigurationError, match="cleanup_dims"):
        ClassificationPrepConfig(cleanup_dims="4d")  # type: ignore[arg-type]
    # The library's recipe needs a predictor that cleans the same way.
    predictor = _load_predictor(seg_run, config=config, device="cpu", batch_size=4)
    assert predictor.cleanup == MaskCleanup(drop_below=40)
    assert FrameRecipe.from_config(config, predictor).record() == config.to_dict()
    plain = _load_predictor(seg_run, config=seed, device="cpu", batch_size=4)
    with pytest.raises(ConfigurationError, match="cleanup"):
        FrameRecipe.from_config(config, plain)
    with pytest.raises(ConfigurationError, match="cleanup"):
        FrameRecipe.from_config(seed, predictor)


def test_a_3d_cleanup_sees_the_series_in_order() -> None:
    from radiogenomics.inference import MaskCleanup

    class Stacked:
        """A mask function that marks a 3 x 3 square on every slice: a column in 3D."""

        cleanup = MaskCleanup(drop_below=10)

        def __call__(self, slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
            masks = np.zeros((len(slices), 2, *slices.shape[1:]), np.uint8)
            masks[:, :, 8:11, 8:11] = 1
            return self.cleanup(masks)

        def __repr__(self) -> str:
            return "Stacked()"

    series = np.tile(np.arange(1.0, 21.0), (4, 20, 1))
    recipe = FrameRecipe(Stacked(), steps=[TumorAreaFilter(min_ratio=0.0)])
    frames, _ = recipe(series)
    assert len(frames) == 4  # 36 voxels across the series: kept
    frames, _ = recipe(series[:1])
    assert len(frames) == 0  # one slice alone: 9 voxels, dropped
