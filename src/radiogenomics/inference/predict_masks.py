"""Tumor mask prediction with a stage 1 model, aligned voxel for voxel with the input.

The reference predicts the whole-tumor (WT) and enhancing-tumor (ET) masks that stage 2
needs slice by slice, with a 1.2 zoom: each uint8 slice is resized to ``268 x 268`` and
centre-cropped to ``224 x 224`` (:func:`~radiogenomics.inference.zoom_in`), replicated to
3 channels, ImageNet-normalised and fed to the model; the sigmoid of its logits is padded
back to ``268 x 268`` and resized to the native slice size
(:func:`~radiogenomics.inference.zoom_out`), then thresholded at 0.5.

:class:`MaskPredictor` holds the model and the validated configuration; the work is done
by pure functions that take the model as an argument (:func:`preprocess_slices`,
:func:`run_model`, :func:`postprocess_probabilities`, :func:`predict_slice_probabilities`,
:func:`threshold_probabilities`), so each step can be tested and reused alone. Any
``torch.nn.Module`` that maps ``(N, 3, S, S)`` normalised images to ``(N, C, S, S)``
logits works (``C = 2``, WT then ET, for the reference's models).

Array layouts:

* volumes (:meth:`MaskPredictor.predict_volume`): ``(X, Y, Z)`` in, masks
  ``(C, X, Y, Z)`` out, sliced along the array axis of the requested anatomical plane;
* DICOM series (:meth:`MaskPredictor.predict_series`): ``pixels`` ``(S, R, C)`` in,
  masks ``(C, S, R, Cols)`` out, each slice ``pixels[k]`` as the DICOM viewer shows it;
  :func:`series_masks_to_nifti` turns them into the NIfTI layout of the series' affine.

Speed options (:class:`MaskPredictor`, :func:`run_model`, and the stage 2 chain in
:func:`~radiogenomics.inference.run_prediction`): ``amp`` runs the forward pass under
``torch.autocast`` (:data:`InferenceAmp`; ``"auto"`` is bfloat16 on CUDA and full
precision elsewhere), ``channels_last`` stores the model's 4D weights and the input
batches in the channels-last memory format (``None``: on for CUDA only) and ``compile``
wraps the model in ``torch.compile``. Every forward pass runs under
``torch.inference_mode``. With the defaults, results on CPU are those of plain float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from radiogenomics._options import check_choice, check_range
from radiogenomics.data.segmentation_dataset import IMAGENET_MEAN, IMAGENET_STD
from radiogenomics.errors import ConfigurationError, GeometryError, InvalidInputError
from radiogenomics.inference.postprocess import MaskCleanup
from radiogenomics.inference.zoom import check_zoom, zoom_in, zoom_out
from radiogenomics.io.dicom import DicomSeries
from radiogenomics.records import PLANES, Plane, VolumeRecord
from radiogenomics.slicing.geometry import Orientation, slice_layout
from radiogenomics.slicing.intensity import to_uint8

__all__ = [
    "InferenceAmp",
    "MaskPredictor",
    "postprocess_probabilities",
    "predict_slice_probabilities",
    "prepare_inference_model",
    "preprocess_slices",
    "resolve_channels_last",
    "resolve_inference_amp",
    "run_model",
    "series_masks_to_nifti",
    "threshold_probabilities",
]

_ORIENTATIONS: tuple[Orientation, ...] = ("native", "radiological")

InferenceAmp = Literal["auto", "off", "bf16", "fp16"]
"""The mixed precision of inference, one of ``"auto"`` (bfloat16 on CUDA, or float16 on
a GPU without bfloat16; full precision on any other device), ``"off"``, ``"bf16"`` and
``"fp16"`` (CUDA only)."""


def _device(device: str | torch.device, *, use: bool = False) -> torch.device:
    """``device`` as a ``torch.device``; with ``use``, also checked to be present."""
    from radiogenomics._device import resolve_device

    if use:
        return resolve_device(device)
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigurationError(
            f"device={device!r} is not a torch device ({error}); expected e.g. 'cpu', "
            "'cuda' or 'cuda:0'."
        ) from None


def resolve_inference_amp(
    amp: InferenceAmp, device: str | torch.device = "cpu"
) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` setting on ``device``.

    Args:
        amp: ``"auto"``, ``"off"``, ``"bf16"`` or ``"fp16"`` (see :data:`InferenceAmp`).
        device: Where the model runs.

    Returns:
        ``torch.bfloat16`` or ``torch.float16``, or ``None`` for full precision.

    Raises:
        ConfigurationError: An unknown mode (a boolean included), or ``"fp16"`` on a
            device other than CUDA.

    Example:
        >>> resolve_inference_amp("auto", "cpu") is None
        True
        >>> resolve_inference_amp("bf16", "cpu")
        torch.bfloat16
    """
    from radiogenomics._device import resolve_amp  # the same rule as training

    if isinstance(amp, bool):
        raise ConfigurationError(
            f"amp={amp!r} is a boolean; expected one of 'auto', 'off', 'bf16', 'fp16' "
            "('bf16' is what amp=True ran on CPU, 'off' is amp=False)."
        )
    return resolve_amp(amp, _device(device))


