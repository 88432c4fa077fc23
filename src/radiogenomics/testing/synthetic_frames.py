"""A tiny synthetic stage 2 frame store, written directly (no DICOM, no stage 1 model).

:func:`write_synthetic_frame_store` writes the layout that ``prepare-classification``
writes and :class:`~radiogenomics.data.FrameStore` reads: per series, uint8 frames
``[image, WT * 255, ET * 255]`` of a noisy "brain" disc with a round tumor whose whole
tumor (WT) and enhancing rim (ET) masks fill the other two channels. The label is
trivially learnable: label 1 tumor cores are bright, label 0 cores dark (the contrast
is ``signal``). ``random_labels=True`` (or ``signal=0``) breaks the link between frames
and labels. Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from radiogenomics._options import check_range
from radiogenomics.errors import ConfigurationError

__all__ = ["make_synthetic_frames", "write_synthetic_frame_store"]


def make_synthetic_frames(
    *, label: int, n_frames: int, size: int, rng: np.random.Generator, signal: float = 1.0
) -> npt.NDArray[np.uint8]:
    """The frames of one synthetic series.

    Args:
        label: 0 or 1: dark or bright tumor core.
        n_frames: Frames to make.
        size: Rows and columns.
        rng: The generator all randomness comes from.
        signal: Contrast between the two labels' cores, in [0, 1] (0: no signal).

    Returns:
        uint8 frames.

    Shape:
        - output: (n_frames, size, size, 3).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    centre = (size - 1) / 2
    brain = (yy - centre) ** 2 + (xx - centre) ** 2 <= (0.45 * size) ** 2
    frames = np.zeros((n_frames, size, size, 3), dtype=np.uint8)
    ty, tx = centre + rng.uniform(-0.12, 0.12, size=2) * size
    for index in range(n_frames):
        # The tumor grows then shrinks along the series, as in a real volume.
        phase = (index + 0.5) / n_frames
        radius = size * (0.12 + 0.1 * np.sin(np.pi * phase))
        distance = np.sqrt((yy - ty) ** 2 + (xx - tx) ** 2)
        wt = distance <= radius
        et = wt & (distance >= 0.6 * radius)
        core = distance < 0.6 * radius
        image = np.where(brain, 0.45, 0.0) + brain * rng.normal(0.0, 0.05, size=brain.shape)
        image[et] = 0.75
        core_value = 0.5 + (0.35 if label else -0.35) * signal
        image[core] = core_value + rng.normal(0.0, 0.05, size=int(core.sum()))
        frames[index, ..., 0] = np.clip(image * 255, 0, 255).astype(np.uint8)
        frames[index, ..., 1] = wt.astype(np.uint8) * 255
        frames[index, ..., 2] = et.astype(np.uint8) * 255
    return frames


def write_synthetic_frame_store(
    root: str | Path,
    *,
    n_patients: int = 12,
    mri_types: Sequence[str] = ("FLAIR",),
    size: int = 32,
    frames: tuple[int, int] = (4, 10),
    n_empty: int = 0,
    signal: float = 1.0,
    seed: int = 0,
    random_labels: bool = False,
) -> Path:
    """Write a stage 2 frame store of synthetic patients with balanced labels.

    Args:
        root: The store folder (created).
        n_patients: Patients to write; ids ``"00000"``, ``"00001"``, ...; labels alternate
            0, 1, 0, ... in a seeded order.
        mri_types: MRI types of every patient.
        size: Rows and columns of every frame.
        frames: Inclusive range of kept frames per series (drawn per series).
        n_empty: The last ``n_empty`` patients get series with no kept frame (as when
            no slice passes the filters).
        signal: Contrast between the labels, in [0, 1].
        seed: Seeds everything.
        random_labels: Break the link between frames and labels: each patient's frames
            show a label drawn at random (a permutation of the labels seeded by
            ``seed``, independent of the written one). Patients, written labels and
            frame counts are those of the default store, so the two can be compared
            patient for patient; no model can beat chance on this one.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: An option is out of range.
    """
    check_range("n_patients", n_patients, low=1)
    check_range("size", size, low=8)
    check_range("signal", signal, low=0.0, high=1.0)
    if not 1 <= frames[0] <= frames[1]:
        raise ConfigurationError(f"frames={frames!r} must be (low, high) with 1 <= low <= high.")
    if not 0 <= n_empty <= n_patients:
        raise ConfigurationError(f"n_empty={n_empty} must be in [0, n_patients].")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_patients) % 2)
    shown = np.random.default_rng([seed, 1]).permutation(labels) if random_labels else labels
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    series_rows: list[list[object]] = []
    manifest_rows: list[list[object]] = []
    for number, label in enumerate(shown.tolist()):
        patient_id = f"{number:05d}"
        (out / patient_id).mkdir(exist_ok=True)
        for mri_type in mri_types:
            empty = number >= n_patients - n_empty
            count = 0 if empty else int(rng.integers(frames[0], frames[1] + 1))
            array = make_synthetic_frames(
                label=int(label), n_frames=count, size=size, rng=rng, signal=signal
            )
            name = f"{mri_type}.npy"
            if count:  # as in real preparation, a series with no kept frame has no file
                np.save(out / patient_id / name, array, allow_pickle=False)
            n_slices = count + 4
            series_rows.append(
                [patient_id, mri_type, n_slices, count, "ok" if count else "no-frames"]
            )
            for row in range(count):
                ratio = float(array[row, ..., 1].mean() / 255)
                manifest_rows.append(
                    [patient_id, mri_type, f"{row + 2:.1f}", f"{ratio:.6f}", 1, name, row]
                )
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["BraTS21ID", "MGMT_value"])
        writer.writerows([f"{i:05d}", int(v)] for i, v in enumerate(labels.tolist()))
    with (out / "series.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "mri_type", "n_slices", "n_kept", "status"])
        writer.writerows(series_rows)
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["patient_id", "mri_type", "position", "tumor_ratio", "n_contours", "frame_file", "row"]
        )
        writer.writerows(manifest_rows)
    config = {"synthetic": True, "size": size, "seed": seed, "signal": signal}
    (out / "prepare-config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out
