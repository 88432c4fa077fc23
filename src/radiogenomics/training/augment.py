"""Batched augmentation on the training device: flips and shift-scale-rotate in torch.

:class:`DeviceAugment` applies the augmentation family of the loaders
(:func:`~radiogenomics.data.sample_augmentation`,
:func:`~radiogenomics.data.apply_augmentation`; probabilities and ranges from
:class:`~radiogenomics.data.AugmentConfig`) to a whole batch at once, where the batch
already is (a GPU): horizontal flip, vertical flip, then a rotation and zoom about the
image centre ``((W - 1) / 2, (H - 1) / 2)`` and a shift, with reflected borders (as
OpenCV's ``BORDER_REFLECT_101``). Images are sampled bilinearly, masks with nearest
neighbours, so masks stay binary. The geometry is the loaders' (a test compares the two);
the random draws are not (torch instead of NumPy), so the two modes give different, equally
distributed, augmentations.

As in the loaders, random parameters are *sampled* (:meth:`DeviceAugment.sample`, from an
explicit ``torch.Generator``, on the CPU) separately from being *applied*
(:meth:`DeviceAugment.apply`), so one draw moves an image and its masks alike and each
half can be tested alone. The training loops seed one generator per epoch (and process),
so a resumed run draws exactly what an uninterrupted one would.

This module imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from radiogenomics.data.segmentation_dataset import AugmentConfig, AugmentParams
from radiogenomics.errors import ConfigurationError, GeometryError

__all__ = ["BatchAugmentParams", "DeviceAugment"]


@dataclass(frozen=True)
class BatchAugmentParams:
    """One draw of augmentation parameters per item of a batch (CPU tensors).

    Attributes:
        hflip: bool (N,): flip left-right.
        vflip: bool (N,): flip up-down.
        warp: bool (N,): apply the shift-scale-rotate (else the next four are at rest).
        angle: float64 (N,): rotation in degrees, counter-clockwise.
        scale: float64 (N,): zoom factor (above 1 enlarges).
        dx: float64 (N,): shift right, as a fraction of the width.
        dy: float64 (N,): shift down, as a fraction of the height.
    """

    hflip: torch.Tensor
    vflip: torch.Tensor
    warp: torch.Tensor
    angle: torch.Tensor
    scale: torch.Tensor
    dx: torch.Tensor
    dy: torch.Tensor

    def __post_init__(self) -> None:
        sizes = {tuple(getattr(self, name).shape) for name in _FIELDS}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise GeometryError(
                f"every parameter must have shape (N,) with one N; got shapes {sorted(sizes)}."
            )

    def __len__(self) -> int:
        return int(self.hflip.shape[0])

    @classmethod
    def stack(cls, params: Sequence[AugmentParams]) -> BatchAugmentParams:
        """Per-item parameters (as the loaders draw them) as one batch."""

        def column(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor([getattr(p, name) for p in params], dtype=dtype)

        return cls(
            hflip=column("hflip", torch.bool),
            vflip=column("vflip", torch.bool),
            warp=torch.tensor([p.has_affine for p in params], dtype=torch.bool),
            angle=column("angle", torch.float64),
            scale=column("scale", torch.float64),
            dx=column("dx", torch.float64),
            dy=column("dy", torch.float64),
        )

    def item(self, index: int) -> AugmentParams:
        """The parameters of one item."""
        return AugmentParams(
            hflip=bool(self.hflip[index]),
            vflip=bool(self.vflip[index]),
            angle=float(self.angle[index]),
            scale=float(self.scale[index]),
            dx=float(self.dx[index]),
            dy=float(self.dy[index]),
        )

    def theta(self, height: int, width: int) -> torch.Tensor:
        """The warps as ``torch.nn.functional.affine_grid`` matrices.

        Each maps an output position to its source position, in the normalised
        coordinates of ``align_corners=True`` (-1 and 1 are the centres of the corner
        pixels). The warp in pixels is OpenCV's ``getRotationMatrix2D`` about
        ``((W - 1) / 2, (H - 1) / 2)`` plus the shift, as in
        :func:`~radiogenomics.data.apply_augmentation`.

        Returns:
            float64 matrices.

        Shape:
            output: (N, 2, 3).
        """
        radians = torch.deg2rad(self.angle)
        alpha, beta = self.scale * torch.cos(radians), self.scale * torch.sin(radians)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        n = len(self)
        forward = torch.zeros(n, 3, 3, dtype=torch.float64)
        forward[:, 0, 0], forward[:, 0, 1] = alpha, beta
        forward[:, 1, 0], forward[:, 1, 1] = -beta, alpha
        forward[:, 0, 2] = (1 - alpha) * cx - beta * cy + self.dx * width
        forward[:, 1, 2] = beta * cx + (1 - alpha) * cy + self.dy * height
        forward[:, 2, 2] = 1.0
        to_unit = torch.tensor(
            [[1 / cx, 0.0, -1.0], [0.0, 1 / cy, -1.0], [0.0, 0.0, 1.0]], dtype=torch.float64
        )
        from_unit = torch.linalg.inv(to_unit)
        theta: torch.Tensor = (to_unit @ torch.linalg.inv(forward) @ from_unit)[:, :2, :]
        return theta


_FIELDS = ("hflip", "vflip", "warp", "angle", "scale", "dx", "dy")


class DeviceAugment:
    """The loaders' random flips and shift-scale-rotate, applied to a batch in torch.

    Args:
        config: Probabilities and ranges; default: the reference's
            (:class:`~radiogenomics.data.AugmentConfig`).

    Raises:
        ConfigurationError: ``config`` is not an :class:`~radiogenomics.data.AugmentConfig`.

    Example:
        >>> import torch
        >>> augment = DeviceAugment()
        >>> image, mask = torch.zeros(4, 3, 32, 32), torch.zeros(4, 2, 32, 32)
        >>> out, out_mask = augment(image, mask, generator=torch.Generator().manual_seed(0))
        >>> out.shape, out_mask.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 2, 32, 32]))
    """

    def __init__(self, config: AugmentConfig | None = None) -> None:
        if config is not None and not isinstance(config, AugmentConfig):
            raise ConfigurationError(
                f"config={config!r} must be an AugmentConfig (AugmentConfig() gives the "
                "reference's augmentation) or None."
            )
        self.config = config or AugmentConfig()

    def sample(self, n: int, *, generator: torch.Generator) -> BatchAugmentParams:
        """Draw the parameters of ``n`` items (pure: they depend only on ``generator``).

        Each item draws 7 uniform numbers, used as
        :func:`~radiogenomics.data.sample_augmentation` uses its 7: flip left-right,
        flip up-down, warp or not, then angle, scale, x shift and y shift in their ranges.

        Args:
            n: The number of items.
            generator: A CPU generator, advanced by the draw.

        Raises:
            ConfigurationError: ``n`` is negative.
        """
        if n < 0:
            raise ConfigurationError(f"n={n} must be at least 0.")
        c = self.config
        draws = torch.rand((n, 7), generator=generator, dtype=torch.float64)
        warp = draws[:, 2] < c.affine

        def span(column: int, half_width: float, rest: float) -> torch.Tensor:
            value = rest + (2 * draws[:, column] - 1) * half_width
            return torch.where(warp, value, torch.full_like(value, rest))

        return BatchAugmentParams(
            hflip=draws[:, 0] < c.hflip,
            vflip=draws[:, 1] < c.vflip,
            warp=warp,
            angle=span(3, c.rotate, 0.0),
            scale=span(4, c.scale, 1.0),
            dx=span(5, c.shift, 0.0),
            dy=span(6, c.shift, 0.0),
        )

    def apply(
        self,
        image: torch.Tensor,
        params: BatchAugmentParams,
        *,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Apply one draw per item to images (bilinear) and masks (nearest).

        Every channel (and frame) of an item gets that item's transform. The inputs are
        not modified; items without a transform come back unchanged, bit for bit.

        Args:
            image: Floating-point images, on any device.
            params: One draw per item (from :meth:`sample` or
                :meth:`BatchAugmentParams.stack`).
            mask: Their masks (any dtype; values are moved, never blended).

        Returns:
            New ``(image, mask)`` tensors of the input shapes, dtypes and devices
            (``mask`` is None when none was given).

        Raises:
            GeometryError: Shapes that do not fit, or images smaller than 2 x 2.
            InvalidInputError: ``image`` is not floating-point.

        Shape:
            - image: (N, ..., H, W), e.g. (N, C, H, W) or chunks (N, L, C, H, W).
            - mask: (N, ..., H, W), the same N, H and W.
        """
        from radiogenomics.errors import InvalidInputError

        if image.ndim < 3 or image.shape[0] != len(params):
            raise GeometryError(
                f"expected images of shape (N, ..., H, W) with N = {len(params)} (one "
                f"draw per item); got shape {tuple(image.shape)}."
            )
        if not image.is_floating_point():
            raise InvalidInputError(
                f"expected floating-point images; got dtype {image.dtype}. Convert with "
                ".float() first."
            )
        height, width = image.shape[-2:]
        if height < 2 or width < 2:
            raise GeometryError(f"images of {height} x {width} are too small to warp.")
        if mask is not None and (
            mask.ndim < 3 or mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]
        ):
            raise GeometryError(
                f"mask {tuple(mask.shape)} does not fit image {tuple(image.shape)}; expected "
                "(N, ..., H, W) with the image's N, H and W."
            )
        out_image = self._transform(image, params, nearest=False)
        out_mask = None if mask is None else self._transform(mask, params, nearest=True)
        return out_image, out_mask

    def __call__(
        self,
        image: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw one transform per item from ``generator`` and apply it (see :meth:`apply`).

        Shape:
            - image: (N, ..., H, W).
            - mask: (N, ..., H, W).
        """
        return self.apply(image, self.sample(int(image.shape[0]), generator=generator), mask=mask)

    @staticmethod
    def _transform(
        tensor: torch.Tensor, params: BatchAugmentParams, *, nearest: bool
    ) -> torch.Tensor:
        n, height, width = tensor.shape[0], tensor.shape[-2], tensor.shape[-1]
        flat = tensor.reshape(n, -1, height, width)
        device = tensor.device
        hflip = params.hflip.to(device)[:, None, None, None]
        vflip = params.vflip.to(device)[:, None, None, None]
        out = torch.where(hflip, flat.flip(-1), flat)
        out = torch.where(vflip, out.flip(-2), out)
        rows = torch.nonzero(params.warp).flatten()  # on the CPU: no device sync
        if rows.numel():
            work = out if out.is_floating_point() else out.float()
            theta = params.theta(height, width)[rows].to(device=device, dtype=torch.float32)
            picked = rows.to(device)
            source = work.index_select(0, picked)
            grid = F.affine_grid(theta, [len(rows), 1, height, width], align_corners=True).to(
                source.dtype
            )
            warped = F.grid_sample(
                source,
                grid,
                mode="nearest" if nearest else "bilinear",
                padding_mode="reflection",
                align_corners=True,
            )
            out = work.index_copy(0, picked, warped).to(tensor.dtype)
        return out.reshape(tensor.shape)

    def __repr__(self) -> str:
        shown = "" if self.config == AugmentConfig() else repr(self.config)
        return f"DeviceAugment({shown})"
