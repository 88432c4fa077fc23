"""Torch devices named by the user, checked before any work (this module imports torch)."""

from __future__ import annotations

import torch

from radiogenomics._choices import AmpMode
from radiogenomics._options import check_choice
from radiogenomics.errors import ConfigurationError

__all__ = ["AmpMode", "resolve_amp", "resolve_device"]


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; other names as ``torch.device``.

    A CUDA device is checked to exist here, so that a machine without a GPU gets one
    clear error before anything is loaded, instead of torch's assertion deep inside.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or a ``torch.device``.

    Raises:
        ConfigurationError: Not a device, CUDA asked for but not available, or a CUDA
            index beyond the GPUs present.
    """
    if isinstance(name, str) and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ConfigurationError(
            f"device={name!r} is not a device ({error}); use 'auto', 'cpu' or 'cuda[:N]'."
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigurationError(
                f"device={str(name)!r} but CUDA is not available on this machine (no GPU, "
                "or a CPU-only build of torch); use --device cpu (or auto)."
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigurationError(
                f"device={str(name)!r} but this machine has {count} GPU(s) (cuda:0 to "
                f"cuda:{count - 1})."
            )
    return device


def resolve_amp(amp: AmpMode, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` setting on ``device`` (None: full precision).

    Raises:
        ConfigurationError: ``"fp16"`` on a device other than CUDA.
    """
    check_choice("amp", amp, ("auto", "off", "bf16", "fp16"))
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "fp16" and device.type != "cuda":
        raise ConfigurationError(
            f"amp='fp16' needs CUDA, but the device is {device}; use 'bf16' or 'off'."
        )
    return torch.bfloat16 if amp == "bf16" else torch.float16