def resolve_channels_last(channels_last: bool | None, device: str | torch.device = "cpu") -> bool:
    """Whether to use the channels-last memory format: ``None`` means on for CUDA only.

    Args:
        channels_last: ``True``, ``False``, or ``None`` (decided by the device).
        device: Where the model runs.

    Returns:
        The decision.

    Raises:
        ConfigurationError: ``channels_last`` is not a boolean or ``None``.
    """
    if channels_last is not None and not isinstance(channels_last, bool):
        raise ConfigurationError(
            f"channels_last={channels_last!r} must be True, False or None (on for CUDA)."
        )
    if channels_last is None:
        return _device(device).type == "cuda"
    return channels_last


def prepare_inference_model(
    model: torch.nn.Module,
    *,
    device: str | torch.device = "cpu",
    channels_last: bool | None = None,
    compile: bool = False,
) -> torch.nn.Module:
    """Ready a model for fast inference: device, memory format, optional compilation.

    The model is moved to ``device`` and, when channels-last is on, its 4D parameters
    and buffers are converted to the channels-last memory format; both happen in place
    (``Module.to``), and neither changes what the model computes. With ``compile`` the
    result is ``torch.compile(model)``, which shares the model's parameters (the first
    calls compile it, and each new input shape may compile again).

    Args:
        model: Any module.
        device: Where it runs.
        channels_last: Convert to channels-last; ``None`` means on for CUDA only.
        compile: Wrap the model in ``torch.compile``.

    Returns:
        ``model`` itself, or its compiled wrapper.

    Raises:
        ConfigurationError: ``device`` is not a torch device or an option is invalid.
    """
    target = _device(device, use=True)
    use_channels_last = resolve_channels_last(channels_last, target)
    if not isinstance(compile, bool):
        raise ConfigurationError(f"compile={compile!r} must be True or False.")
    model.to(target)
    if use_channels_last:
        model.to(memory_format=torch.channels_last)
    if compile:
        compiled: torch.nn.Module = torch.compile(model)  # type: ignore[assignment]
        return compiled
    return model


def _check_slices(slices: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    data = np.asarray(slices)
    if data.ndim != 3 or data.shape[1] == 0 or data.shape[2] == 0:
        raise GeometryError(
            f"expected a stack of 2D slices of shape (N, H, W); got shape {data.shape}."
        )
    if data.dtype != np.uint8:
        raise InvalidInputError(
            f"expected uint8 slices in [0, 255]; got dtype {data.dtype}. Normalise the whole "
            "volume first with radiogenomics.slicing.to_uint8 (predict_volume and "
            "predict_series do it for you)."
        )
    return data


def preprocess_slices(
    slices: npt.NDArray[np.uint8], *, image_size: int = 224, zoom: float = 1.2
) -> npt.NDArray[np.float32]:
    """Zoom, replicate to 3 channels and ImageNet-normalise uint8 slices.

    Each slice goes through :func:`~radiogenomics.inference.zoom_in` (bilinear), is
    scaled to [0, 1], copied to 3 channels and normalised with :data:`IMAGENET_MEAN`
    and :data:`IMAGENET_STD`, as the reference's stage 1 input.

    Args:
        slices: uint8 slices.
        image_size: The model's input side ``S``.
        zoom: The zoom factor (1.2 in the reference; 1 for a plain resize).

    Returns:
        A new float32 array.

    Shape:
        - slices: (N, H, W).
        - output: (N, 3, S, S) with ``S = image_size``.

    Raises:
        GeometryError: ``slices`` is not (N, H, W).
        InvalidInputError: ``slices`` is not uint8.
        ConfigurationError: ``image_size`` or ``zoom`` is invalid.
    """
    data = _check_slices(slices)
    out = np.empty((data.shape[0], 3, image_size, image_size), dtype=np.float32)
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD, dtype=np.float32)[:, None, None]
    for i, image in enumerate(data):
        zoomed = zoom_in(image, factor=zoom, size=image_size).astype(np.float32) / 255.0
        out[i] = (zoomed[None, :, :] - mean) / std
    return out


