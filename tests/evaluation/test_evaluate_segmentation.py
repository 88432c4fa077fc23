"""Stage 1 on whole volumes: the counts, the summaries, the report and the command."""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radiogenomics.cli import main
from radiogenomics.errors import GeometryError
from radiogenomics.evaluation import (
    EVALUATION_FIELDS,
    SegmentationEvaluation,
    SliceScores,
    evaluate_segmentation,
    score_slices,
)
from radiogenomics.io import BratsCase, find_brats_cases, load_case
from radiogenomics.slicing import slice_layout
from radiogenomics.testing import write_brats_cohort

pytestmark = pytest.mark.usefixtures("one_torch_thread")

stacks = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 6), st.just(2), st.integers(1, 5), st.integers(1, 5)),
    elements=st.integers(0, 1),
)


@given(stacks, stacks, stacks)
def test_counts_by_brute_force(
    predicted: np.ndarray, truth: np.ndarray, brains: np.ndarray
) -> None:
    n = min(len(predicted), len(truth), len(brains))
    h = min(predicted.shape[2], truth.shape[2], brains.shape[2])
    w = min(predicted.shape[3], truth.shape[3], brains.shape[3])
    predicted, truth = predicted[:n, :, :h, :w], truth[:n, :, :h, :w]
    brain = brains[:n, 0, :h, :w].astype(bool)
    truth[::2] = 0  # tumor-free slices, always some
    scores = score_slices(predicted, truth, regions=("WT", "ET"), brain=brain)
    brain_slice = brain.reshape(n, -1).sum(axis=1) * 10 > h * w  # more than 10 %
    for c, region in enumerate(("WT", "ET")):
        p, t = predicted[:, c].astype(bool), truth[:, c].astype(bool)
        tumor = t.reshape(n, -1).any(axis=1)
        s = scores[region]
        assert (s.tumor_slices, s.tumor_free_slices) == (int(tumor.sum()), int((~tumor).sum()))
        assert s.fp_slices == int(p[~tumor].reshape(-1, h * w).any(axis=1).sum())
        assert s.true_voxels == int(t.sum())
        assert s.predicted_voxels == int(p.sum())
        assert s.intersection_voxels == int((p & t).sum())
        assert s.predicted_on_tumor_slices == int(p[tumor].sum())
        total = p[tumor].sum() + t.sum()
        assert s.dice_tumor_slices == pytest.approx(
            1.0 if total == 0 else 2 * (p & t).sum() / total
        )
        assert s.fp_voxels == int(p[~tumor].sum())
        assert s.fp_slice_rate == pytest.approx(s.fp_slices / s.tumor_free_slices)
        marked = p.reshape(n, -1).any(axis=1)
        assert s.brain_tumor_free_slices == int((~tumor & brain_slice).sum())
        assert s.brain_fp_slices == int((~tumor & brain_slice & marked).sum())
        if s.brain_tumor_free_slices:
            assert s.brain_fp_slice_rate == s.brain_fp_slices / s.brain_tumor_free_slices
        else:
            assert math.isnan(s.brain_fp_slice_rate)
    without_brain = score_slices(predicted, truth, regions=("WT", "ET"))["WT"]
    assert (without_brain.brain_tumor_free_slices, without_brain.brain_fp_slices) == (0, 0)


def test_scores_add_and_undefined_rates_are_nan() -> None:
    a = SliceScores(tumor_slices=2, tumor_free_slices=4, fp_slices=1, true_voxels=10)
    b = SliceScores(tumor_slices=1, predicted_voxels=6, intersection_voxels=5)
    total = a + b
    assert (total.tumor_slices, total.tumor_free_slices, total.predicted_voxels) == (3, 4, 6)
    assert total.dice_volume == pytest.approx(10 / 16)
    assert math.isnan(SliceScores(tumor_slices=3).fp_slice_rate)
    assert SliceScores().dice_tumor_slices == 1.0  # nothing to find, nothing found
    empty = np.zeros((2, 2, 3, 3), np.uint8)
    with pytest.raises(GeometryError, match="one channel per region"):
        score_slices(empty, empty, regions=("WT",))
    with pytest.raises(GeometryError, match=r"one \(H, W\) mask per slice"):
        score_slices(empty, empty, regions=("WT", "ET"), brain=np.ones((3, 3, 3), bool))


