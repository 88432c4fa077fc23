"""Atomic file writes (a file appears complete or not at all) and write-error reporting."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from radiogenomics.errors import RadiogenomicsError, StorageError

__all__ = ["BATCH_ADVICE", "atomic_target", "atomic_text", "storage_error", "storage_errors"]

_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})

BATCH_ADVICE = (
    "The cases finished before it are kept; free some space (or choose another --out) and "
    "rerun the same command: it resumes where it stopped."
)
"""What a batch command tells the user after a :class:`StorageError`."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def storage_error(
    error: OSError,
    *,
    path: str | os.PathLike[str],
    what: str,
    patient_id: str | None = None,
    advice: str = "Free some space, or write elsewhere, and try again.",
) -> StorageError:
    """The library error for an ``OSError`` raised while writing output.

    Args:
        error: The error raised by the write.
        path: The file or folder being written (named in the message rather than the
            temporary file that the write failed on).
        what: What was being written, for the message ("case BraTS2021_00006").
        patient_id: The patient, when known.
        advice: What to do, appended to the message.
    """
    if error.errno in _FULL:
        reason = "no space left on device (the disk is full or a quota is reached)"
    else:
        reason = f"the write failed ({error.strerror or type(error).__name__})"
    return StorageError(
        f"{reason} while writing {what}; nothing half-written is left behind. {advice}",
        path=Path(path),
        patient_id=patient_id,
        errno=error.errno,
    )


@contextmanager
def storage_errors(
    path: str | os.PathLike[str],
    *,
    what: str,
    patient_id: str | None = None,
    advice: str = "Free some space, or write elsewhere, and try again.",
) -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into a :class:`StorageError`.

    Library errors (:class:`~radiogenomics.errors.InputNotFoundError` is an ``OSError``
    too) pass through unchanged.

    Args:
        path: The file or folder being written.
        what: What is being written, for the message.
        patient_id: The patient, when known.
        advice: What to do, appended to the message.
    """
    try:
        yield
    except RadiogenomicsError:
        raise
    except OSError as error:
        raise storage_error(
            error, path=path, what=what, patient_id=patient_id, advice=advice
        ) from error


@contextmanager
def atomic_target(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary file (``.<name>.<random><suffix>``) lives in the same folder, so the
    final rename is atomic, and gets the permissions a plain ``open(path, "w")`` would
    give (``mkstemp`` makes files private). On any error the temporary file is removed
    and ``path`` is untouched; an ``OSError`` (a full disk) becomes a
    :class:`~radiogenomics.errors.StorageError` naming ``path``. A process killed
    mid-write can leave the temporary file behind, never a partial ``path``.

    Args:
        path: The file to write.
        suffix: Suffix of the temporary name (``".nii.gz"`` for writers that infer the
            format from the name).
    """
    target = Path(path)
    with storage_errors(target, what=f"the file {target.name}"):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
        os.close(handle)
        temporary = Path(name)
        try:
            yield temporary
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)


def atomic_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a UTF-8 text file atomically (see :func:`atomic_target`)."""
    with atomic_target(path, suffix=".tmp") as temporary:
        temporary.write_text(text, encoding="utf-8")
