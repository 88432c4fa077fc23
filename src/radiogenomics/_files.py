"""Reading the library's small bookkeeping files (JSON settings, digests) strictly.

A damaged settings file is a :class:`~radiogenomics.errors.CorruptFileError` naming the
file, never a silent default: a run whose ``config.json`` cannot be read must not be
used as if it recorded nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from radiogenomics.errors import CorruptFileError, InputNotFoundError

__all__ = ["file_digest", "read_json_object"]


def read_json_object(path: str | os.PathLike[str], *, what: str, fix: str) -> dict[str, Any]:
    """Read a JSON file that must hold an object.

    Args:
        path: The file.
        what: What the file is, for the messages ("the run's settings").
        fix: What to do when it cannot be read (ends the message).

    Returns:
        The object.

    Raises:
        InputNotFoundError: The file does not exist.
        CorruptFileError: The file is not UTF-8 JSON, or holds something else than an
            object.
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputNotFoundError(f"{what} not found. {fix}", path=source) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CorruptFileError(
            f"cannot read {what}: not valid JSON ({type(error).__name__}: {error}). {fix}",
            path=source,
        ) from None
    if not isinstance(data, dict):
        raise CorruptFileError(
            f"{what} should be a JSON object; found {type(data).__name__}. {fix}", path=source
        )
    return data


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
