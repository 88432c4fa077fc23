"""The option types shared across the library, in one light module (no torch).

Each is a ``Literal`` of the values an option takes; the modules that use them re-export
them (``radiogenomics.data.chunks.LastChunkPolicy`` ...), and the settings classes
(:mod:`radiogenomics.training.settings`) read them to build the command line's choices.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["AmpMode", "AugmentOn", "LastChunkPolicy", "LossName", "SequenceHead"]

AmpMode = Literal["auto", "off", "bf16", "fp16"]
"""Mixed precision: ``"auto"`` (bf16 or fp16 on CUDA, off on CPU), ``"off"``, ``"bf16"``,
``"fp16"`` (CUDA only)."""

AugmentOn = Literal["loader", "device"]
"""Where training samples are augmented: ``"loader"`` (per item, NumPy and OpenCV, in the
loader workers; the reference) or ``"device"`` (per batch, torch, on the training
device; :class:`~radiogenomics.training.augment.DeviceAugment`)."""

LastChunkPolicy = Literal["pad", "shift"]
"""What to do with the last chunk of a series — pad it at its end (the reference) or
shift it back to end at the series end."""

LossName = Literal["dice", "bce-dice"]
"""The stage 1 training loss: soft Dice with the channels pooled (the reference), or
binary cross-entropy plus Dice."""

SequenceHead = Literal["concat", "pooled"]
"""How the LSTM outputs become one logit — all time steps concatenated (the reference) or
their mean over valid frames."""