def run_model(
    model: torch.nn.Module,
    batch: npt.NDArray[np.float32],
    *,
    device: str | torch.device = "cpu",
    amp: InferenceAmp = "auto",
    channels_last: bool | None = None,
) -> npt.NDArray[np.float32]:
    """Run the model on one batch in inference mode and return sigmoid probabilities.

    The model is switched to evaluation mode for the call and its previous training
    flags are restored afterwards; nothing else about it changes. It must already be
    on ``device`` (and in channels-last format if wanted: see
    :func:`prepare_inference_model`).

    Args:
        model: Maps (N, 3, S, S) normalised images to (N, C, S, S) logits.
        batch: Normalised images, from :func:`preprocess_slices`.
        device: Where the batch is sent.
        amp: Mixed precision (:func:`resolve_inference_amp`; ``"auto"``: bfloat16 on
            CUDA, full precision on CPU); the logits are cast to float32 before the
            sigmoid.
        channels_last: Send the batch in the channels-last memory format; ``None``
            means on for CUDA only.

    Returns:
        float32 probabilities in [0, 1].

    Shape:
        - batch: (N, 3, S, S).
        - output: (N, C, S, S).

    Raises:
        ConfigurationError: The model's output is not a tensor of shape (N, C, S, S), or
            an option is invalid.
    """
    target = _device(device, use=True)
    dtype = resolve_inference_amp(amp, target)
    inputs = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(target)
    if resolve_channels_last(channels_last, target):
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with (
        _eval_mode(model),
        torch.inference_mode(),
        torch.autocast(
            device_type=target.type, dtype=dtype or torch.float32, enabled=dtype is not None
        ),
    ):
        logits = model(inputs)
    if not isinstance(logits, torch.Tensor):
        raise ConfigurationError(
            f"the model returned {type(logits).__name__}; expected a tensor of logits of "
            "shape (N, C, S, S). Build segmentation models without auxiliary heads "
            "(aux_params=None)."
        )
    n, _, s, s2 = batch.shape
    if logits.ndim != 4 or logits.shape[0] != n or tuple(logits.shape[2:]) != (s, s2):
        raise ConfigurationError(
            f"the model mapped a batch of shape {tuple(batch.shape)} to logits of shape "
            f"{tuple(logits.shape)}; expected ({n}, C, {s}, {s2}). Is image_size a size "
            "the model supports (smp models need a multiple of 32)?"
        )
    probabilities = torch.sigmoid(logits.float()).cpu().numpy()
    return np.asarray(probabilities, dtype=np.float32)


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def postprocess_probabilities(
    probabilities: npt.NDArray[np.float32],
    *,
    zoom: float = 1.2,
    native_shape: tuple[int, int],
) -> npt.NDArray[np.float32]:
    """Map zoomed probabilities back to the native slice size (the inverse zoom).

    Each slice goes through :func:`~radiogenomics.inference.zoom_out` with bilinear
    interpolation: zero padding for the border the zoom cut off, then a resize to
    ``native_shape``.

    Args:
        probabilities: Probabilities on the zoomed slices.
        zoom: The zoom factor the slices were preprocessed with.
        native_shape: The ``(H, W)`` of the original slices.

    Returns:
        A new float32 array.

    Shape:
        - probabilities: (N, C, S, S).
        - output: (N, C, H, W).
    """
    data = np.asarray(probabilities, dtype=np.float32)
    if data.ndim != 4 or data.shape[2] != data.shape[3]:
        raise GeometryError(f"expected probabilities of shape (N, C, S, S); got {data.shape}.")
    height, width = native_shape
    out = np.empty((data.shape[0], data.shape[1], height, width), dtype=np.float32)
    for i, item in enumerate(data):
        native = zoom_out(np.moveaxis(item, 0, -1), factor=zoom, native_shape=native_shape)
        out[i] = np.moveaxis(native, -1, 0)
    return out


