"""Bookkeeping shared by the preparation jobs of both stages.

Starting an output folder (``--overwrite``, the ``prepare-config.json`` that a rerun
must match) and writing CSV files atomically, ``failures.csv`` included.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from radiogenomics.errors import ConfigurationError

__all__ = ["check_prep_config", "write_failures", "write_rows", "write_rows_atomic"]


class _PrepConfig(Protocol):
    """A preparation settings dataclass that writes itself as JSON."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_json(self) -> str:
        """The settings as JSON (what ``prepare-config.json`` holds)."""
        ...


_C = TypeVar("_C", bound=_PrepConfig)


def check_prep_config(
    out: Path, config: _C, load: Callable[[Path], _C], *, overwrite: bool
) -> None:
    """Start an output folder, or check that it was prepared with ``config``.

    Deletes ``out`` first when ``overwrite``, creates it, then compares
    ``out/prepare-config.json`` with ``config`` (writing it when absent).

    Args:
        out: The output folder.
        config: The settings of this run.
        load: Reads the settings of a ``prepare-config.json``.
        overwrite: Delete ``out`` first.

    Raises:
        ConfigurationError: ``out`` was prepared with other settings.
    """
    path = out / "prepare-config.json"
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        previous = load(path)
        if previous != config:
            changed = [
                f"{f.name}: {getattr(previous, f.name)!r} -> {getattr(config, f.name)!r}"
                for f in dataclasses.fields(config)
                if getattr(previous, f.name) != getattr(config, f.name)
            ]
            raise ConfigurationError(
                "this folder was prepared with other settings (" + "; ".join(changed) + "). "
                "Use another --out, or --overwrite to start again.",
                path=out,
            )
    else:
        path.write_text(config.to_json() + "\n", encoding="utf-8")


def write_rows(path: Path, fields: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write a CSV file with a header line (``\\n`` line ends)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_rows_atomic(path: Path, fields: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """:func:`write_rows` to a temporary name, then rename it to ``path`` (atomic)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write_rows(tmp, fields, rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_failures(out: Path, fields: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write ``out/failures.csv`` (atomically), or remove it when nothing failed.

    Args:
        out: The output folder.
        fields: The columns.
        rows: One row per failure; none removes a ``failures.csv`` left by an earlier run.
    """
    path = out / "failures.csv"
    if rows:
        write_rows_atomic(path, fields, rows)
    elif path.exists():
        path.unlink()
