"""The GPU check: every GPU path and every GPU goal, in one command that fits a short lease.

On a CUDA machine, from the repository root (``docs/benchmarks.rst``, "Running the GPU
check", gives the device command and how to read the results):

    python3 benchmarks/gpu_check.py --out gpu-check-out

runs, in order, each step in its own process under its own time limit, so that a step
that breaks or runs out of time leaves the others' figures:

0. (before the steps) install the wheels in ``--wheels`` (default ``.whl``: the
   project's dependencies the machine lacks, fetched beforehand by
   ``benchmarks/gpu_wheels.sh``) with ``pip --no-index --no-deps --target`` into the
   scratch folder, and put that folder and the repository's ``src/`` on the steps'
   ``PYTHONPATH``: the project is used in place, nothing is built, no network;
1. ``environment``: import every dependency; versions, where each came from, the GPU;
2. ``smoke``: ``gpu_smoke.py checks``: both training loops and inference, plain fp32 and
   with bf16, channels-last, fused AdamW, augmentation on the device and
   ``torch.compile``, on tiny models; bf16 against fp32 within the library's tolerance;
3. ``torchrun``: ``gpu_smoke.py torchrun``: the training command under ``torchrun``,
   DistributedDataParallel in 2 processes, an NCCL all-reduce;
4. ``throughput``: ``throughput.py`` at the reference's sizes;
5. ``predict_latency``: ``predict_latency.py`` with its defaults (series of 256 x 256,
   96 slices);
6. ``predict_latency_kaggle``: the same with Kaggle-sized series (512 x 512, 150 slices
   in each of the 4 series: an upper bound, as the contrast series is the longest);
7. ``two_stage``: ``examples/two_stage_solution.py`` on synthetic data with the ``tiny``
   preset (small settings).

Time: each step has a limit (``Step.limit_s``, set in ``_steps``), and gets on top of it
what the steps before it left unused: its timeout is the budget left minus the limits of
the steps after it. The limits (15 s for the install included) add up to the budget,
8 minutes on CUDA (``--scale`` multiplies them); a step that runs out is stopped (its
process group is killed) and recorded as ``timeout``, with what it wrote so far.

Output, in ``--out`` (three files, as a device lease brings back at most eight), written
again after every step so that a run stopped from outside keeps what it finished:
``summary.json`` (every step's status, seconds, timeout, headline figures and full JSON
record; the goals), ``summary.md`` (the tables printed at the end) and
``logs.tar.gz`` (each step's log and files).

``--dry-run`` runs the same steps on the CPU with tiny sizes, a few seconds each, so
that the script cannot rot between GPU runs (the test suite runs it). The exit status
is 0 when every step passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import run_group

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
DEPENDENCIES = (
    "torch",
    "torchvision",
    "timm",
    "segmentation_models_pytorch",
    "cv2",
    "numpy",
    "scipy",
    "sklearn",
    "nibabel",
    "pydicom",
    "safetensors",
    "tqdm",
    "radiogenomics",
)
GOAL_SECONDS = 2.0
INSTALL_LIMIT_S = 15.0
"""Seconds for installing the carried wheels (part of the budget)."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One step: a command, its time limits and the JSON record it writes.

    Attributes:
        name: The step's name (its log is ``<name>.log``).
        what: One line saying what it runs.
        limit_s: Its time limit on CUDA and in a dry run (seconds).
        command: The command, given the step's folder and the scratch folder.
        record: Where the command writes its JSON record, given the same folders.
        figures: The headline figures of the record, and a line that says them.
    """

    name: str
    what: str
    limit_s: tuple[float, float]
    command: Callable[[Path, Path], list[str]]
    record: Callable[[Path, Path], Path]
    figures: Callable[[dict[str, Any]], tuple[dict[str, Any], str]]


# -- figures of each step's record -----------------------------------------------------------


def _environment_figures(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    versions = record["versions"]
    figures = {"gpu": record.get("gpu"), "gpus": record.get("gpus", 0), "versions": versions}
    line = f"{record.get('gpu') or 'no GPU'}; " + ", ".join(
        f"{name} {version}" for name, version in versions.items()
    )
    return figures, line


def _checks_figures(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    checks = record["checks"]
    not_ok = [n for n, c in checks.items() if c["status"] not in ("ok", "skipped")]
    skipped = [n for n, c in checks.items() if c["status"] == "skipped"]
    figures: dict[str, Any] = {
        "checks": len(checks),
        "passed": sum(c["status"] == "ok" for c in checks.values()),
        "not_passed": not_ok,
        "skipped": skipped,
    }
    masks = checks.get("mask_predictor", {}).get("fast", {})
    patient = checks.get("run_prediction", {}).get("fast", {})
    if "max_abs_probability_diff" in masks:
        figures["bf16_mask_probability_max_abs_diff"] = masks["max_abs_probability_diff"]
    if "abs_diff_vs_fp32" in patient:
        figures["bf16_patient_probability_abs_diff"] = patient["abs_diff_vs_fp32"]
    for name in ("train_segmentation/fast", "train_classification/fast"):
        if "fused_adamw" in checks.get(name, {}):
            figures[f"{name.split('/')[0]}_fused_adamw"] = checks[name]["fused_adamw"]
    line = f"{figures['passed']}/{len(checks)} checks passed"
    line += f"; failed: {', '.join(not_ok)}" if not_ok else ""
    line += f"; skipped: {', '.join(skipped)}" if skipped else ""
    if "bf16_mask_probability_max_abs_diff" in figures:
        line += (
            f"; bf16 vs fp32: masks {figures['bf16_mask_probability_max_abs_diff']:.4f}, "
            f"patient {figures.get('bf16_patient_probability_abs_diff', math.nan):.4f} "
            f"(tolerance {record.get('tolerance')})"
        )
    return figures, line


def _throughput_figures(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    figures: dict[str, Any] = {}
    parts = []
    for name, model in record["models"].items():
        runs, speedups = model["runs"], model["speedups"]
        entry = {f"{run}_images_per_second": runs[run]["images_per_second"] for run in runs}
        entry.update({f"{run}_vs_plain_fp32": value for run, value in speedups.items()})
        if "end_to_end_vs_model_only" in model:
            entry["end_to_end_vs_model_only"] = model["end_to_end_vs_model_only"]
        entry["bf16_max_abs_probability_diff"] = model["agreement"]["max_abs_probability_diff"]
        figures[name] = entry
        parts.append(
            f"{name}: train {speedups.get('train_library', math.nan):.2f}x, infer "
            f"{speedups.get('infer_library', math.nan):.2f}x, end to end "
            f"{model.get('end_to_end_vs_model_only', math.nan):.2f}"
        )
    return figures, "; ".join(parts) + " (library vs plain fp32)"


def _latency_figures(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    s = record["settings"]
    figures: dict[str, Any] = {
        "series": f"{s['series_size']}x{s['series_size']}x{s['series_slices']}",
        "per_patient_seconds": {m: v["processing_seconds"] for m, v in record["modes"].items()},
        "steps_seconds": {m: v["steps_seconds"] for m, v in record["modes"].items()},
        "chunks": {m: sum(v["chunks"].values()) for m, v in record["modes"].items()},
    }
    line = f"series {figures['series']}: " + ", ".join(
        f"{m} {v:.3f} s" for m, v in figures["per_patient_seconds"].items()
    )
    if record.get("cli"):
        figures["cli_seconds"] = record["cli"]["seconds"]
        line += f"; fresh `radiogenomics predict` {record['cli']['seconds']:.1f} s"
    return figures, line + " per patient"


def _two_stage_figures(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    figures: dict[str, Any] = {"wall_seconds": record["wall_seconds"]}
    test = record.get("test")
    if isinstance(test, dict) and isinstance(test.get("auc"), (int, float)):
        figures["test_patient_auc"] = test["auc"]
    line = f"{record.get('preset')} preset on {record.get('device')}: {record['wall_seconds']} s"
    if "test_patient_auc" in figures:
        line += f", test AUC {figures['test_patient_auc']:.3f} (synthetic, tiny: not a score)"
    return figures, line


# -- the steps -------------------------------------------------------------------------------


def _steps(dry_run: bool) -> list[Step]:
    """The steps in order, with the options of a CUDA run or of a dry run."""
    python = sys.executable

    def script(name: str) -> str:
        return str(BENCHMARKS / name)

    def json_in(name: str) -> Callable[[Path, Path], Path]:
        return lambda folder, work: folder / name

    if dry_run:
        device = ["--device", "cpu"]
        smoke = ["--image-size", "32"]
        throughput = [
            *("--tiny", "--image-size", "32", "--iterations", "1", "--warmup", "0"),
            *("--library-steps", "2", "--seg-train-batch", "2", "--seg-infer-batch", "2"),
            *("--cls-train-batch", "1", "--cls-infer-batch", "1", "--threads", "1"),
        ]
        latency = [
            *("--models", "tiny", "--image-size", "32", "--frames", "8"),
            *("--series-size", "32", "--series-slices", "12", "--repeats", "1"),
            *("--workers", "1", "--modes", "default", "--cli-repeats", "0"),
        ]
        kaggle = [*latency, "--series-size", "48", "--series-slices", "16"]
        two_stage = [
            *("--patients", "4", "--test-patients", "2", "--task1-cases", "2"),
            *("--mri-types", "FLAIR", "--workers", "1"),
        ]
    else:
        device = ["--device", "cuda"]
        smoke = []
        throughput = []
        latency = ["--repeats", "2"]
        kaggle = [
            *latency,
            *("--series-size", "512", "--series-slices", "150"),
            *("--train-series-size", "128", "--train-series-slices", "32"),
            *("--modes", "default", "plain", "--cli-repeats", "0"),
        ]
        two_stage = ["--patients", "8", "--test-patients", "4", "--task1-cases", "2"]
    two_stage += ["--seg-epochs", "1", "--cls-epochs", "1"]

    return [
        Step(
            "environment",
            "import every dependency; versions, folders, the GPU",
            (15, 60),
            lambda folder, work: [
                python,
                script("gpu_check.py"),
                "--report-environment",
                str(folder / "environment.json"),
            ],
            json_in("environment.json"),
            _environment_figures,
        ),
        Step(
            "smoke",
            "gpu_smoke.py checks: every GPU path on tiny models",
            (125, 90),
            lambda folder, work: [
                *(python, script("gpu_smoke.py"), "checks", *device, *smoke),
                *("--json", str(folder / "smoke.json"), "--work", str(work)),
            ],
            json_in("smoke.json"),
            _checks_figures,
        ),
        Step(
            "torchrun",
            "gpu_smoke.py torchrun: torchrun, DDP in 2 processes, NCCL",
            (35, 90),
            lambda folder, work: [
                *(python, script("gpu_smoke.py"), "torchrun", *device, *smoke),
                *("--json", str(folder / "torchrun.json"), "--work", str(work)),
                *("--launch-timeout", "120" if dry_run else "30"),
            ],
            json_in("torchrun.json"),
            _checks_figures,
        ),
        Step(
            "throughput",
            "throughput.py: both models, plain fp32 vs the library, reference sizes",
            (105, 90),
            lambda folder, work: [
                *(python, script("throughput.py"), *device, *throughput),
                *("--json", str(folder / "throughput.json"), "--work", str(work / "throughput")),
            ],
            json_in("throughput.json"),
            _throughput_figures,
        ),
        Step(
            "predict_latency",
            "predict_latency.py: one patient, series of its default size",
            (65, 90),
            lambda folder, work: [
                *(python, script("predict_latency.py"), *device, *latency),
                *("--json", str(folder / "predict_latency.json"), "--work", str(work / "pl")),
            ],
            json_in("predict_latency.json"),
            _latency_figures,
        ),
        Step(
            "predict_latency_kaggle",
            "predict_latency.py: one Kaggle-sized patient (512 x 512, 150 slices per series)",
            (80, 90),
            lambda folder, work: [
                *(python, script("predict_latency.py"), *device, *kaggle),
                *("--json", str(folder / "predict_latency_kaggle.json")),
                *("--work", str(work / "pl-kaggle")),
            ],
            json_in("predict_latency_kaggle.json"),
            _latency_figures,
        ),
        Step(
            "two_stage",
            "examples/two_stage_solution.py, tiny preset, synthetic data",
            (40, 120),
            lambda folder, work: [
                *(python, str(REPO / "examples" / "two_stage_solution.py"), *device),
                *("--preset", "tiny", "--out", str(work / "two-stage"), *two_stage),
            ],
            lambda folder, work: work / "two-stage" / "summary.json",
            _two_stage_figures,
        ),
    ]


# -- running ---------------------------------------------------------------------------------


def _say(message: str, began: float) -> None:
    print(f"[{time.perf_counter() - began:6.1f} s] {message}", flush=True)


def _install(wheels: Path | None, site: Path, log: Path, timeout: float) -> dict[str, Any]:
    """Install the carried wheels into ``site`` without the network (pip --no-index)."""
    found = sorted(wheels.glob("*.whl")) if wheels is not None and wheels.is_dir() else []
    if not found:
        return {"status": "skipped", "reason": f"no wheels in {wheels}", "wheels": []}
    command = [
        *(sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"),
        *("--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site)),
        *(str(path) for path in found),
    ]
    with log.open("w", encoding="utf-8") as out:
        try:
            result = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
            status = "ok" if result.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            status = "timeout"
    return {"status": status, "wheels": [path.name for path in found], "site": str(site)}


def _tail(path: Path, lines: int = 25) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _run_step(
    step: Step, *, folder: Path, work: Path, timeout: float, env: dict[str, str]
) -> dict[str, Any]:
    """Run one step to its end or its timeout; read its record and figures."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{step.name}.log"
    command = step.command(folder, work)
    began = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        returncode = run_group(command, timeout=timeout, output=out, env=env, cwd=REPO)
    status = "timeout" if returncode is None else "ok" if returncode == 0 else "failed"
    result: dict[str, Any] = {
        "status": status,
        "what": step.what,
        "seconds": round(time.perf_counter() - began, 1),
        "timeout_s": round(timeout, 1),
        "returncode": returncode,
        "command": " ".join(command),
    }
    path = step.record(folder, work)
    record = None
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            result["record_error"] = f"{path.name} is not JSON: {error}"
    if record is not None:
        if path.parent != folder:  # keep it with the step's files
            shutil.copy(path, folder / f"{step.name}.json")
        result["record"] = record
        try:
            result["figures"], result["line"] = step.figures(record)
        except Exception as error:  # a record of another shape than expected
            result["figures_error"] = f"{type(error).__name__}: {error}"
    elif status == "ok":
        result["status"] = "failed"
        result["record_error"] = f"the step wrote no record at {path}"
    if result["status"] != "ok" or "figures_error" in result:
        result["log_tail"] = _tail(log)
    return result


