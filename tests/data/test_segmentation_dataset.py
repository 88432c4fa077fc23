"""The stage 1 dataset and its augmentation: shapes, alignment, reproducibility."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, default_collate

from radiogenomics.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugmentParams,
    PreparedSlices,
    SegmentationDataset,
    SegmentationPrepConfig,
    apply_augmentation,
    normalise_slice,
    prepare_segmentation,
    sample_augmentation,
)
from radiogenomics.errors import ConfigurationError, InvalidInputError
from radiogenomics.io import find_brats_cases


@pytest.fixture(scope="module")
def store(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> PreparedSlices:
    out = tmp_path_factory.mktemp("prepared64") / "out"
    config = SegmentationPrepConfig(size=64, modalities=("flair",))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config).ok
    return PreparedSlices(out)


def _disc_mask(size: int = 48) -> np.ndarray:
    mask = np.zeros((2, size, size), np.uint8)
    cv2.circle(mask[0], (size // 2 + 5, size // 2 - 3), size // 4, 1, -1)
    cv2.rectangle(mask[1], (8, 10), (20, 30), 1, -1)
    return mask


params_strategy = st.builds(
    AugmentParams,
    hflip=st.booleans(),
    vflip=st.booleans(),
    angle=st.floats(-45, 45),
    scale=st.floats(0.9, 1.1),
    dx=st.floats(-0.0625, 0.0625),
    dy=st.floats(-0.0625, 0.0625),
)


@given(params_strategy)
def test_augmentation_keeps_image_and_mask_aligned(params: AugmentParams) -> None:
    """Property: an image equal to the mask stays equal to it, up to interpolation.

    The bilinear image and the nearest-neighbour mask may disagree only on pixels next to
    a mask boundary or on the image's outer frame (reflected border).
    """
    mask = _disc_mask()
    image = (mask[0] * 255).astype(np.uint8)
    image_before, mask_before = image.copy(), mask.copy()
    out_image, out_mask = apply_augmentation(image, mask, params)
    assert np.array_equal(image, image_before)
    assert np.array_equal(mask, mask_before)
    assert out_image.shape == image.shape
    assert out_mask.shape == mask.shape
    assert out_image.dtype == np.uint8
    assert out_mask.dtype == np.uint8
    assert set(np.unique(out_mask).tolist()) <= {0, 1}
    disagree = (out_image >= 128) != out_mask[0].astype(bool)
    kernel = np.ones((3, 3), np.uint8)
    boundary = cv2.dilate(out_mask[0], kernel) != cv2.erode(out_mask[0], kernel)
    # The outer frame samples reflected pixels, which the two interpolations round apart.
    boundary[[0, -1], :] = True
    boundary[:, [0, -1]] = True
    assert not (disagree & ~boundary).any()
    # The tumor keeps roughly its area (scale within 0.9-1.1, reflected borders aside).
    assert 0.7 < out_mask[0].sum() / mask[0].sum() < 1.4


def test_flips_are_exact() -> None:
    mask = _disc_mask()
    image = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    out_image, out_mask = apply_augmentation(image, mask, AugmentParams(hflip=True))
    assert np.array_equal(out_image, image[:, ::-1])
    assert np.array_equal(out_mask, mask[:, :, ::-1])
    out_image, out_mask = apply_augmentation(image, mask, AugmentParams(hflip=True, vflip=True))
    assert np.array_equal(out_image, image[::-1, ::-1])
    assert np.array_equal(out_mask, mask[:, ::-1, ::-1])
    same_image, same_mask = apply_augmentation(image, mask, AugmentParams())
    assert np.array_equal(same_image, image)
    assert same_image is not image
    assert np.array_equal(same_mask, mask)


def test_rotation_by_90_degrees_about_the_centre_is_exact() -> None:
    image = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    mask = (image[None] % 3 == 0).astype(np.uint8)
    out_image, out_mask = apply_augmentation(image, mask, AugmentParams(angle=90.0))
    assert np.array_equal(out_image, np.rot90(image))
    assert np.array_equal(out_mask[0], np.rot90(mask[0]))


def test_misfit_shapes_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="do not fit"):
        apply_augmentation(
            np.zeros((4, 4), np.uint8), np.zeros((2, 4, 5), np.uint8), AugmentParams()
        )


@given(st.integers(0, 2**32 - 1))
def test_sampled_parameters_lie_in_the_configured_ranges(seed: int) -> None:
    config = AugmentConfig(affine=1.0)
    params = sample_augmentation(np.random.default_rng(seed), config=config)
    assert abs(params.angle) <= 45
    assert 0.9 <= params.scale <= 1.1
    assert abs(params.dx) <= 0.0625
    assert abs(params.dy) <= 0.0625
    assert params == sample_augmentation(np.random.default_rng(seed), config=config)
    none = sample_augmentation(
        np.random.default_rng(seed), config=AugmentConfig(hflip=0, vflip=0, affine=0)
    )
    assert none == AugmentParams()


def test_sampling_probabilities_are_about_one_half() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_augmentation(rng) for _ in range(2000)]
    for rate in (
        np.mean([d.hflip for d in draws]),
        np.mean([d.vflip for d in draws]),
        np.mean([d.has_affine for d in draws]),
    ):
        assert 0.45 < rate < 0.55


def test_augment_config_validates() -> None:
    with pytest.raises(ConfigurationError, match="hflip"):
        AugmentConfig(hflip=1.5)


def test_normalisation_is_imagenet() -> None:
    image = np.array([[0, 255]], dtype=np.uint8)
    out = normalise_slice(image)
    assert out.shape == (3, 1, 2)
    assert out.dtype == torch.float32
    for c in range(3):
        assert out[c, 0, 0].item() == pytest.approx(-IMAGENET_MEAN[c] / IMAGENET_STD[c])
        assert out[c, 0, 1].item() == pytest.approx((1 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])


def test_items_batch_with_default_collate(store: PreparedSlices) -> None:
    dataset = SegmentationDataset(store, [0, 1, 2], image_size=32, augment=True, seed=3)
    item = dataset[0]
    assert item["image"].shape == (3, 32, 32)
    assert item["image"].dtype == torch.float32
    assert item["mask"].shape == (2, 32, 32)
    assert item["mask"].dtype == torch.float32
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0}
    assert item["patient_id"] == store.rows[0]["patient_id"]
    batch = default_collate([dataset[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 32, 32)
    assert len(batch["patient_id"]) == 3
    assert len(dataset) == 3
    assert "image_size=32" in repr(dataset)


def test_without_augmentation_the_item_is_the_stored_slice(store: PreparedSlices) -> None:
    dataset = SegmentationDataset(store, [5], image_size=64)
    item = dataset[0]
    stored = store[5]
    assert torch.equal(item["mask"], torch.from_numpy(stored.masks.astype(np.float32)))
    assert torch.allclose(item["image"], normalise_slice(stored.image))


def test_draws_depend_on_seed_epoch_and_index_only(store: PreparedSlices) -> None:
    a = SegmentationDataset(store, range(8), image_size=64, augment=True, seed=1)
    b = SegmentationDataset(store, range(8), image_size=64, augment=True, seed=1)
    assert [a.params_for(i) for i in range(8)] == [b.params_for(i) for i in range(8)]
    assert torch.equal(a[3]["image"], b[3]["image"])
    before = [a.params_for(i) for i in range(8)]
    a.set_epoch(1)
    assert [a.params_for(i) for i in range(8)] != before


def test_batches_do_not_depend_on_the_worker_count(store: PreparedSlices) -> None:
    dataset = SegmentationDataset(store, range(12), image_size=32, augment=True, seed=5)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(
            dataset,
            batch_size=4,
            shuffle=True,
            num_workers=workers,
            generator=torch.Generator().manual_seed(0),
        )
        return [b["image"] for b in loader]

    for x, y in zip(batches(0), batches(2), strict=True):
        assert torch.equal(x, y)


def test_dataset_errors(store: PreparedSlices) -> None:
    with pytest.raises(ConfigurationError, match="replicate"):
        SegmentationDataset(store, channels="modalities")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="out of range"):
        SegmentationDataset(store, [len(store)])
    with pytest.raises(IndexError):
        SegmentationDataset(store, [0])[1]


def test_pickled_dataset_does_not_carry_memory_maps(store: PreparedSlices) -> None:
    import pickle

    dataset = SegmentationDataset(store, range(4), image_size=64, augment=True, seed=2)
    first = dataset[0]  # opens (and caches) the memory maps
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone.store._arrays == {}
    assert store._arrays  # the original keeps its maps
    assert torch.equal(clone[0]["image"], first["image"])
