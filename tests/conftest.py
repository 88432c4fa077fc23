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


def _write_segmentation_run(folder: Path, *, bias: float = 4.0) -> Path:
    """A stage 1 run folder whose model predicts a constant logit (deterministic masks).

    After the inverse zoom, the masks are the centre of the slice (the border that the
    1.2 zoom cut off is background).
    """
    import torch
    from safetensors.torch import save_file

    from radiogenomics.models.segmentation import CHECKPOINT_FORMAT, SegmentationModelConfig

    config = SegmentationModelConfig(architecture="Unet", encoder="tu-test_resnet", image_size=32)
    torch.manual_seed(0)
    model = config.create()
    head: Any = cast(Any, model).segmentation_head[0]
    with torch.no_grad():
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