class TruthPlusSpeck:
    """A predictor that returns the case's own masks plus one voxel on a tumor-free slice."""

    channels = ("WT", "ET")

    def __init__(self, cases: list[BratsCase]) -> None:
        self.truth = {}
        for case in cases:
            for volume in load_case(case).volumes():
                self.truth[hashlib.sha256(volume.image.tobytes()).hexdigest()] = volume.masks
        self.calls: list[tuple[str, str]] = []

    def predict_volume(
        self, volume: np.ndarray, affine: np.ndarray, *, plane: str, orientation: str
    ) -> np.ndarray:
        self.calls.append((plane, orientation))
        masks = np.array(self.truth[hashlib.sha256(volume.tobytes()).hexdigest()])
        axis = slice_layout(affine, plane, orientation=orientation).axis  # type: ignore[arg-type]
        index = [slice(None)] * 4
        index[1 + axis] = 0  # the first slice along the plane: outside the head
        masks[tuple(index)][0, 0, 0] = 1
        return masks


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> list[BratsCase]:
    root = tmp_path_factory.mktemp("task1")
    return write_brats_cohort(root, n_cases=2, seed=3, shape=(32, 36, 28))


def test_evaluation_of_a_near_perfect_predictor(cohort: list[BratsCase]) -> None:
    predictor = TruthPlusSpeck(cohort[:1])
    result = evaluate_segmentation(
        cohort[:1],
        predictor,
        orientation="radiological",
        modalities=("flair", "t2"),  # type: ignore[arg-type]
    )
    assert len(result.rows) == 2 * 3 * 2  # modalities x planes x regions
    assert {(r.modality, r.plane) for r in result.rows} == {
        (m, p) for m in ("flair", "t2") for p in ("sagittal", "coronal", "axial")
    }
    assert {c[1] for c in predictor.calls} == {"radiological"}
    for row in result.rows:
        s = row.scores
        assert s.dice_tumor_slices == 1.0
        if row.region == "WT":  # the speck, on one tumor-free slice
            assert s.fp_slices == 1
            assert s.fp_voxels == 1
            assert s.dice_volume < 1.0
            # ... outside the head: not a brain slice, so stage 2 would never see it.
            assert s.brain_fp_slices == 0
            assert 0 < s.brain_tumor_free_slices < s.tumor_free_slices
            assert s.brain_fp_slice_rate == 0.0
        else:
            assert s.fp_slices == 0
            assert s.dice_volume == 1.0
        n = {"sagittal": 32, "coronal": 36, "axial": 28}[row.plane]
        assert s.tumor_slices + s.tumor_free_slices == n
    summary = {(r.plane, r.region): r.scores for r in result.summary()}
    assert [r.case_id for r in result.summary()] == ["all"] * 8
    every = summary[("all", "WT")]
    assert every.fp_slices == 6
    assert summary[("all", "ET")].fp_slices == 0
    assert every.tumor_free_slices == sum(
        summary[(p, "WT")].tumor_free_slices for p in ("sagittal", "coronal", "axial")
    )
    assert result.failed == []


