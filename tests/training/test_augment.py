"""DeviceAugment: the loaders' flips and shift-scale-rotate, batched in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.data import AugmentConfig, AugmentParams, apply_augmentation
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.training import BatchAugmentParams, DeviceAugment

NONE = AugmentConfig(hflip=0.0, vflip=0.0, affine=0.0)
ALWAYS = AugmentConfig(hflip=1.0, vflip=1.0, affine=1.0)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _smooth_image(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    image = 127 + 60 * np.sin(xx / 5.0) + 50 * np.cos(yy / 7.0)
    return np.clip(image, 0, 255).astype(np.uint8)


def _masks(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    wt = (xx - 20) ** 2 + (yy - 15) ** 2 < 80
    et = (xx - 30) ** 2 / 4 + (yy - 25) ** 2 < 30
    return np.stack([wt, et]).astype(np.uint8)


@pytest.mark.parametrize(
    "params",
    [
        AugmentParams(hflip=True),
        AugmentParams(vflip=True, angle=30.0, scale=1.1, dx=0.05, dy=-0.03),
        AugmentParams(hflip=True, vflip=True, angle=-44.0, scale=0.9, dx=-0.06, dy=0.06),
    ],
)
def test_same_geometry_as_the_loader(params: AugmentParams) -> None:
    image, masks = _smooth_image(40, 48), _masks(40, 48)
    want_image, want_masks = apply_augmentation(image, masks, params)
    got_image, got_masks = DeviceAugment().apply(
        torch.from_numpy(image).float()[None, None],
        BatchAugmentParams.stack([params]),
        mask=torch.from_numpy(masks)[None],
    )
    assert got_masks is not None
    # OpenCV rounds to uint8: at most half a grey level apart, reflected borders included.
    assert np.abs(got_image[0, 0].numpy() - want_image).max() <= 0.5 + 1e-3
    assert np.array_equal(got_masks[0].numpy(), want_masks)
    assert got_masks.dtype == torch.uint8


def test_identity_when_every_probability_is_zero() -> None:
    image, mask = torch.randn(5, 3, 16, 16), (torch.rand(5, 2, 16, 16) > 0.5).float()
    got_image, got_mask = DeviceAugment(NONE)(image, mask, generator=_generator(0))
    assert torch.equal(got_image, image)
    assert got_mask is not None
    assert torch.equal(got_mask, mask)
    assert got_image is not image  # a new tensor: the input is never modified


@given(seed=st.integers(0, 2**31), size=st.sampled_from([(8, 8), (9, 13), (16, 12)]))
def test_masks_stay_binary_and_inputs_unchanged(seed: int, size: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(seed)
    mask = (torch.rand((4, 2, *size), generator=generator) > 0.6).float()
    image = torch.rand((4, 3, *size), generator=generator)
    before = (image.clone(), mask.clone())
    _, got = DeviceAugment(ALWAYS)(image, mask, generator=generator)
    assert got is not None
    assert set(torch.unique(got).tolist()) <= {0.0, 1.0}
    assert torch.equal(image, before[0])
    assert torch.equal(mask, before[1])


def test_image_and_mask_move_together() -> None:
    # Whole-pixel shifts (with flips): bilinear and nearest sampling give the same values.
    pattern = (torch.rand(3, 1, 20, 24, generator=_generator(1)) > 0.5).float()
    params = BatchAugmentParams.stack(
        [
            AugmentParams(hflip=True, dx=3 / 24),
            AugmentParams(vflip=True, dy=-2 / 20),
            AugmentParams(hflip=True, vflip=True, angle=90.0, dx=1 / 24),
        ]
    )
    image, mask = DeviceAugment().apply(pattern, params, mask=pattern)
    assert mask is not None
    assert torch.allclose(image, mask, atol=1e-5)
    assert not torch.equal(mask, pattern)


def test_every_frame_of_a_chunk_gets_its_item_transform() -> None:
    frame = torch.randn(1, 1, 3, 16, 16)
    chunks = frame.expand(2, 5, 3, 16, 16).contiguous()
    out, mask = DeviceAugment(ALWAYS)(chunks, generator=_generator(2))
    assert mask is None
    assert out.shape == chunks.shape
    for item in range(2):
        for index in range(1, 5):
            assert torch.equal(out[item, index], out[item, 0])
    assert not torch.equal(out[0], out[1])  # two items, two draws


def test_deterministic_given_the_generator() -> None:
    augment = DeviceAugment()
    image = torch.randn(8, 3, 16, 16)
    first, _ = augment(image, generator=_generator(7))
    again, _ = augment(image, generator=_generator(7))
    other, _ = augment(image, generator=_generator(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_sample_follows_the_config() -> None:
    params = DeviceAugment().sample(4000, generator=_generator(3))
    assert len(params) == 4000
    for rate in (params.hflip, params.vflip, params.warp):
        assert 0.45 < rate.double().mean().item() < 0.55
    warped = params.warp
    assert params.angle[warped].abs().max() <= 45.0
    assert ((params.scale[warped] - 1).abs() <= 0.1).all()
    assert (params.dx[warped].abs() <= 0.0625).all()
    assert torch.equal(
        params.angle[~warped], torch.zeros(int((~warped).sum()), dtype=torch.float64)
    )
    item = params.item(0)
    assert isinstance(item, AugmentParams)
    assert item.has_affine == bool(warped[0])


def test_errors() -> None:
    augment = DeviceAugment()
    params = augment.sample(2, generator=_generator(0))
    with pytest.raises(GeometryError, match="N = 2"):
        augment.apply(torch.zeros(3, 1, 8, 8), params)
    with pytest.raises(InvalidInputError, match="floating-point"):
        augment.apply(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), params)
    with pytest.raises(GeometryError, match="does not fit"):
        augment.apply(torch.zeros(2, 1, 8, 8), params, mask=torch.zeros(2, 1, 8, 9))
    with pytest.raises(GeometryError, match="too small"):
        augment.apply(torch.zeros(2, 1, 1, 8), params)
    with pytest.raises(GeometryError, match="one N"):
        BatchAugmentParams(*(torch.zeros(n) for n in (1, 1, 1, 1, 1, 1, 2)))
    with pytest.raises(ConfigurationError, match="AugmentConfig"):
        DeviceAugment({"hflip": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least 0"):
        augment.sample(-1, generator=_generator(0))
    assert repr(DeviceAugment()) == "DeviceAugment()"
    assert "hflip=0.0" in repr(DeviceAugment(NONE))
