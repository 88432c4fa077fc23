"""Batch bookkeeping: worker counts, workers that die with their parent, Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radiogenomics.data._jobs import WORKERS_PER_CPU, worker_count
from radiogenomics.errors import ConfigurationError

# Runs the command line with every case slowed down, so that a test can act mid-batch.
_SLOW = """
import importlib, signal, sys, time

# (radiogenomics.data.prepare_segmentation is also the name of a function)
job = importlib.import_module("radiogenomics.data.prepare_segmentation")

real = job.prepare_case
pause = float(sys.argv[1])


def slow(*args, **kwargs):
    time.sleep(pause)
    return real(*args, **kwargs)


job.prepare_case = slow
# As in a terminal: a shell that starts a job in the background (CI does) makes it
# ignore SIGINT, and Python then keeps ignoring it.
signal.signal(signal.SIGINT, signal.default_int_handler)
from radiogenomics.cli import main

sys.exit(main(sys.argv[2:]))
"""


def _start(argv: list[str], pause: float) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", _SLOW, str(pause), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _argv(task1: Path, out: Path, workers: int) -> list[str]:
    return [
        "prepare-segmentation",
        "--task1-dir",
        str(task1),
        "--out",
        str(out),
        "--size",
        "32",
        "--planes",
        "axial",
        "--workers",
        str(workers),
        "--no-progress",
    ]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_worker_count_is_capped_by_the_work_and_the_machine() -> None:
    cpus = os.cpu_count() or 1
    assert worker_count(1, 10) == 1
    assert worker_count(100_000, 4) == 4  # it used to fork 100,000 processes
    assert worker_count(100_000, 10_000) == WORKERS_PER_CPU * cpus
    assert worker_count(3, 0) == 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigurationError, match="whole number"):
            worker_count(bad, 4)  # type: ignore[arg-type]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; prctl is Linux")
def test_workers_die_with_their_parent(synthetic_cohort: Path, tmp_path: Path) -> None:
    process = _start(_argv(synthetic_cohort, tmp_path / "out", workers=2), pause=60.0)
    try:
        assert _wait_for(lambda: len(_children(process.pid)) >= 2), "no workers started"
        workers = _children(process.pid)
        process.send_signal(signal.SIGKILL)  # as the OOM killer does
        process.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(w) for w in workers), timeout=20), (
            "workers outlived their parent"
        )
    finally:
        process.kill()
        process.communicate()


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(
    synthetic_cohort: Path, tmp_path: Path, workers: int
) -> None:
    from radiogenomics.cli import main

    reference = tmp_path / "reference"
    assert main(_argv(synthetic_cohort, reference, workers=1)) == 0
    out = tmp_path / "out"
    process = _start(_argv(synthetic_cohort, out, workers=workers), pause=1.0)
    assert _wait_for(lambda: any(p.is_dir() for p in out.glob("BraTS*"))), "nothing written"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert "rerun it to continue" in err
    assert "Traceback" not in err
    assert (out / "manifest.csv").is_file()  # the finished cases are listed
    assert main(_argv(synthetic_cohort, out, workers=workers)) == 0
    assert _tree(out) == _tree(reference)
