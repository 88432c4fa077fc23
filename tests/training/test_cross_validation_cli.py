"""`radiogenomics cross-validate-classification` and `compare` end to end, on tiny stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radiogenomics.cli import main
from radiogenomics.metrics.oof import read_oof
from radiogenomics.testing import write_synthetic_frame_store

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> Path:
    root = tmp_path_factory.mktemp("cv-cli") / "store"
    return write_synthetic_frame_store(
        root, n_patients=12, mri_types=("FLAIR", "T1wCE"), size=32, frames=(3, 8), n_empty=1
    )


def _args(store: Path, out: Path, *extra: str) -> list[str]:
    return [
        "cross-validate-classification",
        "--data", str(store),
        "--mri-type", "all",
        "--out", str(out),
        "--preset", "tiny",
        "--backbone", "test_resnet",
        "--hidden-size", "8",
        "--sequence-length", "4",
        "--stride", "2",
        "--image-size", "32",
        "--epochs", "1",
        "--amp", "off",
        "--device", "cpu",
        "--no-progress",
        "--n-boot", "200",
        "--n-permutations", "199",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def cross_validation(store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A cross-validation with the user's own folds (numbered 1 and 2), and what it printed."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("cv-cli-run")
    folds = root / "train_stratifiedgroupkfold.csv"
    rows = [f"{i:05d},{1 + i % 2},{i % 2}" for i in range(12)]
    folds.write_text("BraTS21ID,fold,MGMT_value\n" + "\n".join(rows) + "\n")
    out = root / "cv"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(_args(store, out, "--folds-csv", str(folds), "--plots"))
    assert status == 0
    return out, printed.getvalue()


def test_cross_validate_writes_and_prints_its_tables(cross_validation: tuple[Path, str]) -> None:
    out, printed = cross_validation
    for fold in (1, 2):
        for mri_type in ("FLAIR", "T1wCE"):
            assert (out / f"fold-{fold}" / mri_type / "best.safetensors").is_file()
            assert f"fold {fold} {mri_type}: finished after 1 epochs" in printed
    rows = read_oof(out)
    assert {r.mri_type for r in rows} == {"FLAIR", "T1wCE", "combined"}
    assert {r.patient_id: r.fold for r in rows} == {f"{i:05d}": 1 + i % 2 for i in range(12)}
    assert "out-of-fold ROC AUC over 2 folds" in printed
    assert "fold 1  fold 2" in printed
    assert "1 patient(s) had no frame in any MRI type" in printed
    for group in ("FLAIR", "T1wCE", "combined"):
        assert (out / f"roc-{group}.png").is_file()
    record = json.loads((out / "summary.json").read_text())
    assert record["folds"] == {"source": "given", "n_folds": 2, "fold_seed": None}
    assert record["train_config"]["backbone"] == "test_resnet"
    assert record["train_config"]["head"] == "pooled"  # from --preset tiny


def test_cross_validate_resumes_and_refuses(
    store: Path, cross_validation: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = cross_validation
    assert main(_args(store, out, "--folds", "2")) == 2
    assert "--resume" in capsys.readouterr().err
    folds = out.parent / "train_stratifiedgroupkfold.csv"
    before = read_oof(out)
    assert main(_args(store, out, "--folds-csv", str(folds), "--resume")) == 0
    assert "finished after 1 epochs" in capsys.readouterr().out
    assert read_oof(out) == before  # nothing retrained: the same predictions
    assert main(_args(store, out.parent / "x", "--folds", "9")) == 1
    assert "fewer than the 9 folds" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --folds and --folds-csv exclude each other
        main(_args(store, out, "--folds", "2", "--folds-csv", str(folds)))


def test_compare(cross_validation: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = cross_validation
    report = out.parent / "comparison.json"
    assert main(["compare", str(out), str(out / "oof.csv"), "--out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "paired comparison" in printed
    combined = next(line for line in printed.splitlines() if line.startswith("combined"))
    assert "+0.000" in combined
    assert combined.endswith("1.0000")
    record = json.loads(report.read_text())
    assert [g["mri_type"] for g in record["groups"]] == ["FLAIR", "T1wCE", "combined"]
    assert record["groups"][2]["p_value"] == 1.0
    # Another fold for one patient: refused (exit 1), naming the patient.
    lines = (out / "oof.csv").read_text().splitlines()
    moved = [lines[0]] + [
        line.replace(",1,", ",2,", 1) if line.startswith("00000,") else line for line in lines[1:]
    ]
    other = out.parent / "moved.csv"
    other.write_text("\n".join(moved) + "\n")
    assert main(["compare", str(out), str(other)]) == 1
    assert "patient 00000 is in fold" in capsys.readouterr().err