def _goals(steps: dict[str, dict[str, Any]], dry_run: bool) -> list[dict[str, Any]]:
    """Every GPU goal with its value, or ``unmeasured`` where its step gave none."""
    note = " (CPU dry run: not a measurement)" if dry_run else ""
    goals: list[dict[str, Any]] = []
    throughput = steps.get("throughput", {}).get("record", {})
    measured = {g["goal"]: g for g in throughput.get("goals", [])}
    for text, target in (
        ("library training >= 2x plain fp32", 2.0),
        ("library inference >= 2.5x plain fp32", 2.5),
        ("end-to-end training >= 0.9x model-only", 0.9),
    ):
        goal = measured.get(text)
        if goal is None:
            goals.append({"goal": text, "target": target, "values": {}, "status": "unmeasured"})
            continue
        met = all(v >= target for v in goal["values"].values())
        status = ("met" if met else "MISSED") + note
        goals.append({"goal": text, "target": target, "values": goal["values"], "status": status})
    for step, label in (
        ("predict_latency", "predict one patient < 2 s (default series)"),
        ("predict_latency_kaggle", "predict one patient < 2 s (Kaggle-sized series)"),
    ):
        figures = steps.get(step, {}).get("figures", {})
        value = figures.get("per_patient_seconds", {}).get("default")
        if value is None:
            goals.append(
                {"goal": label, "target": GOAL_SECONDS, "values": {}, "status": "unmeasured"}
            )
            continue
        status = ("met" if value < GOAL_SECONDS else "MISSED") + note
        goals.append(
            {
                "goal": f"{label}, {figures['series']}",
                "target": GOAL_SECONDS,
                "values": {"default": value},
                "status": status,
            }
        )
    return goals


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"GPU check ({'CPU dry run' if summary['dry_run'] else 'CUDA'}), "
        f"{summary['started_utc']}, {summary['wall_seconds']:.0f} s of a "
        f"{summary['budget_s']:.0f} s budget",
        "",
        "| step | status | seconds (timeout) | figures |",
        "|---|---|---:|---|",
    ]
    install = summary["install"]
    lines.append(
        f"| install | {install['status']} | - | "
        f"{', '.join(install['wheels']) or install.get('reason', '')} |"
    )
    for name, step in summary["steps"].items():
        line = step.get("line") or step.get("record_error") or step.get("figures_error") or ""
        lines.append(
            f"| {name} | {step['status']} | {step['seconds']:.0f} ({step['timeout_s']:.0f}) | "
            f"{line} |"
        )
    lines += ["", "| goal | values | status |", "|---|---|---|"]
    for goal in summary["goals"]:
        values = ", ".join(f"{k} {v:.2f}" for k, v in goal["values"].items()) or "-"
        lines.append(f"| {goal['goal']} | {values} | {goal['status']} |")
    return "\n".join(lines) + "\n"


