"""What montages show: the kept slices of one case of a prepared stage 1 folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from radiogenomics.errors import ConfigurationError, InputNotFoundError
from radiogenomics.records import SliceRecord

__all__ = ["evenly_spaced", "read_case_slices"]


def evenly_spaced(count: int, limit: int | None) -> list[int]:
    """At most ``limit`` indices of ``range(count)``, evenly spaced, first and last kept.

    Args:
        count: How many items there are.
        limit: How many to keep; ``None`` (or ``limit >= count``) keeps all.

    Raises:
        ConfigurationError: ``limit`` is below 1.

    Example:
        >>> evenly_spaced(10, 4)
        [0, 3, 6, 9]
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigurationError(f"limit={limit!r} must be a whole number, at least 1, or None.")
    if limit is None or limit >= count:
        return list(range(count))
    if limit == 1:
        return [0]
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def read_case_slices(
    folder: str | os.PathLike[str],
    *,
    case_id: str | None = None,
    modality: str | None = None,
    plane: str | None = None,
    limit: int | None = None,
) -> list[SliceRecord]:
    """The kept slices of one case of a prepared stage 1 folder, as slice records.

    Args:
        folder: A folder written by ``prepare-segmentation`` (holding ``manifest.csv``).
        case_id: The case; default: the first case of the manifest.
        modality: Only this modality (``"flair"`` ...); default: all.
        plane: Only this plane; default: all.
        limit: At most this many slices, evenly spaced over the selection; default: all.

    Returns:
        The slices in manifest order (plane by plane), with their masks (channels named
        by the folder's ``prepare-config.json``), ``tumor_ratio`` and ``n_contours``.

    Raises:
        InputNotFoundError: No manifest, no such case, or no slice of the selection.
        ConfigurationError: ``limit`` is invalid.
    """
    from radiogenomics.data.store import PreparedSlices

    root = Path(folder)
    store = PreparedSlices(root)
    cases = store.patient_ids
    if not cases:
        raise InputNotFoundError("the prepared folder holds no slice.", path=root)
    case = cases[0] if case_id is None else str(case_id)
    if case not in cases:
        shown = ", ".join(cases[:5]) + (", ..." if len(cases) > 5 else "")
        raise InputNotFoundError(
            f"case {case!r} is not in the manifest; it holds {len(cases)} cases ({shown}).",
            path=root / "manifest.csv",
        )
    rows = [
        index
        for index, row in enumerate(store.rows)
        if row["patient_id"] == case
        and (modality is None or row["modality"] == modality)
        and (plane is None or row["plane"] == plane)
    ]
    if not rows:
        raise InputNotFoundError(
            f"case {case} has no kept slice with modality={modality!r}, plane={plane!r}.",
            path=root / "manifest.csv",
            patient_id=case,
        )
    # Every slice of a folder has the same mask channels: name them once.
    channels = store.regions(store[rows[0]].masks.shape[0])
    records = []
    for position in evenly_spaced(len(rows), limit):
        stored = store[rows[position]]
        row = stored.row
        records.append(
            SliceRecord(
                patient_id=row["patient_id"],
                modality=row["modality"],
                plane=row["plane"],  # type: ignore[arg-type]
                index=int(row["slice_index"]),
                image=stored.image,
                masks=np.ascontiguousarray(stored.masks),
                mask_channels=channels,
                position=float(row["position"] or 0.0),
                tumor_ratio=float(row["tumor_ratio"]) if row["tumor_ratio"] else None,
                n_contours=int(row["n_contours"]) if row["n_contours"] else None,
            )
        )
    return records
