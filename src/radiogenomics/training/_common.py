"""Helpers shared by the training loops of both stages.

Device and mixed-precision resolution, deterministic execution, saving and restoring
every random state (for exact resumption), atomic checkpoint writes (safetensors
weights, a ``torch.save`` state read back with ``weights_only=True``), the
``metrics.jsonl`` history, and the end-of-epoch bookkeeping (best checkpoint, early
stopping, the files of a run folder). This module imports torch.

An epoch is committed in this order, so that a crash at any point resumes to the run
an uninterrupted process would have made:

1. its line is appended to ``metrics.jsonl`` (a resumed run keeps only the lines up to
   the state's epoch, so a line without its state is written again);
2. ``last.state.pt`` is renamed into place: **the commit point**. It holds the model's
   weights with everything else (optimizer, counters, random states), so a resumed run
   never pairs one epoch's state with another epoch's weights;
3. ``last.safetensors``, then ``best.safetensors`` (when the epoch improved), for users.
   A resumed run rewrites either from the state when a crash left it behind
   (:func:`repair_weight_files`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiogenomics._atomic import storage_errors
from radiogenomics._device import AmpMode, resolve_amp, resolve_device
from radiogenomics._outputs import check_apart
from radiogenomics.errors import ConfigurationError, CorruptFileError

__all__ = [
    "AmpMode",
    "EarlyStopping",
    "RunFiles",
    "append_history",
    "check_resume",
    "deterministic",
    "digest",
    "load_model_state",
    "load_rng_state",
    "open_run_folder",
    "read_history",
    "read_training_state",
    "repair_weight_files",
    "resolve_amp",
    "resolve_device",
    "rng_state",
    "save_state",
    "save_weights",
    "seed_everything",
    "user_model_name",
    "weight_tensors",
    "write_epoch_checkpoint",
    "write_text",
]


@contextmanager
def deterministic() -> Iterator[None]:
    """Run the block with deterministic cuDNN kernels (restored afterwards)."""
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def user_model_name(model: torch.nn.Module) -> str:
    """How a run names the user's model: its class, as ``module.QualifiedName``, and its
    backbone's when it has one (``...SequenceClassifier(backbone=SmallCNN)``)."""
    kind = type(model)
    name = f"{kind.__module__}.{kind.__qualname__}"
    backbone = getattr(model, "backbone_name", None)
    return f"{name}(backbone={backbone})" if isinstance(backbone, str) else name


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


def weight_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict on the CPU, contiguous (what the checkpoints hold)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_weights(
    tensors: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str]
) -> None:
    """Write CPU tensors (:func:`weight_tensors`) as safetensors with string metadata,
    atomically."""
    from safetensors.torch import save

    tmp = _atomic(path)
    try:
        # Bytes written by us (not save_file, which makes owner-only files) honour umask.
        tmp.write_bytes(save(dict(tensors), metadata=dict(metadata)))
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
    """The lines of a ``metrics.jsonl`` whose ``epoch`` is at most ``until``.

    A last line cut short (a process killed while appending it) belongs to an epoch
    that was never committed and is dropped.

    Raises:
        CorruptFileError: Another line is not a JSON object with an ``epoch``.
    """
    if not path.is_file():
        return []
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    history: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        try:
            line = json.loads(text)
            epoch = int(line["epoch"])
        except (ValueError, TypeError, KeyError) as error:
            if number == len(lines):
                break
            raise CorruptFileError(
                f"line {number} of the history is not an epoch's JSON line ({error}); "
                "delete the damaged line, or the file (the resumed run then logs only the "
                "epochs it runs).",
                path=path,
            ) from error
        if epoch <= until:
            history.append(line)
    return history


def digest(items: Sequence[object]) -> str:
    """A short, stable fingerprint of a sequence (of indices or identifiers)."""
    return hashlib.sha256(",".join(map(str, items)).encode()).hexdigest()[:16]