def _write(summary: dict[str, Any], folder: Path, out: Path) -> str:
    """Write ``summary.json``, ``summary.md`` and ``logs.tar.gz`` to ``out``; the table."""
    summary["goals"] = _goals(summary["steps"], summary["dry_run"])
    table = _markdown(summary)
    text = json.dumps(summary, indent=2, default=str) + "\n"
    (out / "summary.json").write_text(text, encoding="utf-8")
    (out / "summary.md").write_text(table, encoding="utf-8")
    with tarfile.open(out / "logs.tar.gz", "w:gz") as archive:
        archive.add(folder, arcname="gpu-check")
    return table


def run(args: argparse.Namespace) -> int:
    """Run the steps in order; write the results after each one (a killed run keeps them)."""
    began = time.perf_counter()
    steps = [s for s in _steps(args.dry_run) if not args.steps or s.name in args.steps]
    limits = [s.limit_s[1 if args.dry_run else 0] * args.scale for s in steps]
    budget = INSTALL_LIMIT_S * args.scale + sum(limits)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rg-gpu-check-", dir=args.work))
    folder = work / "steps"
    folder.mkdir()
    _say(f"GPU check{' (dry run, CPU)' if args.dry_run else ''}: budget {budget:.0f} s", began)
    install = _install(
        args.wheels, work / "site", folder / "install.log", timeout=INSTALL_LIMIT_S * args.scale
    )
    _say(f"install: {install['status']} {' '.join(install['wheels'])}", began)
    paths = [str(work / "site")] if install["status"] == "ok" else []
    paths += [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TQDM_DISABLE": "1",
    }
    summary: dict[str, Any] = {
        "command": " ".join(["python benchmarks/gpu_check.py", *sys.argv[1:]]),
        "dry_run": args.dry_run,
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "budget_s": budget,
        "wall_seconds": 0.0,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "install": install,
        "steps": {},
    }
    table = ""
    try:
        for index, step in enumerate(steps):
            left = budget - (time.perf_counter() - began)
            timeout = max(left - sum(limits[index + 1 :]), limits[index] / 4, 5.0)
            _say(f"{step.name} ({step.what}), timeout {timeout:.0f} s", began)
            done = _run_step(step, folder=folder / step.name, work=work, timeout=timeout, env=env)
            summary["steps"][step.name] = done
            _say(f"{step.name}: {done['status']} in {done['seconds']:.0f} s", began)
            if "log_tail" in done:
                print(done["log_tail"], flush=True)
            summary["wall_seconds"] = round(time.perf_counter() - began, 1)
            table = _write(summary, folder, args.out)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table, flush=True)
    print(f"wrote {args.out / 'summary.json'}, summary.md and logs.tar.gz", flush=True)
    return 0 if all(r["status"] == "ok" for r in summary["steps"].values()) else 1


