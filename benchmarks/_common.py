"""Helpers shared by the benchmarks (throughput, predict latency, the GPU check ...).

The scripts run as ``python benchmarks/<name>.py``, so this module is importable as
``_common`` (the script's folder is first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any


class Log:
    """Prints messages prefixed with the seconds since it was made."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f} s] {message}", flush=True)


def cpu_name() -> str:
    """The CPU model and the number of cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {cores} cores"
    except OSError:
        pass
    return f"{platform.processor() or 'unknown CPU'}, {cores} cores"


def device_name(device: Any) -> str:
    """``torch.cuda.get_device_name`` on CUDA, else the CPU's name."""
    import torch

    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return cpu_name()


def machine() -> dict[str, Any]:
    """What ran the benchmark, for the JSON record."""
    import torch

    return {
        "machine": platform.platform(),
        "cpu": cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def write_results(record: dict[str, Any], table: str, path: Path) -> None:
    """Print the markdown table, write it and the JSON record, say where."""
    print()
    print(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    markdown = path.with_suffix(".md")
    markdown.write_text(table, encoding="utf-8")
    print(f"wrote {path} and {markdown}")


def permissive_prep() -> Any:
    """Stage 2 preparation that keeps every frame with any predicted tumor pixel.

    For untrained stage 1 runs: the reference's filters would drop most frames, leaving
    stage 2 nothing to predict. An upper bound on a real patient's frames.
    """
    from radiogenomics.data import ClassificationPrepConfig

    return ClassificationPrepConfig(
        min_ratio=0.0, reference="slice", min_contours=0, max_contours=10**6
    )


def run_group(
    command: Sequence[str],
    *,
    timeout: float,
    output: IO[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int | None:
    """Run ``command`` in a session of its own, its output to ``output``.

    At ``timeout`` seconds its whole process group is ended (SIGTERM, then SIGKILL 10 s
    later), so that no child (a torchrun worker, a data loader) outlives it.

    Returns:
        The exit status, or None when it ran out of time.
    """
    process = subprocess.Popen(
        list(command),
        stdout=output,
        stderr=subprocess.STDOUT,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10.0)
            break
        except subprocess.TimeoutExpired:
            continue
    return None
