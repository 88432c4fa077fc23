"""Helpers shared by the training loops of both stages.

Device and mixed-precision resolution, deterministic execution, saving and restoring
every random state (for exact resumption), atomic checkpoint writes (safetensors
weights, a ``torch.save`` state read back with ``weights_only=True``) and the
``metrics.jsonl`` history. This module imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from radiogenomics._options import check_choice
from radiogenomics.errors import ConfigurationError

__all__ = [
    "AmpMode",
    "deterministic",
    "digest",
    "load_rng_state",
    "read_history",
    "resolve_amp",
    "resolve_device",
    "rng_state",
    "save_state",
    "save_weights",
    "seed_everything",
    "write_text",
]

AmpMode = Literal["auto", "off", "bf16", "fp16"]
"""Mixed precision: ``"auto"`` (bf16 or fp16 on CUDA, off on CPU), ``"off"``, ``"bf16"``,
``"fp16"`` (CUDA only)."""


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; other names as ``torch.device``.

    Raises:
        ConfigurationError: Unknown device, or CUDA asked for but not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigurationError(
            f"device={name!r} is not a device ({error}); use 'auto', 'cpu' or 'cuda[:N]'."
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device={name!r} but CUDA is not available; use 'cpu'.")
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


@contextmanager
def deterministic() -> Iterator[None]:
    """Run the block with deterministic cuDNN kernels (restored afterwards)."""
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def seed_everything(seed: int) -> None:
    """Seed torch's, NumPy's and Python's global generators (before building a model)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    random.seed(seed)


def rng_state() -> dict[str, Any]:
    """Every global random state, in a form ``torch.load(weights_only=True)`` reads back."""
    # The library draws from explicit generators only; the global ones are saved and
    # restored because third-party code (initialisers, dropout, user hooks) draws from them.
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": random.getstate(),
    }


def load_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _atomic(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def save_weights(model: torch.nn.Module, path: Path, metadata: Mapping[str, str]) -> None:
    """Write the model's state dict as safetensors with string metadata, atomically."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = _atomic(path)
    try:
        # Bytes written by us (not save_file, which makes owner-only files) honour umask.
        tmp.write_bytes(save(tensors, metadata=dict(metadata)))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_state(state: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` a training state atomically (tensors, numbers, strings only)."""
    tmp = _atomic(path)
    try:
        torch.save(dict(state), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    tmp = _atomic(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_history(path: Path, *, until: int) -> list[dict[str, Any]]:
    """The lines of a ``metrics.jsonl`` whose ``epoch`` is at most ``until``."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    history = [json.loads(x) for x in lines if x.strip()]
    return [h for h in history if h["epoch"] <= until]


def digest(items: Sequence[object]) -> str:
    """A short, stable fingerprint of a sequence (of indices or identifiers)."""
    return hashlib.sha256(",".join(map(str, items)).encode()).hexdigest()[:16]
