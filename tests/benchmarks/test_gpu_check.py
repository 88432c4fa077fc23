"""The GPU check (``benchmarks/gpu_check.py``): its CPU dry run end to end, and its runner.

The dry run is the GPU check's every step on the CPU with tiny sizes; it keeps the
script from rotting between the rare GPU runs. The runner's own behaviour (a step that
fails or outlives its timeout is recorded and the next one runs; the wheels install
offline) is checked on stand-in commands.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
STEPS = [
    "environment",
    "smoke",
    "torchrun",
    "throughput",
    "predict_latency",
    "predict_latency_kaggle",
    "two_stage",
]


def _gpu_check() -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("gpu_check")


def _numbers(value: Any) -> list[float]:
    """Every number in a nested JSON value (booleans excluded)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("gpu-check")
    out = root / "out"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "gpu_check.py"),
            "--dry-run",
            *("--out", str(out), "--wheels", str(root / "no-wheels"), "--work", str(root)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    return {"out": out, "stdout": result.stdout, "summary": summary, "root": root}


@pytest.mark.slow
def test_dry_run_passes_every_step_with_finite_figures(dry_run: dict[str, Any]) -> None:
    summary = dry_run["summary"]
    assert summary["dry_run"] is True
    assert list(summary["steps"]) == STEPS
    for name, step in summary["steps"].items():
        assert step["status"] == "ok", (name, step.get("log_tail"))
        assert step["figures"], name
        numbers = _numbers(step["figures"])
        assert numbers, name
        assert all(math.isfinite(n) for n in numbers), (name, step["figures"])
    smoke = summary["steps"]["smoke"]["figures"]
    assert smoke["passed"] == smoke["checks"] >= 10
    assert 0 <= smoke["bf16_mask_probability_max_abs_diff"] <= 0.02
    assert smoke["train_segmentation_fused_adamw"] is False  # the CPU never fuses
    torchrun = summary["steps"]["torchrun"]["figures"]
    assert torchrun["skipped"] == ["torchrun_nccl_all_reduce"]  # needs CUDA
    assert summary["steps"]["environment"]["record"]["missing"] == {}


@pytest.mark.slow
def test_dry_run_states_every_goal_as_no_measurement(dry_run: dict[str, Any]) -> None:
    goals = dry_run["summary"]["goals"]
    assert len(goals) == 5
    for goal in goals:
        assert goal["values"], goal
        assert goal["status"].endswith("(CPU dry run: not a measurement)"), goal


@pytest.mark.slow
def test_dry_run_writes_three_files_with_every_log(dry_run: dict[str, Any]) -> None:
    out: Path = dry_run["out"]
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "summary.json", "summary.md"]
    with tarfile.open(out / "logs.tar.gz") as archive:
        names = set(archive.getnames())
    for step in STEPS:
        assert f"gpu-check/{step}/{step}.log" in names
    assert "gpu-check/install.log" not in names  # nothing to install: pip never ran
    table = (out / "summary.md").read_text()
    assert all(f"| {step} | ok |" in table for step in STEPS)
    assert table in dry_run["stdout"]
    # The scratch folder (cohorts, runs) is removed; only the results stay.
    assert [p.name for p in dry_run["root"].iterdir() if p.name.startswith("rg-")] == []


def _stand_in(module: ModuleType, name: str, code: str) -> Any:
    """A step whose command runs ``code`` and whose record is ``<folder>/r.json``."""
    return module.Step(
        name,
        "a stand-in",
        (1.0, 1.0),
        lambda folder, work: [sys.executable, "-c", code, str(folder / "r.json")],
        lambda folder, work: folder / "r.json",
        lambda record: ({"value": record["value"]}, f"value {record['value']}"),
    )


def test_a_step_past_its_timeout_is_stopped_and_recorded(tmp_path: Path) -> None:
    gpu_check = _gpu_check()
    step = _stand_in(gpu_check, "hangs", "import time; time.sleep(120)")
    folder = tmp_path / "hangs"
    folder.mkdir()
    (folder / "r.json").write_text(json.dumps({"value": 3}))  # as if written before it hung
    began = time.perf_counter()
    result = gpu_check._run_step(
        step, folder=folder, work=tmp_path, timeout=2.0, env=dict(os.environ)
    )
    assert time.perf_counter() - began < 60  # stopped, not waited for
    assert (result["status"], result["returncode"]) == ("timeout", None)
    assert result["figures"] == {"value": 3}  # what it wrote is kept
    assert "time.sleep(120)" in result["log_tail"]  # the log starts with the command


def test_a_failing_step_keeps_its_log_tail_and_the_next_step_runs(tmp_path: Path) -> None:
    gpu_check = _gpu_check()
    env = dict(os.environ)
    failing = _stand_in(gpu_check, "fails", "import sys; print('boom'); sys.exit(3)")
    passing = _stand_in(
        gpu_check,
        "passes",
        "import json, sys; open(sys.argv[1], 'w').write(json.dumps({'value': 1.5}))",
    )
    first = gpu_check._run_step(failing, folder=tmp_path / "a", work=tmp_path, timeout=60, env=env)
    second = gpu_check._run_step(passing, folder=tmp_path / "b", work=tmp_path, timeout=60, env=env)
    assert (first["status"], first["returncode"]) == ("failed", 3)
    assert "boom" in first["log_tail"]
    assert "figures" not in first
    assert second["status"] == "ok"
    assert second["line"] == "value 1.5"


def test_unmeasured_goals_when_their_steps_gave_nothing() -> None:
    goals = _gpu_check()._goals({"throughput": {"status": "timeout"}}, dry_run=False)
    assert [g["status"] for g in goals] == ["unmeasured"] * 5


def test_wheels_install_offline_into_the_target(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    name = "rg_gpu_check_probe"
    with zipfile.ZipFile(wheels / f"{name}-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", "VALUE = 7\n")
        info = f"{name}-1.0.dist-info"
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")
    site = tmp_path / "site"
    result = _gpu_check()._install(wheels, site, tmp_path / "install.log", timeout=120)
    assert result["status"] == "ok", (tmp_path / "install.log").read_text()
    assert result["wheels"] == [f"{name}-1.0-py3-none-any.whl"]
    assert (site / name / "__init__.py").read_text() == "VALUE = 7\n"
    assert (
        _gpu_check()._install(tmp_path / "none", site, tmp_path / "x.log", timeout=1)["status"]
        == "skipped"
    )


def test_unknown_steps_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _gpu_check().main(["--steps", "smoke", "nope"])
    assert "unknown step(s) ['nope']" in capsys.readouterr().err


def test_list_prints_every_step_within_the_eight_minutes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _gpu_check().main(["--list"]) == 0
    printed = capsys.readouterr().out
    limits = [
        float(line.split("limit ")[1].split(" s")[0])
        for line in printed.splitlines()
        if "limit " in line
    ]
    assert sum(limits) <= 8 * 60
    for step in STEPS:
        assert f"\n{step}: " in printed
    assert "--device cuda" in printed