def threshold_probabilities(
    probabilities: npt.NDArray[np.floating], *, threshold: float = 0.5
) -> npt.NDArray[np.uint8]:
    """Binary masks from probabilities: 1 where strictly greater than ``threshold``.

    Args:
        probabilities: Probabilities of any shape.
        threshold: Keeps values strictly greater (a probability of exactly 0.5 is
            background at the default).

    Returns:
        A new uint8 array of 0 and 1, of the input's shape.
    """
    return (np.asarray(probabilities) > threshold).astype(np.uint8)


def _batches(
    model: torch.nn.Module,
    slices: npt.NDArray[np.uint8],
    *,
    image_size: int,
    zoom: float,
    batch_size: int,
    device: str | torch.device,
    amp: InferenceAmp,
    channels_last: bool | None,
) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """``(start, native probabilities of slices[start:start + batch_size])`` per batch."""
    native_shape = (int(slices.shape[1]), int(slices.shape[2]))
    for start in range(0, slices.shape[0], batch_size):
        batch = preprocess_slices(
            slices[start : start + batch_size], image_size=image_size, zoom=zoom
        )
        zoomed = run_model(model, batch, device=device, amp=amp, channels_last=channels_last)
        yield start, postprocess_probabilities(zoomed, zoom=zoom, native_shape=native_shape)


def predict_slice_probabilities(
    model: torch.nn.Module,
    slices: npt.NDArray[np.uint8],
    *,
    image_size: int = 224,
    zoom: float = 1.2,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    amp: InferenceAmp = "auto",
    channels_last: bool | None = None,
    n_channels: int = 2,
) -> npt.NDArray[np.float32]:
    """Per-pixel probabilities of uint8 slices at their native size.

    :func:`preprocess_slices`, :func:`run_model` and :func:`postprocess_probabilities`
    applied batch by batch; the result does not depend on ``batch_size``.

    Args:
        model: Maps (N, 3, S, S) normalised images to (N, C, S, S) logits; it must
            already be on ``device``.
        slices: uint8 slices (normalise the volume first, see
            :func:`~radiogenomics.slicing.to_uint8`).
        image_size: The model's input side ``S``.
        zoom: The zoom factor (1.2 in the reference).
        batch_size: Slices per forward pass.
        device: Where the batches are sent.
        amp: Mixed precision (see :func:`run_model`).
        channels_last: Channels-last batches (see :func:`run_model`).
        n_channels: The model's output channels ``C``; only used to shape the result
            of an empty stack, and checked against the model's output otherwise.

    Returns:
        float32 probabilities in [0, 1].

    Shape:
        - slices: (N, H, W).
        - output: (N, C, H, W).

    Raises:
        GeometryError: ``slices`` is not (N, H, W).
        InvalidInputError: ``slices`` is not uint8.
        ConfigurationError: The model's output has the wrong shape or not ``n_channels``
            channels.
    """
    data = _check_slices(slices)
    out = np.zeros((data.shape[0], n_channels, data.shape[1], data.shape[2]), dtype=np.float32)
    for start, probabilities in _batches(
        model,
        data,
        image_size=image_size,
        zoom=zoom,
        batch_size=batch_size,
        device=device,
        amp=amp,
        channels_last=channels_last,
    ):
        _check_channels(probabilities.shape[1], n_channels)
        out[start : start + probabilities.shape[0]] = probabilities
    return out


def _check_channels(got: int, expected: int) -> None:
    if got != expected:
        raise ConfigurationError(
            f"the model predicts {got} channel(s) but the predictor expects {expected}; "
            "pass channels naming each of the model's outputs (e.g. ('WT', 'ET'))."
        )


