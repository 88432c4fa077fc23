"""Shared fixtures. Nothing here downloads: the hub is forced offline."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REAL_CASE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brats2021" / "BraTS2021_00006"
)


@pytest.fixture(scope="session")
def real_case_dir() -> Path:
    """The real BraTS 2021 case beside the repository (skips when absent)."""
    if not (REAL_CASE / "BraTS2021_00006_seg.nii.gz").is_file():
        pytest.skip(
            f"real BraTS case not found at {REAL_CASE}: it lives in ../shared/data beside "
            "the repository (CI has it; a user's clone does not)"
        )
    return REAL_CASE


@pytest.fixture(scope="session")
def real_case(real_case_dir: Path):  # type: ignore[no-untyped-def]
    """The real case, decoded once per session."""
    from radiogenomics.io import find_brats_cases, load_case

    return load_case(find_brats_cases(real_case_dir)[0])


@pytest.fixture(scope="session")
def synthetic_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small synthetic BraTS-like cases written as NIfTI (shared, read-only)."""
    from radiogenomics.testing import write_brats_cohort

    root = tmp_path_factory.mktemp("task1")
    write_brats_cohort(root, n_cases=4, seed=0, shape=(48, 48, 36))
    return root


def _write_segmentation_run(folder: Path, *, bias: float | None = 4.0) -> Path:
    """A stage 1 run folder whose model predicts a constant logit (deterministic masks).

    After the inverse zoom, the masks are the centre of the slice (the border that the
    1.2 zoom cut off is background). ``bias=None`` keeps the random initialisation
    (seed 0): masks that depend on the image.
    """
    import torch
    from safetensors.torch import save_file

    from radiogenomics.models.segmentation import CHECKPOINT_FORMAT, SegmentationModelConfig

    config = SegmentationModelConfig(architecture="Unet", encoder="tu-test_resnet", image_size=32)
    torch.manual_seed(0)
    model = config.create()
    head: Any = cast(Any, model).segmentation_head[0]
    with torch.no_grad():
        if bias is not None:
            head.weight.zero_()
            head.bias.fill_(bias)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": CHECKPOINT_FORMAT, "model_config": config.to_json()}
    save_file(tensors, str(folder / "best.safetensors"), metadata=metadata)
    return folder


@pytest.fixture(scope="session")
def make_segmentation_run() -> Callable[..., Path]:
    """Writes a tiny stage 1 run folder: ``make_segmentation_run(folder, bias=4.0)``."""
    return _write_segmentation_run


@pytest.fixture(scope="session")
def seg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stage 1 run folder (constant logit 4: masks are the slice centre); read-only."""
    return _write_segmentation_run(tmp_path_factory.mktemp("seg") / "run")


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: tiny models on a busy 2-core machine run far faster.

    Opt in per module: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- killed runs (fault injection) -----------------------------------------------------

_KILLER = """
import importlib, io, os, signal, sys

target, when = sys.argv[1], int(sys.argv[2])
module_name, _, attribute = target.partition(":")
owner = importlib.import_module(module_name)
*path, name = attribute.split(".")
for part in path:
    owner = getattr(owner, part)
real = getattr(owner, name)
calls = [0]


def die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def wrapper(*args, **kwargs):
    calls[0] += 1
    if calls[0] == when:
        if target == "numpy:save":  # leave half a file behind, as a kill mid-write does
            buffer = io.BytesIO()
            real(buffer, *args[1:], **kwargs)
            with open(args[0], "wb") as handle:
                handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        die()
    return real(*args, **kwargs)


setattr(owner, name, wrapper)
from radiogenomics.cli import main

sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="session")
def run_killed() -> Callable[..., int]:
    """Run the command line in a subprocess that is killed with SIGKILL part-way.

    ``run_killed(argv, at=("os:replace", 3))`` kills it just before the 3rd call of
    ``os.replace`` (``"numpy:save"`` first writes half the file);
    ``run_killed(argv, when=predicate)`` kills it from outside as soon as
    ``predicate()`` is true (polled every 5 ms). Without either, it runs to the end.
    Returns the exit status (``-9`` when killed). One thread per process.
    """
    import signal
    import subprocess
    import sys
    import time

    def run(
        argv: list[str],
        *,
        at: tuple[str, int] | None = None,
        when: Callable[[], bool] | None = None,
        timeout: float = 120.0,
    ) -> int:
        target, count = at if at is not None else ("os:getpid", 0)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [sys.executable, "-c", _KILLER, target, str(count), *argv]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + timeout
        while when is not None and process.poll() is None and time.monotonic() < deadline:
            if when():
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        try:
            _, err = process.communicate(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode not in (0, 1, -signal.SIGKILL):
            raise AssertionError(f"the command failed ({process.returncode}):\n{err}")
        return process.returncode

    return run
