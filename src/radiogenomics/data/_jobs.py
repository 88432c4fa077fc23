"""Bookkeeping shared by the preparation jobs of both stages.

Starting an output folder (``--overwrite``, the ``prepare-config.json`` that a rerun
must match, removing what a killed run left half-written) and writing CSV files
atomically, ``failures.csv`` included.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, as_completed
from pathlib import Path
from typing import Any, TypeVar

from radiogenomics._atomic import atomic_target, atomic_text
from radiogenomics._files import read_json_object
from radiogenomics._outputs import PARTIAL_DIR, check_apart, claim_folder
from radiogenomics.errors import (
    ConfigurationError,
    StorageError,
)

__all__ = [
    "PARTIAL_DIR",
    "check_prep_config",
    "init_worker",
    "remove_leftovers",
    "run_jobs",
    "worker_count",
    "write_failures",
    "write_rows",
    "write_rows_atomic",
]


def _changes(previous: Any, current: Any, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs between two records."""
    if isinstance(previous, dict) and isinstance(current, dict):
        return [
            change
            for key in sorted(set(previous) | set(current))
            for change in _changes(previous.get(key), current.get(key), f"{prefix}{key}.")
        ]
    if previous != current:
        return [f"{prefix.rstrip('.')}: {previous!r} -> {current!r}"]
    return []


def check_prep_config(
    out: Path,
    record: Mapping[str, Any],
    *,
    kind: str,
    overwrite: bool,
    inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
) -> None:
    """Start an output folder, or check that it was prepared with the same recipe.

    Refuses an ``out`` that is, contains or lies inside one of ``inputs``, and any
    existing folder that this library did not make (see
    :func:`~radiogenomics._outputs.claim_folder`); with ``overwrite``, deletes a folder
    it made first. Then compares ``out/prepare-config.json`` with ``record`` (writing it
    when absent, as sorted, indented JSON).

    Args:
        out: The output folder.
        record: The recipe's record (its settings, or its steps), JSON-ready.
        kind: The kind of output folder (its marker).
        overwrite: Delete ``out`` first (only a folder of ``kind`` this library made).
        inputs: ``(option, path)`` of the job's inputs, which ``out`` must stay apart from.

    Raises:
        ConfigurationError: ``out`` is or holds an input, holds files this library did
            not write, or was prepared with another recipe (naming each change).
        CorruptFileError: ``out``'s ``prepare-config.json`` cannot be read.
    """
    path = out / "prepare-config.json"
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    current = json.loads(text)  # tuples as lists, as the file holds them
    check_apart(out, inputs)

    def written_before_markers(folder: Path) -> bool:
        settings = folder / "prepare-config.json"
        return settings.is_file() and _read_record(settings) is not None

    claim_folder(out, kind=kind, overwrite=overwrite, adopt=written_before_markers)
    if path.is_file():
        previous = _read_record(path)
        if previous != current:
            raise ConfigurationError(
                "this folder was prepared with other settings ("
                + "; ".join(_changes(previous, current))
                + "). Use another --out, or --overwrite to start again.",
                path=out,
            )
    else:
        atomic_text(path, text)


def _read_record(path: Path) -> dict[str, Any]:
    return read_json_object(
        path,
        what="the settings of this folder (was it written by radiogenomics?)",
        fix="Use another --out, or --overwrite to start again.",
    )


def remove_leftovers(out: Path) -> None:
    """Remove what a killed run left half-written in ``out``.

    That is ``out/.partial/`` (cases being written) and the temporary files of atomic
    writes (``out/.<name>.<random>.tmp``). Finished files are never touched.

    Args:
        out: The output folder.
    """
    shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
    for leftover in out.glob(".*.tmp"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def write_rows(path: Path, fields: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write a CSV file with a header line (``\\n`` line ends).

    Text that is not UTF-8 (a file name with undecodable bytes, kept by Python as
    surrogates) is written with backslash escapes rather than failing the write.
    """
    with path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_rows_atomic(path: Path, fields: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """:func:`write_rows` to a temporary name, then rename it to ``path`` (atomic).

    Raises:
        StorageError: The file cannot be written (a full disk).
    """
    with atomic_target(path, suffix=".tmp") as temporary:
        write_rows(temporary, fields, rows)


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


WORKERS_PER_CPU = 4
"""At most this many worker processes per CPU core (``--workers`` is capped there)."""


def worker_count(requested: int, jobs: int) -> int:
    """The worker processes to start: ``requested``, capped by the work and the machine.

    Never more than the number of jobs (an idle worker only costs memory) nor more than
    :data:`WORKERS_PER_CPU` per CPU core (beyond that, processes only compete).

    Args:
        requested: ``--workers``.
        jobs: The cases (patients) to prepare.

    Raises:
        ConfigurationError: ``requested`` is not a whole number of at least 1.
    """
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ConfigurationError(f"workers={requested!r} must be a whole number, at least 1.")
    return max(1, min(requested, jobs, WORKERS_PER_CPU * (os.cpu_count() or 1)))


def init_worker() -> None:
    """Set up a worker process: it dies with its parent and leaves Ctrl-C to it.

    On Linux the kernel sends the worker ``SIGKILL`` when the process that started it
    dies (``PR_SET_PDEATHSIG``), so a killed batch leaves no orphaned workers. ``SIGINT``
    is ignored: the parent handles Ctrl-C, cancels the cases not started and lets the
    running ones finish (each is written atomically).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        parent = os.getppid()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl (musl without it, sandboxes)
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)


_K = TypeVar("_K")
_R = TypeVar("_R")


def run_jobs(
    keys: Sequence[_K],
    run: Callable[[_K], _R],
    *,
    record: Callable[[_R], None],
    failed: Callable[[_K, StorageError], _R],
    pool: Executor | None = None,
) -> StorageError | None:
    """Run one job per key, in order or on a pool, stopping at the first full disk.

    A :class:`~radiogenomics.errors.StorageError` (a full disk, a folder that cannot be
    written) stops the batch: every further job would fail too. The job that raised it
    is recorded as ``failed(key, error)``, the jobs not started are cancelled (those
    already running on ``pool`` finish), and the error is returned for the caller to
    raise once its summary files are written. Any other exception propagates.

    Args:
        keys: The jobs (cases, patients).
        run: Runs one job (in this process, or on ``pool``: then it must pickle).
        record: Called with each outcome as it completes.
        failed: The outcome of a job stopped by a full disk.
        pool: Run the jobs on this executor; ``None``: one after the other, here.

    Returns:
        The error that stopped the batch, or ``None`` when every job ran.
    """
    if pool is None:
        for key in keys:
            try:
                record(run(key))
            except StorageError as error:
                record(failed(key, error))
                return error
        return None
    futures: dict[Future[_R], _K] = {pool.submit(run, key): key for key in keys}
    recorded: set[Future[_R]] = set()
    try:
        for future in as_completed(futures):
            recorded.add(future)
            try:
                record(future.result())
            except StorageError as error:
                record(failed(futures[future], error))
                pool.shutdown(wait=True, cancel_futures=True)
                return error
    except KeyboardInterrupt:
        # Ctrl-C: start nothing more; running cases finish (workers ignore SIGINT) and
        # are reported with those already done.
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:
            if future not in recorded and not future.cancelled() and future.exception() is None:
                record(future.result())
        raise
    return None
