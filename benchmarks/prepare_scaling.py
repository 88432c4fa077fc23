"""Stage 1 preparation throughput with 1, 2, ... worker processes, and memory per worker.

Writes a synthetic BraTS-like Task 1 cohort (``--cases`` cases of ``--shape`` voxels,
240 x 240 x 155 by default, as BraTS; :func:`~radiogenomics.testing.write_brats_cohort`)
once, then runs :func:`~radiogenomics.data.prepare_segmentation` over it into a fresh
folder for every ``--workers`` value, each in its own Python process. For each it reports:

* cases per second (the wall time of ``prepare_segmentation``, pool start included; the
  higher median of ``--repeats`` runs, the worker counts taking turns so that each sees the
  same share of whatever else the machine does) and the speed-up over the first
  ``--workers`` value;
* peak resident memory per worker: with 1 worker the cases are prepared in the process
  itself, so its own peak (``VmHWM`` of ``/proc/self/status``; ``getrusage`` would
  report the peak of the process that started it, which Linux carries over ``exec``);
  with more, the largest peak among the worker processes (``getrusage(RUSAGE_CHILDREN)``,
  read by the process that started them once they have exited; the pool forks them, so
  a worker's peak counts the pages it shares with that process).

Benchmarks
----------
Goals (issue 6): throughput scales with ``--workers`` (cases/s at 1 and 2 workers) and
peak memory per worker < 1.5 GB. On a 2-core machine shared with other jobs, the
speed-up at 2 workers is bounded by the cores actually free (the load average is
recorded).

    .venv/bin/python benchmarks/prepare_scaling.py                     # 4 cases, 1 and 2 workers
    .venv/bin/python benchmarks/prepare_scaling.py --cases 16 --workers 1 2 4 8
    .venv/bin/python benchmarks/prepare_scaling.py --shape 120 120 78 --cases 8

Writes JSON to ``--json`` (default ``benchmarks/results/prepare_scaling.json``) and a
markdown table beside it, and prints the table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Log, cpu_name, write_results


def _own_peak_mb() -> float:
    """This process's peak resident memory since it started (exec), in MB."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(args: argparse.Namespace) -> None:
    """Prepare the cohort with ``args.child`` workers; print one JSON line."""
    from radiogenomics.data import prepare_segmentation
    from radiogenomics.io import find_brats_cases
    from radiogenomics.presets import segmentation_preset

    cases = find_brats_cases(args.cohort)
    config = segmentation_preset(args.preset)
    before_mb = _own_peak_mb()
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    report = prepare_segmentation(cases, args.out, config=config, workers=args.child)
    seconds = time.perf_counter() - began
    cpu_seconds = _cpu_seconds() - cpu_before
    self_mb = _own_peak_mb()
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = sum(1 for _ in (Path(args.out) / "manifest.csv").open(encoding="utf-8")) - 1
    print(
        json.dumps(
            {
                "workers": args.child,
                "cases": len(cases),
                "ok": report.ok,
                "slices": rows,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mb_self": self_mb,
                "peak_rss_mb_self_before": before_mb,
                "peak_rss_mb_children": children_kib / 1024,
            }
        )
    )


def _run(workers: int, cohort: Path, out: Path, preset: str) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(workers),
        "--cohort",
        str(cohort),
        "--out",
        str(out),
        "--preset",
        preset,
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["cases_per_second"] = result["cases"] / result["seconds"]
    # One worker: the process itself prepared the cases. More: its forked workers did.
    result["peak_rss_mb_per_worker"] = (
        result["peak_rss_mb_self"] if workers == 1 else result["peak_rss_mb_children"]
    )
    return result


def _markdown(record: dict[str, Any]) -> str:
    lines = [
        f"Machine: {record['cpu']}, load average {record['load_average_before']}; "
        f"{record['cases']} synthetic cases of {' x '.join(map(str, record['shape']))} "
        f"voxels, preset {record['preset']}; cases/s: higher median of {record['repeats']} runs "
        "(all in the JSON).",
        "",
        "| workers | cases/s | speed-up | CPU s per case | slices | peak RSS per worker (MB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    first = record["runs"][0]["cases_per_second"]
    for run in record["runs"]:
        lines.append(
            f"| {run['workers']} | {run['cases_per_second']:.3f} | "
            f"{run['cases_per_second'] / first:.2f}x | {run['cpu_seconds'] / run['cases']:.2f} | "
            f"{run['slices']} | "
            f"{run['peak_rss_mb_per_worker']:.0f} |"
        )
    lines += [""] + [f"Goal: {g['goal']}: {g['value']} -> {g['status']}." for g in record["goals"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=4, help="synthetic cases to prepare")
    parser.add_argument(
        "--shape", type=int, nargs=3, default=(240, 240, 155), help="voxels of every case"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="runs per worker count")
    parser.add_argument("--preset", default="writeup", choices=("writeup", "released-code"))
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--json", type=Path, default=Path("benchmarks/results/prepare_scaling.json")
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cohort", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return

    from radiogenomics.testing import write_brats_cohort

    log = Log()
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-prepare-scaling-"))
    load_before = os.getloadavg()
    try:
        write_brats_cohort(work / "cohort", n_cases=args.cases, seed=0, shape=tuple(args.shape))
        log(f"wrote {args.cases} cases of {args.shape} to {work / 'cohort'}")
        tries: dict[int, list[dict[str, Any]]] = {w: [] for w in args.workers}
        for _ in range(args.repeats):
            for workers in args.workers:
                out = work / f"prepared-{workers}"
                shutil.rmtree(out, ignore_errors=True)
                tries[workers].append(_run(workers, work / "cohort", out, args.preset))
                log(
                    f"{workers} worker(s): {tries[workers][-1]['cases_per_second']:.3f} "
                    f"cases/s, peak RSS per worker "
                    f"{tries[workers][-1]['peak_rss_mb_per_worker']:.0f} MB"
                )
        runs = []
        for results in tries.values():
            run = dict(sorted(results, key=lambda r: r["cases_per_second"])[len(results) // 2])
            run["cases_per_second_all"] = [r["cases_per_second"] for r in results]
            run["peak_rss_mb_per_worker"] = max(r["peak_rss_mb_per_worker"] for r in results)
            runs.append(run)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    speedups = [r["cases_per_second"] / runs[0]["cases_per_second"] for r in runs]
    peak = max(r["peak_rss_mb_per_worker"] for r in runs)
    scales = all(b > a for a, b in itertools.pairwise(speedups))
    goals = [
        {
            "goal": f"throughput grows with --workers {args.workers}",
            "value": ", ".join(f"{v:.2f}x" for v in speedups),
            "status": "met" if scales and len(runs) > 1 else "MISSED",
        },
        {
            "goal": "peak memory per worker < 1.5 GB",
            "value": f"{peak:.0f} MB",
            "status": "met" if peak < 1536 else "MISSED",
        },
    ]
    record = {
        "command": " ".join(["python benchmarks/prepare_scaling.py", *sys.argv[1:]]),
        "cases": args.cases,
        "shape": list(args.shape),
        "preset": args.preset,
        "repeats": args.repeats,
        "runs": runs,
        "goals": goals,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "wall_seconds": round(log.elapsed(), 1),
    }
    write_results(record, _markdown(record), args.json)


if __name__ == "__main__":
    main()
