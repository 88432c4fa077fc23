"""oof.csv: written and read back, summarised per group, and compared only when comparable."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from radiogenomics.errors import CorruptFileError, InputNotFoundError, InvalidInputError
from radiogenomics.metrics.oof import (
    COMBINED,
    OOF_FIELDS,
    OofRow,
    compare_oof,
    read_oof,
    summarize_oof,
    write_oof,
)


def _rows(signal: float, *, seed: int = 0, n: int = 40) -> list[OofRow]:
    """Out-of-fold rows of n patients in 4 folds: FLAIR (one patient missing) and combined."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    flair = 1 / (1 + np.exp(-(signal * (labels - 0.5) * 4 + rng.normal(size=n))))
    rows = []
    for i in range(n):
        patient, fold, label = f"{i:05d}", i % 4, int(labels[i])
        if i != n - 1:  # the last patient has no FLAIR frame
            rows.append(OofRow(patient, fold, "FLAIR", float(flair[i]), label))
        combined = float(flair[i]) if i != n - 1 else 0.5
        rows.append(OofRow(patient, fold, COMBINED, combined, label))
    return rows


def test_write_then_read_gives_the_same_rows(tmp_path: Path) -> None:
    rows = _rows(1.0)
    path = write_oof(reversed(rows), tmp_path / "cv" / "oof.csv")
    assert path.read_text().splitlines()[0] == ",".join(OOF_FIELDS)
    back = read_oof(path)
    assert sorted(back, key=repr) == sorted(rows, key=repr)  # full precision
    assert read_oof(tmp_path / "cv") == back  # a cross-validation folder works too
    assert [r.mri_type for r in back].index(COMBINED) == 39  # types first, combined last


def test_read_refuses_what_is_not_an_oof_table(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="cross-validate-classification"):
        read_oof(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("BraTS21ID,fold,probability\n1,0,0.5\n")
    with pytest.raises(CorruptFileError, match="missing columns"):
        read_oof(bad)
    head = ",".join(OOF_FIELDS)
    for body, message in [
        ("1,0,FLAIR,1.5,1", "not in"),
        ("1,0,FLAIR,nan,1", "not in"),
        ("1,x,FLAIR,0.5,1", "line 2"),
        ("1,0,FLAIR,0.5,2", "MGMT_value"),
        ("1,0,FLAIR,0.5,1\n1,0,FLAIR,0.4,1", "two FLAIR rows"),
        ("1,0,FLAIR,0.5,1\n1,1,combined,0.4,1", "fold 0 in one row and 1"),
        ("1,0,FLAIR,0.5,1\n1,0,combined,0.4,0", "label 1 in one row and 0"),
    ]:
        bad.write_text(f"{head}\n{body}\n")
        with pytest.raises(CorruptFileError, match=message):
            read_oof(bad)


def test_summary_per_group_and_fold() -> None:
    summary = summarize_oof(_rows(2.0), n_boot=200, n_permutations=199)
    assert [g.mri_type for g in summary.groups] == ["FLAIR", COMBINED]
    assert summary.folds == (0, 1, 2, 3)
    flair, combined = summary.groups
    assert flair.report is not None
    assert combined.report is not None
    assert (flair.report.n, combined.report.n) == (39, 40)
    assert flair.report.auc > 0.9
    assert flair.report.p_value <= 0.01
    assert sorted(flair.fold_aucs) == [0, 1, 2, 3]
    record = json.loads(json.dumps(summary.to_dict()))  # JSON-ready
    assert record["groups"][1]["mri_type"] == COMBINED
    assert record["groups"][0]["n"] == 39
    table = summary.table()
    assert "FLAIR" in table
    assert "combined" in table
    assert "fold 3" in table


def test_summary_of_a_group_with_one_class() -> None:
    rows = [OofRow(f"{i:05d}", i % 2, "T2w", 0.1 * i, 1) for i in range(6)]
    (group,) = summarize_oof(rows, n_boot=20, n_permutations=99).groups
    assert group.report is None
    assert all(np.isnan(v) for v in group.fold_aucs.values())
    assert "one class only" in summarize_oof(rows, n_boot=20, n_permutations=99).table()
    with pytest.raises(InvalidInputError, match="no out-of-fold"):
        summarize_oof([])


def test_compare_with_itself_and_by_design() -> None:
    learned, chance = _rows(2.0), _rows(0.0, seed=1)
    same = compare_oof(learned, learned, n_boot=200)
    for _, comparison in same.groups:
        assert comparison is not None
        assert (comparison.delta, comparison.p_value) == (0.0, 1.0)
    designed = compare_oof(learned, chance, n_boot=200)
    names = [name for name, _ in designed.groups]
    assert names == ["FLAIR", COMBINED]
    for _, comparison in designed.groups:
        assert comparison is not None
        assert comparison.delta > 0.2
        assert comparison.p_value < 0.01
    assert "ΔAUC" in designed.table()
    assert json.loads(json.dumps(designed.to_dict()))["groups"][0]["mri_type"] == "FLAIR"


def test_compare_refuses_other_patients_folds_or_labels() -> None:
    rows = _rows(1.0)
    fewer = [r for r in rows if r.patient_id != "00000"]
    with pytest.raises(InvalidInputError, match="1 only in A"):
        compare_oof(rows, fewer)
    moved = [dataclasses.replace(r, fold=9) if r.patient_id == "00003" else r for r in rows]
    with pytest.raises(InvalidInputError, match="fold 3 in A and fold 9 in B"):
        compare_oof(rows, moved)
    relabelled = [dataclasses.replace(r, label=1 - r.label) for r in rows]
    with pytest.raises(InvalidInputError, match="label"):
        compare_oof(rows, relabelled)
    t2w = [dataclasses.replace(r, mri_type="T2w") for r in rows if r.mri_type == "FLAIR"]
    with pytest.raises(InvalidInputError, match="share no group"):
        compare_oof([r for r in rows if r.mri_type == "FLAIR"], t2w)


def test_groups_held_by_one_side_are_listed_not_compared() -> None:
    rows = _rows(1.0)
    combined_only = [r for r in rows if r.mri_type == COMBINED]
    comparison = compare_oof(rows, combined_only, n_boot=100)
    assert [name for name, _ in comparison.groups] == [COMBINED]
    assert comparison.only_in_a == ("FLAIR",)
    assert "not compared (only in A): FLAIR" in comparison.table()


def test_groups_order_is_the_summary_order() -> None:
    from radiogenomics.inference import bootstrap_auc_ci
    from radiogenomics.metrics.oof import oof_groups

    rows = _rows(1.0)
    groups = oof_groups(reversed(rows))
    assert list(groups) == ["FLAIR", COMBINED]
    flair = groups["FLAIR"]
    assert [r.patient_id for r in flair] == sorted(r.patient_id for r in flair)
    # Scoring a group's rows in this order reproduces the summary's interval.
    report = summarize_oof(rows, n_boot=300, n_permutations=99).groups[0].report
    interval = bootstrap_auc_ci(
        [r.label for r in flair], [r.probability for r in flair], n_boot=300, seed=0
    )
    assert report is not None
    assert (interval.low, interval.high) == (report.low, report.high)
