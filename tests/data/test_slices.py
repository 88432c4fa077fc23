"""The stage 1 slice recipe: the library's, the user's own steps, and the job that runs them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from radiogenomics import Pipeline, SliceExtractor, TumorAreaFilter
from radiogenomics.data import (
    SegmentationPrepConfig,
    SliceRecipe,
    build_segmentation_pipeline,
    describe_step,
    prepare_segmentation,
)
from radiogenomics.errors import ConfigurationError
from radiogenomics.filters import SliceFilter
from radiogenomics.io import find_brats_cases
from radiogenomics.records import SliceRecord

SMALL = SegmentationPrepConfig(size=32, planes=("axial",), modalities=("flair", "t2"))


class EveryOther(SliceFilter):
    """A user's filter: keeps every other slice (by index), as a SliceFilter subclass."""

    def __init__(self, *, offset: int = 0) -> None:
        self.offset = offset

    def evaluate(self, record: SliceRecord) -> tuple[bool, SliceRecord]:
        return (record.index + self.offset) % 2 == 0, record

    def __repr__(self) -> str:
        return f"EveryOther(offset={self.offset})"


def keep_first_ten(records: Sequence[SliceRecord]) -> list[SliceRecord]:
    """A user's step as a plain function."""
    return list(records[:10])


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "prepare-config.json"
    }


def test_the_recipe_of_settings_records_the_settings() -> None:
    recipe = SliceRecipe.from_config(SMALL)
    assert recipe.record() == json.loads(SMALL.to_json())
    assert recipe.modalities == ("flair", "t2")
    assert recipe.orientation == "radiological"
    assert repr(recipe.pipeline) == repr(build_segmentation_pipeline(SMALL))


def test_a_pipeline_gives_the_same_slices_as_its_settings(
    synthetic_cohort: Path, tmp_path: Path
) -> None:
    # The job only batches and writes: the recipe decides the slices, however it was made.
    cases = find_brats_cases(synthetic_cohort)
    by_settings = tmp_path / "settings"
    by_steps = tmp_path / "steps"
    assert prepare_segmentation(cases, by_settings, config=SMALL).ok
    recipe = SliceRecipe(build_segmentation_pipeline(SMALL), modalities=SMALL.modalities)
    assert prepare_segmentation(cases, by_steps, recipe=recipe).ok
    assert _files(by_steps) == _files(by_settings)
    recorded = json.loads((by_steps / "prepare-config.json").read_text())
    assert (
        recorded["pipeline"][0] == "SliceExtractor(planes=('axial',), orientation='radiological')"
    )
    assert recorded["orientation"] == "radiological"
    assert recorded["regions"] == ["WT", "ET"]


def test_a_users_steps_run_in_the_job_and_resume_is_checked(
    synthetic_cohort: Path, tmp_path: Path
) -> None:
    cases = find_brats_cases(synthetic_cohort)
    out = tmp_path / "prepared"
    steps = [SliceExtractor(planes="axial"), EveryOther(), keep_first_ten]
    report = prepare_segmentation(cases, out, recipe=Pipeline(steps))
    assert report.ok
    rows = (out / "manifest.csv").read_text().splitlines()[1:]
    indices = [int(r.split(",")[3]) for r in rows]
    assert indices
    assert all(i % 2 == 0 for i in indices)
    assert len(rows) == 10 * 4 * 4  # 10 slices per modality, 4 modalities, 4 cases
    recorded = json.loads((out / "prepare-config.json").read_text())
    assert recorded["pipeline"][1] == "EveryOther(offset=0)"
    assert recorded["pipeline"][2] == f"{__name__}.keep_first_ten"
    # The same recipe resumes (nothing to do); another one is refused, naming the change.
    again = prepare_segmentation(cases, out, recipe=Pipeline(steps))
    assert [o.status for o in again.outcomes] == ["skipped"] * 4
    with pytest.raises(ConfigurationError, match=r"EveryOther\(offset=0\).*EveryOther\(offset=1\)"):
        prepare_segmentation(
            cases, out, recipe=Pipeline([SliceExtractor(planes="axial"), EveryOther(offset=1)])
        )


def test_steps_must_describe_themselves_and_pickle_for_workers(
    synthetic_cohort: Path, tmp_path: Path
) -> None:
    class Anonymous:
        def __call__(self, records: Sequence[SliceRecord]) -> list[SliceRecord]:
            return list(records)

    with pytest.raises(ConfigurationError, match="no repr showing its settings"):
        describe_step(Anonymous())
    with pytest.raises(ConfigurationError, match="no repr showing its settings"):
        SliceRecipe([SliceExtractor(), Anonymous()])
    local = Pipeline([SliceExtractor(planes="axial"), TumorAreaFilter(), lambda r: list(r)])
    cases = find_brats_cases(synthetic_cohort)
    with pytest.raises(ConfigurationError, match="cannot be pickled"):
        prepare_segmentation(cases, tmp_path / "out", recipe=local, workers=2)
    with pytest.raises(ConfigurationError, match="not both"):
        prepare_segmentation(cases, tmp_path / "out", recipe=local, config=SMALL)
    assert not (tmp_path / "out").exists()


def test_settings_given_to_a_recipe_are_checked() -> None:
    pipeline = build_segmentation_pipeline(SMALL)
    recipe = SliceRecipe(pipeline, modalities=SMALL.modalities, settings=SMALL)
    assert recipe.record() == json.loads(SMALL.to_json())  # recorded as the CLI records it
    with pytest.raises(ConfigurationError, match="not the one its settings describe"):
        SliceRecipe(pipeline, settings=SMALL)  # all four modalities, the settings say two
    other = SegmentationPrepConfig(size=64, planes=("axial",), modalities=("flair", "t2"))
    with pytest.raises(ConfigurationError, match=r"ResizeSlices\(size=32\)"):
        SliceRecipe(pipeline, modalities=SMALL.modalities, settings=other)