def test_report_csv(cohort: list[BratsCase], tmp_path: Path) -> None:
    result = evaluate_segmentation(
        cohort,
        TruthPlusSpeck(cohort),
        planes="axial",
        modalities="flair",  # type: ignore[arg-type]
    )
    path = result.write_csv(tmp_path / "report.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(EVALUATION_FIELDS)
    assert [r["case_id"] for r in rows] == [c.case_id for c in cohort for _ in "WE"] + ["all"] * 4
    assert float(rows[0]["dice_tumor_slices"]) == 1.0
    assert "FP rate" in result.table()
    assert SegmentationEvaluation().to_csv().splitlines() == [",".join(EVALUATION_FIELDS)]


def test_both_naming_conventions_give_the_same_scores(
    tmp_path: Path, make_segmentation_run: Any
) -> None:
    from radiogenomics.inference import MaskPredictor
    from radiogenomics.models import load_segmentation_model

    run = make_segmentation_run(tmp_path / "run", bias=None)
    model, config = load_segmentation_model(run)
    predictor = MaskPredictor(model, image_size=int(config.image_size))
    results = []
    for convention in ("brats2021", "brats2023"):
        cases = write_brats_cohort(
            tmp_path / convention, n_cases=1, seed=7, shape=(24, 24, 20), convention=convention
        )
        result = evaluate_segmentation(cases, predictor, modalities="t1ce")
        results.append([(r.plane, r.region, r.scores) for r in result.rows])
    assert results[0] == results[1]
    assert any(scores.tumor_slices > 0 for _, _, scores in results[0])


def test_an_unreadable_case_is_reported_and_the_others_go_on(
    cohort: list[BratsCase], tmp_path: Path
) -> None:
    broken = BratsCase(
        case_id="BraTS2021_09999",
        folder=tmp_path,
        images=dict.fromkeys(("flair", "t1", "t1ce", "t2"), tmp_path / "missing.nii.gz"),
        label=tmp_path / "missing_seg.nii.gz",
        convention="brats2021",
    )
    seen: list[str] = []
    result = evaluate_segmentation(
        [broken, cohort[0]],
        TruthPlusSpeck(cohort[:1]),
        planes="axial",
        on_case=seen.append,  # type: ignore[arg-type]
    )
    assert [case for case, _ in result.failed] == ["BraTS2021_09999"]
    assert seen == [cohort[0].case_id]
    assert len(result.rows) == 4 * 2


def test_evaluate_segmentation_command(
    synthetic_cohort: Path, seg_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The run's model predicts the centre of every slice: every tumor-free slice is a
    # false positive, until a clean-up large enough drops every component.
    out = tmp_path / "report.csv"
    argv = [
        "evaluate-segmentation",
        "--model", str(seg_run),
        "--task1-dir", str(synthetic_cohort),
        "--out", str(out),
        "--planes", "axial", "coronal",
        "--modalities", "flair",
        "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "FP rate" in printed
    assert f"wrote {out}" in printed
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    cases = [c.case_id for c in find_brats_cases(synthetic_cohort)]
    assert [r["case_id"] for r in rows[: 4 * 2 * 2]] == [c for c in cases for _ in range(4)]
    overall = next(r for r in rows if r["plane"] == "all" and r["region"] == "WT")
    assert float(overall["fp_slice_rate"]) == 1.0
    assert float(overall["brain_fp_slice_rate"]) == 1.0
    brain_slices = int(overall["brain_tumor_free_slices"])
    assert 0 < brain_slices < int(overall["tumor_free_slices"])
    # A higher brain threshold: fewer brain slices; outside [0, 1]: refused.
    assert main([*argv, "--min-brain-fraction", "0.5"]) == 0
    with out.open(newline="") as handle:
        higher = list(csv.DictReader(handle))
    overall = next(r for r in higher if r["plane"] == "all" and r["region"] == "WT")
    assert int(overall["brain_tumor_free_slices"]) < brain_slices
    capsys.readouterr()
    assert main([*argv, "--min-brain-fraction", "1.5"]) == 2
    assert "min_brain_fraction" in capsys.readouterr().err
    assert main([*argv[:-1], "--cleanup-below", "1000000", "--no-progress"]) == 0
    with out.open(newline="") as handle:
        cleaned = list(csv.DictReader(handle))
    overall = next(r for r in cleaned if r["plane"] == "all" and r["region"] == "WT")
    assert float(overall["fp_slice_rate"]) == 0.0
    assert overall["predicted_voxels"] == "0"
    # --cleanup-dims alone says nothing: refused; an output inside an input: refused.
    assert main([*argv, "--cleanup-dims", "2d"]) == 2
    assert "give --cleanup-below too" in capsys.readouterr().err
    inside = [*argv[:6], str(synthetic_cohort / "report.csv"), *argv[7:]]
    assert main(inside) == 2
