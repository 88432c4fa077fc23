"""The library's one exception hierarchy.

Every error raised on purpose by radiogenomics derives from :class:`RadiogenomicsError`
and also from the builtin that fits (``ValueError``, ``FileNotFoundError``, ...), so
callers can catch either. Messages say what was received, what was expected and how to
fix it, and name the file and patient involved whenever they are known.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigurationError",
    "CorruptFileError",
    "GeometryError",
    "InputNotFoundError",
    "InvalidInputError",
    "LabelError",
    "MissingDecoderError",
    "MissingDependencyError",
    "RadiogenomicsError",
    "StepError",
    "StorageError",
]


class RadiogenomicsError(Exception):
    """Base class of every error raised on purpose by radiogenomics.

    Args:
        message: What went wrong, what was expected and how to fix it.
        path: The file or folder involved, when known.
        patient_id: The patient (case) involved, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        patient_id: str | None = None,
    ) -> None:
        self.message = message
        self.patient_id = patient_id
        self.path = Path(path) if path is not None else None
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.patient_id is not None:
            where.append(f"patient {self.patient_id}")
        if self.path is not None:
            where.append(f"file {self.path}")
        prefix = f"[{', '.join(where)}] " if where else ""
        return prefix + self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the keyword-only fields when the error crosses a process boundary
        # (multiprocessing pickles exceptions raised in workers).
        return (_rebuild, (type(self), self.message, self.path, self.patient_id))


def _rebuild(
    cls: type[RadiogenomicsError], message: str, path: Path | None, patient_id: str | None
) -> RadiogenomicsError:
    return cls(message, path=path, patient_id=patient_id)


class InvalidInputError(RadiogenomicsError, ValueError):
    """The input data is readable but not valid (shape, values, dtype, content)."""


class InputNotFoundError(RadiogenomicsError, FileNotFoundError):
    """A required file or folder (a modality, a series, a label file) is missing."""


class CorruptFileError(InvalidInputError):
    """A file exists but cannot be decoded (truncated, not the expected format)."""


class GeometryError(InvalidInputError):
    """Shapes, affines, orientations or slice positions are inconsistent."""


class LabelError(InvalidInputError):
    """A label map or label file holds values or identifiers that are not expected."""


class ConfigurationError(RadiogenomicsError, ValueError):
    """A component or command was configured with an invalid option."""


class MissingDecoderError(RadiogenomicsError, RuntimeError):
    """A DICOM transfer syntax needs a decoder package that is not installed.

    Subclasses ``RuntimeError``, which is what pydicom itself raises in that case.
    """


# ``ImportError.path`` is a ``str``; here, as everywhere in the hierarchy, it is a ``Path``.
class MissingDependencyError(RadiogenomicsError, ImportError):  # type: ignore[misc]
    """An optional package that a function needs is not installed.

    The message names the package and the ``pip install`` command of the extra that
    brings it (``pip install "radiogenomics[plots]"`` for matplotlib). Subclasses
    ``ImportError``, so ``except ImportError`` catches it too.

    Args:
        message: What is missing, what needs it and how to install it.
        path: The file or folder involved, when known.
        patient_id: The patient (case) involved, when known.
        name: The missing module (``ImportError.name``), e.g. ``"matplotlib"``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        patient_id: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(message, path=path, patient_id=patient_id)
        # ImportError.__init__ resets its own ``name`` and ``path``; set them again.
        self.path = Path(path) if path is not None else None
        self.name = name

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_missing, (self.message, self.path, self.patient_id, self.name))


def _rebuild_missing(
    message: str, path: Path | None, patient_id: str | None, name: str | None
) -> MissingDependencyError:
    return MissingDependencyError(message, path=path, patient_id=patient_id, name=name)


class StepError(RadiogenomicsError, RuntimeError):
    """A pipeline step failed on an unexpected error.

    Errors from this hierarchy pass through a :class:`~radiogenomics.Pipeline`
    unchanged (with a note naming the step); any other exception is wrapped in this
    class, which names the step and the record, and keeps the original as ``__cause__``.
    """


class StorageError(RadiogenomicsError, OSError):
    """Output could not be written (disk full, quota reached, folder not writable).

    Batch commands stop at the first one (every further case would fail too); the cases
    finished before it are kept, and rerunning the same command resumes. The original
    ``OSError`` is kept as ``__cause__`` and its number as ``errno``.

    Args:
        message: What could not be written, why, and what to do.
        path: The file or folder being written.
        patient_id: The patient (case) being written, when known.
        errno: The ``OSError`` number (``errno.ENOSPC`` for a full disk), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        patient_id: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message, path=path, patient_id=patient_id)
        self.errno = errno

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_storage, (self.message, self.path, self.patient_id, self.errno))


def _rebuild_storage(
    message: str, path: Path | None, patient_id: str | None, errno: int | None
) -> StorageError:
    return StorageError(message, path=path, patient_id=patient_id, errno=errno)
