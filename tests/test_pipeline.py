"""``Pipeline``: order, error pass-through with notes, wrapping of unexpected errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from radiogenomics import Pipeline, SliceExtractor, TumorAreaFilter
from radiogenomics.errors import (
    ConfigurationError,
    InvalidInputError,
    LabelError,
    RadiogenomicsError,
    StepError,
)
from radiogenomics.records import SliceRecord, VolumeRecord
from radiogenomics.testing import make_brats_case


class Append:
    """A step that appends its tag, to record the order steps ran in."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self, data: list[str]) -> list[str]:
        return [*data, self.tag]

    def __repr__(self) -> str:
        return f"Append({self.tag!r})"


class Raise:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, data: Any) -> Any:
        raise self.error

    def __repr__(self) -> str:
        return f"Raise({type(self.error).__name__})"


@pytest.fixture(scope="module")
def volume() -> VolumeRecord:
    return make_brats_case(seed=3, shape=(32, 32, 24)).volumes()[0]


def test_steps_run_in_order() -> None:
    pipeline = Pipeline([Append("a"), Append("b"), Append("c")])
    assert pipeline(["start"]) == ["start", "a", "b", "c"]


def test_empty_pipeline_is_identity() -> None:
    data = ["x"]
    assert Pipeline([])(data) is data


def test_sequence_protocol() -> None:
    steps = [Append("a"), Append("b")]
    pipeline = Pipeline(steps)
    assert len(pipeline) == 2
    assert list(pipeline) == steps
    assert pipeline[1] is steps[1]
    assert isinstance(pipeline.steps, tuple)


def test_repr_lists_the_steps() -> None:
    pipeline = Pipeline([SliceExtractor(planes=("axial",)), TumorAreaFilter(min_ratio=0.02)])
    assert repr(pipeline) == (
        "Pipeline([SliceExtractor(planes=('axial',)), TumorAreaFilter(min_ratio=0.02)])"
    )
    assert repr(Pipeline([])) == "Pipeline([])"


def test_real_steps_compose(volume: VolumeRecord) -> None:
    extract = SliceExtractor(planes=("axial",))
    keep = TumorAreaFilter(min_ratio=0.02)
    out = Pipeline([extract, keep])(volume)
    expected = keep(extract(volume))
    assert [s.index for s in out] == [s.index for s in expected]
    assert 0 < len(out) < volume.image.shape[2]
    assert all(isinstance(s, SliceRecord) and s.tumor_ratio > 0.02 for s in out)  # type: ignore[operator]


def test_non_callable_step_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"step 1 \(42\) is not callable"):
        Pipeline([Append("a"), 42])  # type: ignore[list-item]


def test_library_error_keeps_its_type_and_gains_a_note(volume: VolumeRecord) -> None:
    # TumorAreaFilter needs masks: slices of a volume without masks make it fail.
    pipeline = Pipeline([SliceExtractor(planes=("axial",)), TumorAreaFilter()])
    with pytest.raises(InvalidInputError, match="has no masks") as info:
        pipeline(volume.replace(masks=None))
    notes = getattr(info.value, "__notes__", [])
    assert notes == [f"in pipeline step 1 TumorAreaFilter() for patient {volume.patient_id}"]


def test_library_error_from_a_volume_step_names_the_patient(volume: VolumeRecord) -> None:
    error = LabelError("bad labels.")
    with pytest.raises(LabelError) as info:
        Pipeline([Raise(error)])(volume)
    assert info.value is error
    assert info.value.__notes__ == [
        f"in pipeline step 0 Raise(LabelError) for patient {volume.patient_id}"
    ]


@pytest.mark.parametrize("cls", [ValueError, TypeError, KeyError])
def test_value_like_builtins_pass_through_with_a_note(cls: type[Exception]) -> None:
    error = cls("boom")
    with pytest.raises(cls) as info:
        Pipeline([Append("a"), Raise(error)])([])
    assert info.value is error
    assert not isinstance(info.value, StepError)
    # The input was a list of strings: no patient to name.
    assert info.value.__notes__ == [f"in pipeline step 1 Raise({cls.__name__})"]


def test_unexpected_error_is_wrapped_in_step_error(volume: VolumeRecord) -> None:
    cause = ZeroDivisionError("division by zero")
    with pytest.raises(StepError) as info:
        Pipeline([Append("a"), Raise(cause)])([])
    error = info.value
    assert isinstance(error, RuntimeError)
    assert isinstance(error, RadiogenomicsError)
    assert error.__cause__ is cause
    assert "step 1 Raise(ZeroDivisionError) failed" in str(error)
    assert "ZeroDivisionError: division by zero" in str(error)


def test_step_error_names_the_patient_of_a_volume(volume: VolumeRecord) -> None:
    with pytest.raises(StepError) as info:
        Pipeline([Raise(ZeroDivisionError("x"))])(volume)
    assert info.value.patient_id == volume.patient_id
    assert f"patient {volume.patient_id}" in str(info.value)


def test_step_error_names_the_patient_of_a_slice_list(volume: VolumeRecord) -> None:
    def explode(records: list[SliceRecord]) -> list[SliceRecord]:
        return [records[0].replace(index=1 // 0)]

    pipeline = Pipeline([SliceExtractor(planes=("axial",)), explode])
    with pytest.raises(StepError) as info:
        pipeline(volume)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert info.value.patient_id == volume.patient_id
    assert "step 1" in str(info.value)


def test_keyboard_interrupt_is_not_wrapped() -> None:
    with pytest.raises(KeyboardInterrupt):
        Pipeline([Raise(KeyboardInterrupt())])([])


def test_input_is_not_changed(volume: VolumeRecord) -> None:
    image = np.array(volume.image)
    Pipeline([SliceExtractor(), TumorAreaFilter()])(volume)
    np.testing.assert_array_equal(volume.image, image)
