"""The stage 2 frame store reader, on a synthetic store written directly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from radiogenomics.data import ArrayFrames, ChunkDataset, FrameStore
from radiogenomics.errors import CorruptFileError, GeometryError, InputNotFoundError, LabelError
from radiogenomics.testing import write_synthetic_frame_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("frames") / "store"
    return write_synthetic_frame_store(
        root, n_patients=6, mri_types=("FLAIR", "T2w"), size=16, frames=(3, 7), n_empty=1, seed=1
    )


def test_series_labels_and_counts(store_dir: Path) -> None:
    store = FrameStore(store_dir)
    assert len(store) == 12
    assert store.mri_types == ("FLAIR", "T2w")
    assert store.patient_ids == tuple(f"{i:05d}" for i in range(6))
    assert [k[0] for k in store.series_keys(mri_type="T2w")] == list(store.patient_ids)
    assert sorted(store.labels.values()) == [0, 0, 0, 1, 1, 1]
    assert store.label("00000") == store.labels["00000"]
    with pytest.raises(LabelError):
        store.label("99999")
    with (store_dir / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for key in store.series_keys():
        expected = sum(r["patient_id"] == key[0] and r["mri_type"] == key[1] for r in rows)
        assert store.num_frames(key) == expected
    assert store.num_frames(("00005", "FLAIR")) == 0  # the empty patient
    assert store.prep_config["synthetic"] is True
    assert "series=12" in repr(store)


def test_frames_are_read_only_memory_maps(store_dir: Path) -> None:
    store = FrameStore(store_dir)
    frames = store.frames(("00000", "FLAIR"))
    assert isinstance(frames, np.memmap)
    assert frames.dtype == np.uint8
    assert frames.shape == (store.num_frames(("00000", "FLAIR")), 16, 16, 3)
    assert not frames.flags.writeable
    assert set(np.unique(frames[..., 1]).tolist()) <= {0, 255}  # WT channel


def test_frames_by_series_feeds_chunk_dataset(store_dir: Path) -> None:
    store = FrameStore(store_dir)
    by_series = store.frames_by_series(mri_type="FLAIR", patients=["00000", "00005"])
    assert list(by_series) == [("00000", "FLAIR"), ("00005", "FLAIR")]
    assert all(isinstance(v, ArrayFrames) for v in by_series.values())
    dataset = ChunkDataset(by_series, store.labels, length=4, stride=2)
    assert {ref.patient_id for ref in dataset.index} == {"00000"}  # empty series: no chunk
    item = dataset[0]
    assert item["frames"].shape == (4, 3, 16, 16)
    assert float(item["label"]) == store.labels["00000"]


def test_errors_name_the_problem(store_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="prepare-classification"):
        FrameStore(tmp_path / "nothing")
    store = FrameStore(store_dir)
    with pytest.raises(InputNotFoundError, match="no series"):
        store.num_frames(("00000", "T1w"))
    # A frame file that disagrees with series.csv.
    bad = tmp_path / "bad"
    write_synthetic_frame_store(bad, n_patients=2, size=8, frames=(2, 2))
    np.save(bad / "00000" / "FLAIR.npy", np.zeros((5, 8, 8, 3), np.uint8))
    with pytest.raises(GeometryError, match="n_kept=2"):
        FrameStore(bad).frames(("00000", "FLAIR"))
    np.save(bad / "00000" / "FLAIR.npy", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(GeometryError, match=r"\(N, H, W, 3\)"):
        FrameStore(bad).frames(("00000", "FLAIR"))
    (bad / "00001" / "FLAIR.npy").unlink()
    with pytest.raises(InputNotFoundError, match="missing"):
        FrameStore(bad).frames(("00001", "FLAIR"))
    (bad / "series.csv").write_text("patient_id,mri_type\n00000,FLAIR\n")
    with pytest.raises(CorruptFileError, match="n_kept"):
        FrameStore(bad)


def test_an_object_array_is_refused_without_unpickling(store_dir: Path, tmp_path: Path) -> None:
    """np.load(allow_pickle=False): a .npy of pickled objects is never unpickled."""
    import shutil

    store_copy = tmp_path / "store"
    shutil.copytree(store_dir, store_copy)
    store = FrameStore(store_copy)
    key = store.series_keys(mri_type="FLAIR")[0]
    marker = tmp_path / "pwned"
    payload = np.array([_Payload(f"touch {marker}")] * 3, dtype=object)
    np.save(store.frame_path(key), payload, allow_pickle=True)
    with pytest.raises(CorruptFileError, match="Python objects") as info:
        store.frames(key)
    assert info.value.path == store.frame_path(key)
    assert not marker.exists()


class _Payload:
    """Pickles to a call of ``os.system``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))
