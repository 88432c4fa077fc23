"""``Pipeline``: an ordered list of steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from radiogenomics.errors import RadiogenomicsError, StepError

__all__ = ["Pipeline", "Step"]

Step = Callable[[Any], Any]
"""Any callable that takes the previous step's output (a record or a list of records)."""


def _patient(value: object) -> str | None:
    """The patient of a record, or of the first record of a sequence, if any."""
    patient = getattr(value, "patient_id", None)
    if patient is None and isinstance(value, Sequence) and value and not isinstance(value, str):
        patient = getattr(value[0], "patient_id", None)
    return None if patient is None else str(patient)


def _describe(value: object) -> str:
    patient = _patient(value)
    return f" for patient {patient}" if patient is not None else ""


class Pipeline:
    """Apply steps in order; each step's output is the next step's input.

    Typical stage 1 use: a :class:`~radiogenomics.slicing.SliceExtractor` turns a
    volume into slices, then filters and samplers keep some of them.

    On failure, errors of the library's hierarchy (and builtin ``ValueError``-like
    errors) keep their type and gain a note naming the step; any other exception is
    wrapped in :class:`~radiogenomics.errors.StepError`, which names the step and the
    patient and chains the original.

    Args:
        steps: The steps, in order.

    Example:
        >>> from radiogenomics import Pipeline, SliceExtractor, TumorAreaFilter
        >>> Pipeline([SliceExtractor(planes=("axial",)), TumorAreaFilter(min_ratio=0.02)])
        Pipeline([SliceExtractor(planes=('axial',)), TumorAreaFilter(min_ratio=0.02)])
    """

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps: tuple[Step, ...] = tuple(steps)
        for position, step in enumerate(self.steps):
            if not callable(step):
                from radiogenomics.errors import ConfigurationError

                raise ConfigurationError(
                    f"step {position} ({step!r}) is not callable; a step is any callable "
                    "that takes the previous step's output."
                )

    def __call__(self, data: Any) -> Any:
        """Run every step on ``data`` and return the last step's output."""
        for position, step in enumerate(self.steps):
            try:
                data = step(data)
            except (RadiogenomicsError, ValueError, TypeError, KeyError) as error:
                error.add_note(f"in pipeline step {position} {step!r}{_describe(data)}")
                raise
            except Exception as error:
                raise StepError(
                    f"step {position} {step!r} failed: {type(error).__name__}: {error}",
                    patient_id=_patient(data),
                ) from error
        return data

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> Step:
        return self.steps[index]

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(s) for s in self.steps)}])"
