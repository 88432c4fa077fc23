"""Shared fixtures. Nothing here downloads: the hub is forced offline."""

from __future__ import annotations

import os
from pathlib import Path

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