def series_masks_to_nifti(masks: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Masks of a DICOM series in the NIfTI layout that the series' affine maps.

    Args:
        masks: Masks in the series' layout, from :meth:`MaskPredictor.predict_series`.

    Returns:
        A view, ``masks.transpose(0, 3, 2, 1)`` (as
        :meth:`~radiogenomics.io.DicomSeries.to_nifti_array` for the pixels).

    Shape:
        - masks: (C, S, R, Cols).
        - output: (C, Cols, R, S).
    """
    data = np.asarray(masks)
    if data.ndim != 4:
        raise GeometryError(f"expected masks of shape (C, S, R, Cols); got {data.shape}.")
    return data.transpose(0, 3, 2, 1)


class MaskPredictor:
    """Predict WT/ET masks of volumes and DICOM series with a stage 1 model.

    The predictor is called with data and keeps the model as an attribute; the work is
    done by this module's functions. At construction the model is readied by
    :func:`prepare_inference_model`: moved to ``device`` and, with channels-last on,
    converted to that memory format (``Module.to``, in place); each prediction
    switches it to evaluation mode and restores its training flags afterwards.

    Args:
        model: Maps (N, 3, S, S) ImageNet-normalised images to (N, C, S, S) logits,
            one channel per name in ``channels``.
        image_size: The model's input side ``S`` (224 in the reference).
        zoom: The zoom factor about the slice centre (1.2 in the reference; 1 resizes
            only).
        threshold: A voxel is in a mask when its probability is strictly greater.
        batch_size: Slices per forward pass; results do not depend on it.
        device: The torch device to run on (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        amp: Mixed precision (:data:`InferenceAmp`): ``"auto"`` is bfloat16 on CUDA
            and full precision on CPU; ``"bf16"`` on CPU gives masks that may differ
            from float32 at voxels whose probability is within about 0.01 of
            ``threshold``.
        channels: The names of the model's output channels, in order.
        channels_last: Channels-last weights and batches; ``None`` means on for CUDA
            only.
        compile: Run the model through ``torch.compile`` (the first predictions
            compile it; ``predictor.model`` stays the plain module).
        cleanup: A clean-up of the thresholded masks of each stack of slices predicted
            (a call, a volume or a series), e.g.
            :class:`~radiogenomics.inference.MaskCleanup` to drop small connected
            components; ``None`` (the default, the seed's way) keeps the masks as
            thresholded. A 3D clean-up takes the slices of a call as neighbours in the
            order given: the stage 2 frame recipe (``FrameRecipe``) gives a series'
            non-blank slices in geometric order, and :meth:`predict_volume` and
            :meth:`predict_series` a whole volume or series.

    Raises:
        ConfigurationError: An option is out of range or ``device`` is not a device
            (``amp="fp16"`` needs CUDA).

    Example:
        >>> import numpy as np, segmentation_models_pytorch as smp  # doctest: +SKIP
        >>> model = smp.Unet("resnet18", encoder_weights=None, classes=2)  # doctest: +SKIP
        >>> predictor = MaskPredictor(model, image_size=64)  # doctest: +SKIP
        >>> predictor.predict_volume(np.random.rand(40, 48, 30), np.eye(4)).shape  # doctest: +SKIP
        (2, 40, 48, 30)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        image_size: int = 224,
        zoom: float = 1.2,
        threshold: float = 0.5,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        amp: InferenceAmp = "auto",
        channels: tuple[str, ...] = ("WT", "ET"),
        channels_last: bool | None = None,
        compile: bool = False,
        cleanup: MaskCleanup | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigurationError(
                f"model must be a torch.nn.Module; got {type(model).__name__}."
            )
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ConfigurationError(f"image_size={image_size!r} must be a positive integer.")
        check_zoom("zoom", zoom)
        check_range("threshold", threshold, low=0.0, high=1.0)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size={batch_size!r} must be a positive integer.")
        target = _device(device, use=True)
        resolve_inference_amp(amp, target)  # refuses a bad mode before any work
        if not channels or not all(isinstance(c, str) for c in channels):
            raise ConfigurationError(f"channels={channels!r} must name at least one channel.")
        use_channels_last = resolve_channels_last(channels_last, target)
        self._runner = prepare_inference_model(
            model, device=target, channels_last=use_channels_last, compile=compile
        )
        self.model = model
        self.image_size = image_size
        self.zoom = float(zoom)
        self.threshold = float(threshold)
        self.batch_size = batch_size
        self.device = target
        self.amp: InferenceAmp = amp
        self.channels = tuple(channels)
        self.channels_last = use_channels_last
        self.compile = compile
        if cleanup is not None and not isinstance(cleanup, MaskCleanup):
            raise ConfigurationError(
                f"cleanup={cleanup!r} must be a MaskCleanup (e.g. MaskCleanup(drop_below=50)) "
                "or None."
            )
        self.cleanup = cleanup

    def predict_slices(self, slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Probabilities of uint8 slices at their native size.

        See :func:`predict_slice_probabilities`.

        Args:
            slices: uint8 slices in [0, 255].

        Returns:
            float32 probabilities in [0, 1], one channel per name in :attr:`channels`.

        Shape:
            - slices: (N, H, W).
            - output: (N, C, H, W).
        """
        return predict_slice_probabilities(
            self._runner,
            slices,
            image_size=self.image_size,
            zoom=self.zoom,
            batch_size=self.batch_size,
            device=self.device,
            amp=self.amp,
            channels_last=self.channels_last,
            n_channels=len(self.channels),
        )

    def __call__(self, slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Masks of uint8 slices at their native size (a stage 2 mask function).

        Each slice is zoomed, predicted, mapped back and thresholded (strictly above
        :attr:`threshold`), batch by batch; the result does not depend on
        :attr:`batch_size`.

        Args:
            slices: uint8 slices in [0, 255].

        Returns:
            A new uint8 array of 0 and 1, one channel per name in :attr:`channels`.

        Raises:
            GeometryError: ``slices`` is not (N, H, W).
            InvalidInputError: ``slices`` is not uint8.

        Shape:
            - slices: (N, H, W).
            - output: (N, C, H, W).
        """
        data = np.asarray(slices)
        if data.ndim != 3:
            raise GeometryError(f"expected slices of shape (N, H, W); got {data.shape}.")
        if data.dtype != np.uint8:
            raise InvalidInputError(
                f"expected uint8 slices; got {data.dtype}. Normalise the whole volume or "
                "series first (radiogenomics.slicing.to_uint8)."
            )
        return self._slice_masks(data)

    def to_dict(self) -> dict[str, object]:
        """The settings that decide the masks (a recipe's record): the model's class, the
        input size, the zoom, the threshold, the channels and, when set, the clean-up."""
        record: dict[str, object] = {
            "model": type(self.model).__name__,
            "image_size": self.image_size,
            "zoom": self.zoom,
            "threshold": self.threshold,
            "channels": list(self.channels),
        }
        if self.cleanup is not None:
            record["cleanup"] = self.cleanup.to_dict()
        return record

    def _slice_masks(self, slices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Thresholded (and cleaned-up) masks of (N, H, W) slices: (N, C, H, W)."""
        n, height, width = slices.shape
        out = np.zeros((n, len(self.channels), height, width), dtype=np.uint8)
        for start, probabilities in _batches(
            self._runner,
            slices,
            image_size=self.image_size,
            zoom=self.zoom,
            batch_size=self.batch_size,
            device=self.device,
            amp=self.amp,
            channels_last=self.channels_last,
        ):
            _check_channels(probabilities.shape[1], len(self.channels))
            masks = threshold_probabilities(probabilities, threshold=self.threshold)
            out[start : start + masks.shape[0]] = masks
        return out if self.cleanup is None else self.cleanup(out)

    def predict_volume(
        self,
        volume: npt.NDArray[Any],
        affine: npt.NDArray[np.floating],
        *,
        plane: Plane | None = None,
        orientation: Orientation = "native",
    ) -> npt.NDArray[np.uint8]:
        """Masks of a 3D volume, aligned voxel for voxel with it.

        The whole volume is min-max normalised to uint8
        (:func:`~radiogenomics.slicing.to_uint8`), cut along the array axis of ``plane``
        (found from ``affine``), each slice laid out as ``orientation`` says (the layout
        the model was trained on), predicted, thresholded and written back through the
        same layout, so the masks line up with ``volume`` whatever the layout.

        Args:
            volume: Intensities of any real dtype.
            affine: The 4x4 voxel-to-world (RAS+) affine of ``volume``.
            plane: The anatomical plane to slice along; ``None`` means ``"axial"``.
                For a DICOM series, :meth:`predict_series` slices along the
                acquisition plane.
            orientation: ``"native"`` (stored array axes, as the released code) or
                ``"radiological"`` (see :data:`~radiogenomics.slicing.Orientation`).

        Returns:
            A new uint8 array of 0 and 1, one channel per name in :attr:`channels`.

        Shape:
            - volume: (X, Y, Z).
            - affine: (4, 4).
            - output: (C, X, Y, Z).

        Raises:
            GeometryError: ``volume`` is not 3D or ``affine`` is not a non-singular 4x4.
            ConfigurationError: Unknown ``plane`` or ``orientation``.
        """
        chosen: Plane = "axial" if plane is None else plane
        check_choice("plane", chosen, PLANES)
        check_choice("orientation", orientation, _ORIENTATIONS)
        data = np.asarray(volume)
        matrix = np.asarray(affine, dtype=np.float64)
        if data.ndim != 3 or 0 in data.shape:
            raise GeometryError(f"expected a non-empty 3D volume (X, Y, Z); got {data.shape}.")
        if matrix.shape != (4, 4):
            raise GeometryError(f"expected a 4x4 affine; got shape {matrix.shape}.")
        layout = slice_layout(matrix, chosen, orientation=orientation)
        normalised = to_uint8(data)
        slices = np.stack(
            [layout.apply(normalised, k) for k in range(normalised.shape[layout.axis])]
        )
        masks = self._slice_masks(slices)
        out = np.zeros((len(self.channels), *data.shape), dtype=np.uint8)
        for k, mask in enumerate(masks):
            layout.apply(out, k)[...] = mask  # a view: writes through the same layout
        return out

    def predict_series(self, series: DicomSeries) -> npt.NDArray[np.uint8]:
        """Masks of a DICOM series, along its own acquisition plane.

        The whole series is min-max normalised to uint8 and each slice ``pixels[k]`` is
        predicted as the DICOM viewer shows it (rows, columns), as the reference's
        stage 2 does. Use :func:`series_masks_to_nifti` for the layout of
        :attr:`~radiogenomics.io.DicomSeries.affine`.

        Args:
            series: The series, from :func:`~radiogenomics.io.read_dicom_series`.

        Returns:
            A new uint8 array of 0 and 1, one channel per name in :attr:`channels`.

        Shape:
            - series.pixels: (S, R, Cols).
            - output: (C, S, R, Cols).
        """
        slices = to_uint8(series.pixels)
        return np.ascontiguousarray(self._slice_masks(slices).transpose(1, 0, 2, 3))

    def predict_record(
        self,
        record: VolumeRecord,
        *,
        plane: Plane | None = None,
        orientation: Orientation = "native",
    ) -> VolumeRecord:
        """A copy of ``record`` whose masks are predicted (see :meth:`predict_volume`).

        Args:
            record: The volume; its masks, if any, are replaced in the copy.
            plane: As in :meth:`predict_volume`.
            orientation: As in :meth:`predict_volume`.

        Returns:
            A new record with ``masks`` of shape (C, X, Y, Z) and ``mask_channels`` =
            :attr:`channels`; ``record`` is unchanged.
        """
        masks = self.predict_volume(
            record.image, record.affine, plane=plane, orientation=orientation
        )
        return record.replace(masks=masks, mask_channels=self.channels)

    def __repr__(self) -> str:
        defaults: dict[str, tuple[object, object]] = {
            "image_size": (self.image_size, 224),
            "zoom": (self.zoom, 1.2),
            "threshold": (self.threshold, 0.5),
            "batch_size": (self.batch_size, 32),
            "device": (str(self.device), "cpu"),
            "amp": (self.amp, "auto"),
            "channels": (self.channels, ("WT", "ET")),
            "channels_last": (self.channels_last, self.device.type == "cuda"),
            "compile": (self.compile, False),
            "cleanup": (self.cleanup, None),
        }
        shown = [f"model={type(self.model).__name__}"]
        shown += [f"{k}={v!r}" for k, (v, d) in defaults.items() if v != d]
        return f"MaskPredictor({', '.join(shown)})"