def report_environment(path: Path) -> int:
    """Import every dependency; write their versions, folders and the GPU to ``path``."""
    versions: dict[str, str] = {}
    folders: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name in DEPENDENCIES:
        try:
            module = importlib.import_module(name)
        except Exception as error:
            missing[name] = f"{type(error).__name__}: {error}"
            continue
        versions[name] = str(getattr(module, "__version__", "?"))
        folders[name] = str(Path(module.__file__ or "?").parent)
    record: dict[str, Any] = {
        "versions": versions,
        "folders": folders,
        "missing": missing,
        "gpu": None,
        "gpus": 0,
    }
    if "torch" in versions:
        import torch

        record["gpus"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if record["gpus"]:
            record["gpu"] = torch.cuda.get_device_name(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, reason in missing.items():
        print(f"cannot import {name}: {reason}", file=sys.stderr)
    return 1 if missing else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Wheels: bash benchmarks/gpu_wheels.sh (here, with network) fills .whl/.",
    )
    parser.add_argument("--out", type=Path, default=Path("gpu-check-out"), help="results folder")
    parser.add_argument(
        "--wheels",
        type=Path,
        default=REPO / ".whl",
        help="folder of wheels to install first, offline (default .whl)",
    )
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes (seconds a step)")
    parser.add_argument(
        "--steps", nargs="+", metavar="STEP", help="run only these steps (default: all)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every time limit (default 1)"
    )
    parser.add_argument("--work", type=Path, help="where the scratch folder goes (default /tmp)")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--list", action="store_true", help="print the steps, limits and commands; run nothing"
    )
    parser.add_argument("--report-environment", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report_environment is not None:
        return report_environment(args.report_environment)
    if args.list:
        column = 1 if args.dry_run else 0
        print(f"install: wheels in {args.wheels}, limit {INSTALL_LIMIT_S * args.scale:.0f} s")
        for step in _steps(args.dry_run):
            command = step.command(Path("STEP"), Path("WORK"))
            print(f"{step.name}: {step.what}, limit {step.limit_s[column] * args.scale:.0f} s")
            print("    " + " ".join(command))
        return 0
    names = [s.name for s in _steps(args.dry_run)]
    unknown = sorted(set(args.steps or ()) - set(names))
    if unknown:
        parser.error(f"unknown step(s) {unknown}; choose from {names}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
