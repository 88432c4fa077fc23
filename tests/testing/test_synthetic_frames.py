"""The synthetic stage 2 frame store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radiogenomics.data import FrameStore
from radiogenomics.testing import write_synthetic_frame_store


def test_random_labels_keep_the_labels_and_break_their_link_to_the_frames(
    tmp_path: Path,
) -> None:
    learnable = FrameStore(write_synthetic_frame_store(tmp_path / "a", n_patients=10, seed=4))
    shuffled = FrameStore(
        write_synthetic_frame_store(tmp_path / "b", n_patients=10, seed=4, random_labels=True)
    )
    assert shuffled.labels == learnable.labels
    keys = learnable.series_keys()
    assert shuffled.series_keys() == keys
    assert [shuffled.num_frames(k) for k in keys] == [learnable.num_frames(k) for k in keys]
    same = [np.array_equal(learnable.frames(k), shuffled.frames(k)) for k in keys]
    # Patients whose random label matches keep their frames; the others show the other label.
    assert 0 < sum(same) < len(same)
    # The frames of a patient that changed show the other label: a brighter or darker core.
    changed = [k for k, s in zip(keys, same, strict=True) if not s]
    for key in changed:
        core = (learnable.frames(key)[..., 0].astype(int) - shuffled.frames(key)[..., 0]).sum()
        assert (core > 0) == (learnable.labels[key[0]] == 1)
