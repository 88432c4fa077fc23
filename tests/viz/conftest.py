"""Trained runs of both stages, written once through the CLI with --plots."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from radiogenomics.cli import main


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One torch intra-op thread while training the tiny models (restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def frame_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic stage 2 frame store: 8 patients, FLAIR and T1wCE, 32 px frames."""
    from radiogenomics.testing import write_synthetic_frame_store

    root = tmp_path_factory.mktemp("viz-store") / "store"
    return write_synthetic_frame_store(
        root, n_patients=8, mri_types=("FLAIR", "T1wCE"), size=32, frames=(3, 8)
    )


@pytest.fixture(scope="session")
def stage2_runs(frame_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``train-classification --mri-type all --plots`` (2 epochs): the parent folder and
    what it printed."""
    out = tmp_path_factory.mktemp("viz-cls") / "runs"
    log = out.parent / "printed.txt"
    argv = [
        "train-classification",
        "--data", str(frame_store),
        "--mri-type", "all",
        "--out", str(out),
        "--backbone", "test_resnet",
        "--hidden-size", "8",
        "--sequence-length", "4",
        "--stride", "2",
        "--image-size", "32",
        "--batch-size", "4",
        "--lr", "0.002",
        "--warmup-epochs", "1",
        "--epochs", "2",
        "--val-fraction", "0.25",
        "--amp", "off",
        "--seed", "1",
        "--device", "cpu",
        "--no-progress",
        "--plots",
    ]  # fmt: skip
    with one_thread(), log.open("w") as handle, contextlib.redirect_stdout(handle):
        code = main(argv)
    assert code == 0
    return out, log.read_text()
