"""The exception hierarchy and the option validators that raise from it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from radiogenomics._options import check_choice, check_range, short_repr
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    GeometryError,
    InputNotFoundError,
    InvalidInputError,
    LabelError,
    MissingDecoderError,
    MissingDependencyError,
    RadiogenomicsError,
    StepError,
)

# Each error and the builtin(s) it promises to be, so callers can catch either.
BUILTINS: list[tuple[type[RadiogenomicsError], tuple[type[Exception], ...]]] = [
    (InvalidInputError, (ValueError,)),
    (InputNotFoundError, (FileNotFoundError, OSError)),
    (CorruptFileError, (InvalidInputError, ValueError)),
    (GeometryError, (InvalidInputError, ValueError)),
    (LabelError, (InvalidInputError, ValueError)),
    (ConfigurationError, (ValueError,)),
    (MissingDecoderError, (RuntimeError,)),
    (MissingDependencyError, (ImportError,)),
    (StepError, (RuntimeError,)),
]


@pytest.mark.parametrize(("cls", "builtins"), BUILTINS, ids=lambda v: getattr(v, "__name__", ""))
def test_error_is_also_the_builtin_it_claims(
    cls: type[RadiogenomicsError], builtins: tuple[type[Exception], ...]
) -> None:
    assert issubclass(cls, RadiogenomicsError)
    for builtin in builtins:
        assert issubclass(cls, builtin)
    # Catchable as the builtin, with the library's message.
    with pytest.raises(builtins[0], match="went wrong"):
        raise cls("went wrong")


@pytest.mark.parametrize("cls", [c for c, _ in BUILTINS], ids=lambda c: c.__name__)
def test_message_names_patient_and_file(cls: type[RadiogenomicsError], tmp_path: Path) -> None:
    path = tmp_path / "case_flair.nii.gz"
    error = cls("the volume is odd.", path=path, patient_id="BraTS2021_00006")
    text = str(error)
    assert "patient BraTS2021_00006" in text
    assert f"file {path}" in text
    assert text.endswith("the volume is odd.")
    assert error.message == "the volume is odd."
    assert error.path == path
    assert error.patient_id == "BraTS2021_00006"


def test_message_without_context_is_the_bare_message() -> None:
    error = InvalidInputError("plain.")
    assert str(error) == "plain."
    assert error.path is None
    assert error.patient_id is None


def test_path_given_as_string_becomes_a_path() -> None:
    error = InputNotFoundError("missing.", path="some/where.csv")
    assert error.path == Path("some/where.csv")
    assert "file some/where.csv" in str(error)


@pytest.mark.parametrize("cls", [c for c, _ in BUILTINS], ids=lambda c: c.__name__)
def test_pickle_round_trip_keeps_fields(cls: type[RadiogenomicsError], tmp_path: Path) -> None:
    error = cls("broken.", path=tmp_path / "x.dcm", patient_id="00109")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is cls
    assert clone.message == "broken."
    assert clone.path == tmp_path / "x.dcm"
    assert clone.patient_id == "00109"
    assert str(clone) == str(error)


def test_missing_dependency_keeps_the_module_name(tmp_path: Path) -> None:
    error = MissingDependencyError("no matplotlib.", path=tmp_path / "a.png", name="matplotlib")
    clone = pickle.loads(pickle.dumps(error))
    for value in (error, clone):
        assert value.name == "matplotlib"
        assert value.path == tmp_path / "a.png"
        assert str(value) == f"[file {tmp_path / 'a.png'}] no matplotlib."


def test_pickle_round_trip_without_context() -> None:
    clone = pickle.loads(pickle.dumps(LabelError("no context.")))
    assert type(clone) is LabelError
    assert clone.path is None
    assert clone.patient_id is None
    assert str(clone) == "no context."


# --- check_choice -------------------------------------------------------------------


def test_check_choice_returns_a_valid_value() -> None:
    assert check_choice("method", "stride", ("similarity", "stride")) == "stride"


def test_check_choice_suggests_the_closest_option() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_choice("method", "stide", ("similarity", "stride"))
    text = str(info.value)
    assert "method='stide'" in text
    assert "Did you mean 'stride'?" in text
    # Every valid option is listed, sorted.
    assert "expected one of 'similarity', 'stride'" in text


def test_check_choice_without_close_match_has_no_hint() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_choice("plane", "zzzzzz", ("axial", "coronal", "sagittal"))
    assert "Did you mean" not in str(info.value)
    assert "'axial', 'coronal', 'sagittal'" in str(info.value)


def test_check_choice_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Did you mean 'axial'"):
        check_choice("plane", "axail", ("axial", "coronal", "sagittal"))


# --- check_range --------------------------------------------------------------------


def test_check_range_accepts_inclusive_bounds() -> None:
    assert check_range("x", 0.0, low=0.0, high=1.0) == 0.0
    assert check_range("x", 1.0, low=0.0, high=1.0) == 1.0
    assert check_range("x", 5, low=0.0) == 5


@pytest.mark.parametrize(
    ("value", "kwargs", "interval"),
    [
        (0.0, {"low": 0.0, "high": 1.0, "low_inclusive": False}, "(0.0, 1.0]"),
        (1.0, {"low": 0.0, "high": 1.0, "high_inclusive": False}, "[0.0, 1.0)"),
        (-0.5, {"low": 0.0}, "[0.0, inf]"),
        (2.0, {"high": 1.0}, "[-inf, 1.0]"),
    ],
)
def test_check_range_rejects_outside_with_the_interval(
    value: float, kwargs: dict[str, float | bool], interval: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_range("min_ratio", value, **kwargs)  # type: ignore[arg-type]
    assert f"min_ratio={value!r} is out of range" in str(info.value)
    assert interval in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), "0.1", None])
def test_check_range_rejects_non_numbers(value: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a number"):
        check_range("min_ratio", value, low=0.0)  # type: ignore[arg-type]


def test_short_repr_shows_only_non_default_parameters() -> None:
    class Step:
        pass

    step = Step()
    assert short_repr(step, a=(1, 1), b=("x", "x")) == "Step()"
    assert short_repr(step, a=(2, 1), b=("x", "x")) == "Step(a=2)"
    assert short_repr(step, a=(2, 1), b=("y", "x")) == "Step(a=2, b='y')"
