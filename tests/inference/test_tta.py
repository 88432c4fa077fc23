"""ZoomTTA and zoom_frames: geometry, identity, same transform for every frame."""

from __future__ import annotations

import pytest
import torch

from radiogenomics.errors import ConfigurationError, GeometryError
from radiogenomics.inference.tta import IMAGENET_BLACK, ZoomTTA, zoom_frames


def _square(size: int, side: int) -> torch.Tensor:
    """A (size, size) image with a centred square of ones of the given side."""
    image = torch.zeros(size, size)
    start = (size - side) // 2
    image[start : start + side, start : start + side] = 1.0
    return image


def _extent(image: torch.Tensor) -> float:
    """Width of the bright region along the middle row (half-maximum crossings)."""
    row = image[image.shape[0] // 2]
    return float((row >= 0.5).sum())


def test_a_centred_square_grows_by_the_scale() -> None:
    frames = _square(100, 40).expand(1, 2, 3, 100, 100)
    zoomed = zoom_frames(frames, 1.2)
    assert zoomed.shape == frames.shape
    assert _extent(zoomed[0, 0, 0]) == pytest.approx(40 * 1.2, abs=1.0)


def test_zoom_out_shrinks_and_pads_with_fill() -> None:
    frames = torch.ones(1, 1, 3, 100, 100)
    zoomed = zoom_frames(frames, 0.5, fill=IMAGENET_BLACK)
    assert _extent(zoomed[0, 0, 0]) == pytest.approx(50, abs=1.0)
    for channel, value in enumerate(IMAGENET_BLACK):
        assert zoomed[0, 0, channel, 0, 0] == pytest.approx(value)
    assert zoom_frames(frames, 0.5)[0, 0, 0, 0, 0] == 0


def test_a_centre_marker_stays_at_the_centre() -> None:
    image = torch.zeros(101, 101)
    image[48:53, 48:53] = 1.0  # centred on (50, 50)
    for scale in (1.2, 1.5, 0.8):
        zoomed = zoom_frames(image[None, None, None], scale)[0, 0, 0]
        rows, cols = torch.nonzero(zoomed > 0.25, as_tuple=True)
        assert float(rows.float().mean()) == pytest.approx(50, abs=0.6)
        assert float(cols.float().mean()) == pytest.approx(50, abs=0.6)


def test_reference_zoom_is_resize_268_then_centre_crop_224() -> None:
    frames = torch.randn(1, 1, 3, 224, 224)
    resized = torch.nn.functional.interpolate(
        frames[0], size=(268, 268), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(zoom_frames(frames, 1.2)[0], resized[:, :, 22:246, 22:246])


def test_every_frame_of_a_chunk_gets_the_same_transform() -> None:
    torch.manual_seed(0)
    one = torch.randn(3, 40, 40)
    frames = torch.stack([one] * 5)[None].repeat(2, 1, 1, 1, 1)  # (2, 5, 3, 40, 40)
    zoomed = zoom_frames(frames, 1.3)
    for b in range(2):
        for t in range(5):
            torch.testing.assert_close(zoomed[b, t], zoomed[0, 0])
    torch.testing.assert_close(zoomed[0, 0], zoom_frames(one, 1.3))


def test_identity_scale_returns_the_input_exactly_without_sharing_it() -> None:
    frames = torch.randn(2, 3, 3, 16, 16)
    out = zoom_frames(frames, 1.0)
    assert torch.equal(out, frames)
    assert out.data_ptr() != frames.data_ptr()


def test_input_is_not_modified() -> None:
    frames = torch.randn(1, 2, 3, 20, 20)
    before = frames.clone()
    zoom_frames(frames, 1.2)
    zoom_frames(frames, 0.7)
    assert torch.equal(frames, before)


def test_zoom_frames_errors() -> None:
    with pytest.raises(ConfigurationError):
        zoom_frames(torch.zeros(1, 3, 8, 8), 0.0)
    with pytest.raises(GeometryError):
        zoom_frames(torch.zeros(8, 8), 1.2)
    with pytest.raises(GeometryError, match="floating"):
        zoom_frames(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 1.2)
    with pytest.raises(ConfigurationError, match="fill"):
        zoom_frames(torch.zeros(1, 3, 8, 8), 0.5, fill=(0.0, 1.0))


class _Recorder(torch.nn.Module):
    """A model whose logit is the mean of its input; records the views it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.masks: list[torch.Tensor | None] = []

    def forward(self, frames: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        self.seen.append(frames.clone())
        self.masks.append(valid)
        return frames.flatten(1).mean(dim=1)


def test_reference_tta_is_one_view_zoomed_by_1_2() -> None:
    model = _Recorder()
    frames = torch.randn(2, 4, 3, 30, 30)
    probabilities = ZoomTTA()(model, frames)
    assert len(model.seen) == 1
    torch.testing.assert_close(model.seen[0], zoom_frames(frames, 1.2))
    torch.testing.assert_close(probabilities, torch.sigmoid(model.seen[0].flatten(1).mean(1)))
    assert probabilities.shape == (2,)


def test_probabilities_are_averaged_over_views_and_valid_is_passed() -> None:
    model = _Recorder()
    frames = torch.randn(3, 2, 3, 20, 20)
    valid = torch.tensor([[True, False]] * 3)
    tta = ZoomTTA(scales=(1.2, 0.8), include_identity=True)
    assert tta.views == (1.0, 1.2, 0.8)
    out = tta(model, frames, valid)
    expected = torch.stack([torch.sigmoid(v.flatten(1).mean(1)) for v in model.seen]).mean(0)
    torch.testing.assert_close(out, expected)
    assert torch.equal(model.seen[0], frames)
    assert all(m is valid for m in model.masks)


@pytest.mark.parametrize("reduce", ["median", "max"])
def test_other_reducers(reduce: str) -> None:
    model = _Recorder()
    frames = torch.randn(2, 2, 3, 20, 20)
    out = ZoomTTA(scales=(1.0, 1.2, 1.4), reduce=reduce)(model, frames)  # type: ignore[arg-type]
    views = torch.stack([torch.sigmoid(v.flatten(1).mean(1)) for v in model.seen])
    expected = views.median(0).values if reduce == "median" else views.amax(0)
    torch.testing.assert_close(out, expected)


def test_model_output_of_shape_b_1_is_accepted_and_others_refused() -> None:
    frames = torch.randn(2, 2, 3, 8, 8)
    out = ZoomTTA()(lambda x: torch.zeros(x.shape[0], 1), frames)
    torch.testing.assert_close(out, torch.full((2,), 0.5))
    with pytest.raises(GeometryError, match="one logit per chunk"):
        ZoomTTA()(lambda x: torch.zeros(x.shape[0], 2), frames)


def test_tta_runs_without_gradients() -> None:
    layer = torch.nn.Linear(3 * 8 * 8, 1)
    out = ZoomTTA()(lambda x: layer(x[:, 0].flatten(1)), torch.randn(2, 1, 3, 8, 8))
    assert not out.requires_grad


def test_tta_repr_and_options() -> None:
    assert repr(ZoomTTA()) == "ZoomTTA()"
    assert (
        repr(ZoomTTA(scales=(1.0, 1.2), reduce="max")) == "ZoomTTA(scales=(1.0, 1.2), reduce='max')"
    )
    assert ZoomTTA(scales=(1.0, 1.2), include_identity=True).views == (1.0, 1.2)
    with pytest.raises(ConfigurationError, match="empty"):
        ZoomTTA(scales=())
    with pytest.raises(ConfigurationError):
        ZoomTTA(scales=(-1.0,))
    with pytest.raises(ConfigurationError, match="Did you mean 'mean'"):
        ZoomTTA(reduce="meen")  # type: ignore[arg-type]
