"""Where the library may write, and which folders it may delete or replace.

Two rules keep a user's data safe from the batch jobs:

* **Outputs stay apart from inputs.** An output (``--out``) that is an input, lies inside
  an input folder or contains an input is refused before anything is written:
  :func:`check_apart`.
* **The library deletes or replaces only what it wrote.** An output folder made by a
  job holds a marker file (:data:`MARKER_NAME`) naming the kind of folder. A job writes
  into an existing folder only when it is empty or carries the marker of the same kind,
  and ``--overwrite`` deletes only such a folder: :func:`claim_folder`. Inside it, a
  case or patient folder is replaced only when it holds the file that the job writes
  last (its "done" file, e.g. ``slices.csv``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from radiogenomics._atomic import BATCH_ADVICE, atomic_text, storage_errors
from radiogenomics._files import read_json_object
from radiogenomics.errors import ConfigurationError, CorruptFileError, RadiogenomicsError

__all__ = [
    "MARKER_NAME",
    "PARTIAL_DIR",
    "check_apart",
    "check_replaceable",
    "claim_folder",
    "folder_kind",
    "resolved",
]

PARTIAL_DIR = ".partial"
"""Folder of an output folder where cases are written before being renamed into place."""

MARKER_NAME = ".radiogenomics-output.json"
"""The marker file a job writes first into an output folder it creates."""

_MARKER_FORMAT = "radiogenomics.output/1"


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with symbolic links resolved (it need not exist)."""
    return Path(path).expanduser().resolve(strict=False)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_apart(
    out: str | os.PathLike[str],
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
    *,
    option: str = "--out",
    allow_inside: bool = False,
) -> None:
    """Refuse an output that is an input, lies inside an input folder or holds an input.

    Paths are compared after resolving symbolic links, so a link to an input folder is
    the input folder.

    Args:
        out: The output file or folder.
        inputs: ``(what, path)`` pairs, ``what`` naming the input in the message
            (``"--task1-dir"``); ``None`` paths are ignored.
        option: How the output is named in the message.
        allow_inside: Accept an ``out`` inside an input folder (when writing there
            cannot change what the input holds, e.g. a CSV beside patient folders).

    Raises:
        ConfigurationError: ``out`` is, lies inside, or contains one of ``inputs``.
    """
    target = resolved(out)
    for what, path in inputs:
        if path is None:
            continue
        source = resolved(path)
        if _same(target, source):
            problem = "is"
        elif source in target.parents and not allow_inside:
            problem = "lies inside"
        elif target in source.parents:
            problem = "contains"
        else:
            continue
        raise ConfigurationError(
            f"{option} {out} {problem} the input {what} ({path}); writing there could "
            f"overwrite or delete the input. Choose an {option} outside every input.",
            path=Path(out),
        )


def _read_marker(folder: Path) -> str | None:
    """The kind named by ``folder``'s marker, or ``None`` when it has none."""
    path = folder / MARKER_NAME
    if not path.is_file():
        return None
    fix = "Choose another output folder."
    kind = read_json_object(path, what="the marker of this output folder", fix=fix).get("kind")
    if not isinstance(kind, str):
        raise CorruptFileError(f"the marker of this output folder names no kind. {fix}", path=path)
    return kind


def folder_kind(folder: str | os.PathLike[str]) -> str | None:
    """The kind of output folder ``folder`` is (its marker), or ``None`` if unmarked.

    Raises:
        CorruptFileError: The marker exists but cannot be read.
    """
    return _read_marker(Path(folder))


def _write_marker(folder: Path, kind: str) -> None:
    text = json.dumps({"format": _MARKER_FORMAT, "kind": kind}, indent=2, sort_keys=True)
    atomic_text(folder / MARKER_NAME, text + "\n")


def claim_folder(
    out: str | os.PathLike[str],
    *,
    kind: str,
    overwrite: bool = False,
    adopt: Callable[[Path], bool] | None = None,
) -> Path:
    """Create an output folder, or check that this library made it, and mark it.

    A folder may be written into when it does not exist, is empty, or carries the
    marker of ``kind``; ``adopt`` may also accept an unmarked folder written by an
    older version (it is then marked). With ``overwrite``, such a folder is deleted and
    made again; any other folder is refused, never deleted.

    Args:
        out: The output folder.
        kind: What the folder holds (``"prepared-slices"``, ``"frame-store"``).
        overwrite: Delete the folder first (only when this library made it).
        adopt: Whether an unmarked, non-empty folder is one of ``kind`` written before
            markers existed.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: ``out`` is a file, holds files this library did not write,
            or is an output folder of another kind.
        CorruptFileError: ``out``'s marker cannot be read.
        StorageError: The folder cannot be created or deleted.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(
            f"the output folder {folder} is a file; choose a folder (new or empty).",
            path=folder,
        )
    ours = False
    if folder.is_dir():
        found = _read_marker(folder)
        if found is not None and found != kind:
            raise ConfigurationError(
                f"the output folder {folder} holds a {found} written by radiogenomics, not a "
                f"{kind}; choose another output folder.",
                path=folder,
            )
        if found == kind:
            ours = True
        else:
            entries = sorted(p.name for p in folder.iterdir() if not _leftover(p))
            if entries and adopt is not None and _adopts(adopt, folder):
                ours = True
                _write_marker(folder, kind)
            elif entries:
                shown = ", ".join(entries[:5]) + (" ..." if len(entries) > 5 else "")
                action = "delete it" if overwrite else "write into it"
                raise ConfigurationError(
                    f"the output folder {folder} holds files that radiogenomics did not write "
                    f"({len(entries)} entries: {shown}); refusing to {action}. Choose a new or "
                    "empty output folder.",
                    path=folder,
                )
    with storage_errors(folder, what="the output folder", advice=BATCH_ADVICE):
        if overwrite and ours:
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
    if _read_marker(folder) is None:
        _write_marker(folder, kind)
    return folder


def _leftover(path: Path) -> bool:
    """Whether ``path`` is what a run killed while writing the marker left behind."""
    name = path.name
    return path.is_file() and name.startswith(f".{MARKER_NAME}.") and name.endswith(".tmp")


def _adopts(adopt: Callable[[Path], bool], folder: Path) -> bool:
    try:
        return adopt(folder)
    except (RadiogenomicsError, OSError, ValueError):
        return False


def check_replaceable(target: Path, done_file: str) -> None:
    """Refuse to replace ``target`` unless a job of this library wrote it.

    Args:
        target: A case or patient folder about to be replaced.
        done_file: The file the job writes into every such folder.

    Raises:
        ConfigurationError: ``target`` exists without ``done_file``.
    """
    if target.exists() and not (target / done_file).is_file():
        raise ConfigurationError(
            f"{target} exists but was not written by radiogenomics (it has no {done_file}); "
            "refusing to replace it. Move it out of the output folder and rerun.",
            path=target,
        )
