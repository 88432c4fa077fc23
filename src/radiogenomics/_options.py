"""Validation helpers for keyword-only configuration."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

from radiogenomics.errors import ConfigurationError

T = TypeVar("T", bound=str)


_MAX_LISTED = 20
"""Choices beyond this many are not listed in an error, only the closest few."""


def check_choice(
    name: str, value: str, choices: Collection[str], *, listing: str | None = None
) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a did-you-mean error.

    A short list of choices is given whole; a long one (timm's model names) is not:
    the message names the closest few and ``listing``, where to see them all.

    Args:
        name: The option's name, as the user spells it.
        value: The value received.
        choices: The valid values.
        listing: How to list every valid value (e.g. ``"timm.list_models()"``).

    Raises:
        ConfigurationError: ``value`` is not one of ``choices``.
    """
    if value in choices:
        return value
    names = [str(c) for c in choices]
    if len(names) <= _MAX_LISTED:
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        valid = ", ".join(repr(c) for c in sorted(names))
        raise ConfigurationError(
            f"{name}={value!r} is not a valid option; expected one of {valid}.{hint}"
        )
    close = difflib.get_close_matches(str(value), names, n=5, cutoff=0.5)
    hint = f" Did you mean one of {', '.join(repr(c) for c in close)}?" if close else ""
    where = f" (all of them: {listing})" if listing else ""
    raise ConfigurationError(
        f"{name}={value!r} is not a valid option; expected one of {len(names)} names{where}.{hint}"
    )


def check_names(
    name: str, value: T | Iterable[T], choices: Collection[T], *, allow_empty: bool = False
) -> tuple[T, ...]:
    """A sequence of option names, checked; a single name stands for a one-name sequence.

    A plain string is one name (``planes="axial"`` is ``("axial",)``), never the
    sequence of its letters.

    Args:
        name: The option's name, as the user spells it.
        value: One name, or an iterable of names.
        choices: The valid names.
        allow_empty: Whether no name at all is accepted.

    Raises:
        ConfigurationError: A name is not one of ``choices`` (with did-you-mean), a name
            is repeated, or none is given when one is needed.
    """
    names: tuple[T, ...] = (value,) if isinstance(value, str) else tuple(value)
    if not names and not allow_empty:
        valid = ", ".join(repr(c) for c in choices)
        raise ConfigurationError(f"{name} is empty; give at least one of {valid}.")
    for item in names:
        check_choice(name, item, choices)
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{name}={names!r} names one value more than once.")
    return names


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` if it lies in the given interval, else raise a clear error.

    Raises:
        ConfigurationError: ``value`` is outside the interval or not a number.
    """
    if not isinstance(value, (int, float)) or value != value:  # NaN check
        raise ConfigurationError(f"{name}={value!r} must be a number.")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'[' if low_inclusive else '('}{lo}, {hi}{']' if high_inclusive else ')'}"
        raise ConfigurationError(
            f"{name}={value!r} is out of range; expected a value in {interval}."
        )
    return value


def short_repr(obj: object, **params: tuple[object, object]) -> str:
    """A ``repr`` that shows only the parameters that differ from their defaults.

    Args:
        obj: The object whose class name leads the repr.
        **params: ``name=(value, default)`` pairs.
    """
    shown = []
    for key, (value, default) in params.items():
        if value != default:
            shown.append(f"{key}={value!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


_NO_DEFAULT = object()


def dataclass_repr(obj: Any) -> str:
    """:func:`short_repr` of a dataclass instance: every field against its default.

    Fields without a default (and no default factory) are always shown.
    """
    params: dict[str, tuple[object, object]] = {}
    for f in dataclasses.fields(obj):
        if f.default is not dataclasses.MISSING:
            default: object = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _NO_DEFAULT
        params[f.name] = (getattr(obj, f.name), default)
    return short_repr(obj, **params)


def check_fields(cls: type, data: Mapping[str, object], *, what: str) -> None:
    """Refuse keys of ``data`` that are not fields of the dataclass ``cls``.

    Used by ``from_dict`` constructors, so that a stale or mistyped settings file fails
    with the names it got and the names it may use.

    Args:
        cls: A dataclass.
        data: The settings read.
        what: How the settings are named in the message ("model settings").

    Raises:
        ConfigurationError: ``data`` holds keys that are not fields of ``cls``.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigurationError(f"unknown {what} {unknown}; expected some of {sorted(names)}.")