@dataclass
class EarlyStopping:
    """The best epoch so far and the early-stopping counter of a training loop.

    An epoch improves when its validation loss is strictly lower than the best so far;
    the run stops after ``patience`` epochs in a row without improvement.

    Attributes:
        patience: Epochs without improvement before stopping; ``None`` never stops.
        best_loss: The lowest validation loss so far (``inf`` before the first epoch).
        best_epoch: Its epoch, 1-based (0 before the first epoch).
        best_scores: Its validation scores.
        bad_epochs: Epochs since the last improvement.
        stopped: Whether the run is to stop.
    """

    patience: int | None
    best_loss: float = math.inf
    best_epoch: int = 0
    best_scores: dict[str, float] = field(default_factory=dict)
    bad_epochs: int = 0
    stopped: bool = False

    def update(self, epoch: int, val_loss: float, scores: dict[str, float]) -> bool:
        """Record a finished epoch.

        Args:
            epoch: The epoch, 1-based.
            val_loss: Its validation loss.
            scores: Its validation scores (kept as the best ones when it improved).

        Returns:
            Whether the epoch improved on the best validation loss (strictly).
        """
        improved = val_loss < self.best_loss
        if improved:
            self.best_loss, self.best_epoch, self.best_scores = val_loss, epoch, scores
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        self.stopped = self.patience is not None and self.bad_epochs >= self.patience
        return improved

    def state(self) -> dict[str, Any]:
        """The counters as training-state entries (what :meth:`restore` reads)."""
        return {
            "best_val_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "best_scores": json.dumps(self.best_scores),
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take the counters back from a training state saved with :meth:`state`."""
        self.best_loss, self.best_epoch = state["best_val_loss"], state["best_epoch"]
        self.bad_epochs, self.stopped = state["bad_epochs"], state["stopped"]
        self.best_scores = json.loads(state["best_scores"])


@dataclass(frozen=True)
class RunFiles:
    """The files of a training run folder.

    Attributes:
        folder: The run folder.
    """

    folder: Path

    @property
    def last(self) -> Path:
        """The weights of the last completed epoch."""
        return self.folder / "last.safetensors"

    @property
    def state(self) -> Path:
        """The training state of the last completed epoch (for resuming)."""
        return self.folder / "last.state.pt"

    @property
    def best(self) -> Path:
        """The weights of the epoch with the lowest validation loss."""
        return self.folder / "best.safetensors"

    @property
    def log(self) -> Path:
        """The metrics history, one JSON line per epoch."""
        return self.folder / "metrics.jsonl"


def open_run_folder(
    out: Path, *, resume: bool, data_dir: Path | None = None
) -> tuple[RunFiles, bool]:
    """Create a run folder, refusing one that holds a run unless resuming.

    A folder holds a run when it has ``last.state.pt`` (the commit point; the weight
    files are rewritten from it, see :func:`repair_weight_files`). When resuming, the
    temporary files (``.<name>.<random>.tmp``) that a killed run left are removed. The
    folder is checked to be writable here, before any training.

    Args:
        out: The run folder.
        resume: Whether an existing run may be continued.
        data_dir: The training data, which ``out`` must stay apart from.

    Returns:
        ``(files, has_run)``: the folder's files, and whether it holds a run to resume.

    Raises:
        ConfigurationError: The folder holds a run and ``resume`` is false, ``out`` is a
            file, or ``out`` is, holds or lies inside ``data_dir``.
        StorageError: ``out`` cannot be created or written (read-only, full disk).
    """
    check_apart(out, [("--data", data_dir)])
    if out.exists() and not out.is_dir():
        raise ConfigurationError(
            "--out names a file; a training run needs a folder. Choose another --out.",
            path=out,
        )
    files = RunFiles(out)
    has_run = files.state.is_file()
    if has_run and not resume:
        raise ConfigurationError(
            "this folder already holds a training run; pass --resume to continue it, or "
            "choose another --out.",
            path=out,
        )
    advice = "Choose a writable --out (and free some space if the disk is full)."
    with storage_errors(out, what="the run folder", advice=advice):
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check.", suffix=".tmp"):
            pass
    if resume:
        for leftover in out.glob(".*.tmp"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
    return files, has_run


# Entries every training state holds (a file without them is not one).
_STATE_KEYS = ("epoch", "optimizer", "rng", "train_config", "split_digest", "best_epoch")


def read_training_state(path: Path) -> dict[str, Any]:
    """Read ``last.state.pt`` without executing code (``torch.load(weights_only=True)``).

    Raises:
        CorruptFileError: The file holds Python objects other than tensors, numbers,
            strings and plain containers (refused, naming the object; nothing runs), is
            damaged, or is not a training state.
    """
    from radiogenomics.models.segmentation import refused_pickle_error

    fix = (
        "Delete the run folder's last.safetensors and last.state.pt to start it afresh, or "
        "run without --resume into another --out."
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise refused_pickle_error(error, path) from None
    except Exception as error:  # torch raises RuntimeError, EOFError, OSError ...
        first = str(error).splitlines()[0][:200] if str(error) else ""
        raise CorruptFileError(
            f"cannot read the training state ({type(error).__name__}: {first}); the file is "
            f"damaged or was not written by radiogenomics. {fix}",
            path=path,
        ) from None
    missing = [k for k in _STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CorruptFileError(
            f"not a training state: no {', '.join(missing)} entry "
            f"(found {type(state).__name__}). {fix}",
            path=path,
        )
    result: dict[str, Any] = state
    return result


def load_model_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path, *, hint: str
) -> None:
    """Load a whole-model state dict read from ``path`` into ``model`` (strictly).

    Args:
        model: The model to fill, in place.
        state: The tensors read from the file.
        path: The file (named in the error).
        hint: What to do when they do not fit (ends the message).

    Raises:
        ConfigurationError: The tensors do not fit the model; the message names the
            missing, unexpected and mis-shaped ones.
    """
    from radiogenomics.models.segmentation import describe_state_mismatch

    problems = describe_state_mismatch(model.state_dict(), state)
    if problems:
        raise ConfigurationError(
            f"the weights do not fit the model ({'; '.join(problems)}). {hint}", path=path
        )
    model.load_state_dict(dict(state), strict=True)


def _weights_epoch(path: Path) -> int | None:
    """The ``epoch`` metadata of a weights file (None: missing or unreadable)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return int((handle.metadata() or {})["epoch"])
    except Exception:  # safetensors raises its own error types; any failure: rewrite
        return None


def repair_weight_files(files: RunFiles, state: Mapping[str, Any]) -> list[Path]:
    """Rewrite the weight files that a crash left behind the committed state.

    ``last.safetensors`` is rewritten unless it holds the state's epoch;
    ``best.safetensors`` too when the state's epoch is the best one. They get the
    tensors and metadata the interrupted run would have written. A state written before
    states held the weights repairs nothing.

    Args:
        files: The run folder's files.
        state: The training state (:func:`read_training_state`).

    Returns:
        The files rewritten.
    """
    if "model" not in state or "weights_metadata" not in state:
        return []
    epoch = int(state["epoch"])
    stale = [files.last] if _weights_epoch(files.last) != epoch else []
    if int(state["best_epoch"]) == epoch and _weights_epoch(files.best) != epoch:
        stale.append(files.best)
    metadata = json.loads(state["weights_metadata"])
    for path in stale:
        save_weights(state["model"], path, metadata)
    return stale


def write_epoch_checkpoint(
    files: RunFiles,
    model: torch.nn.Module,
    *,
    epoch: int,
    val_loss: float,
    scores: Mapping[str, float],
    improved: bool,
    metadata: Mapping[str, str],
    training: Mapping[str, Any],
    stopping: EarlyStopping,
    settings: Mapping[str, str],
) -> None:
    """Write the checkpoints of a finished epoch: the state, last and best (if improved).

    The state is written first: it is the commit point (see the module notes). It holds,
    in order: ``epoch``, ``model`` (:func:`weight_tensors`), ``weights_metadata`` (the
    weights files' metadata, as JSON), the ``training`` entries, the
    :meth:`EarlyStopping.state` counters, ``rng`` (:func:`rng_state`) and the
    ``settings`` entries.

    Args:
        files: The run folder's files.
        model: The model, whose weights are saved.
        epoch: The epoch, 1-based.
        val_loss: Its validation loss.
        scores: Its validation scores.
        improved: Whether it improved (``best.safetensors`` is then rewritten).
        metadata: The weights' metadata shared by every epoch (format, settings).
        training: The state dicts to resume from (optimizer, scheduler, scaler ...).
        stopping: The early-stopping counters, after this epoch.
        settings: JSON strings that a resumed run must match (settings, split digest).
    """
    epoch_meta = {
        **metadata,
        "epoch": str(epoch),
        "val_loss": repr(val_loss),
        "scores": json.dumps(scores),
    }
    weights = weight_tensors(model)
    save_state(
        {
            "epoch": epoch,
            "model": weights,
            "weights_metadata": json.dumps(epoch_meta),
            **training,
            **stopping.state(),
            "rng": rng_state(),
            **settings,
        },
        files.state,
    )
    save_weights(weights, files.last, epoch_meta)
    if improved:
        save_weights(weights, files.best, epoch_meta)


def append_history(path: Path, history: list[dict[str, Any]], line: dict[str, Any]) -> None:
    """Add an epoch's line to ``history`` and to the ``metrics.jsonl`` at ``path``."""
    history.append(line)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def check_resume(
    state: Mapping[str, Any],
    train_config: Mapping[str, Any],
    split_digest: str,
    path: Path,
    *,
    resumable: frozenset[str],
    more: Sequence[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Refuse to resume a run whose settings or split differ from the saved state's.

    Args:
        state: The saved training state (its ``train_config`` and ``split_digest``).
        train_config: The training settings of this run, as a dict.
        split_digest: The fingerprint of this run's train/validation split.
        path: The run folder (named in the error).
        resumable: The settings that may change.
        more: Other differences found by the caller (listed before the split's).
        defaults: Values of settings that the saved run does not record (settings added
            since it was written); default: none.

    Raises:
        ConfigurationError: Something other than ``resumable`` settings differs.
    """
    saved = {**(defaults or {}), **json.loads(state["train_config"])}
    diffs = [
        f"{k}: {saved.get(k)!r} -> {v!r}"
        for k, v in train_config.items()
        if k not in resumable and saved.get(k) != v
    ]
    diffs += more
    if state["split_digest"] != split_digest:
        diffs.append("the train/validation split differs (other data or split settings)")
    if diffs:
        raise ConfigurationError(
            "cannot resume: settings differ from the interrupted run (" + "; ".join(diffs) + "). "
            f"Only {sorted(resumable)} may change; use another --out to start afresh.",
            path=path,
        )
