"""Validation helpers for keyword-only configuration."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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


# -- settings fields and the command-line options derived from them ------------------


_UnionType = type(int | None)


def setting(default: Any, *, help: str, option: str | None = None, none_as: Any = None) -> Any:
    """A settings field with its description.

    Args:
        default: The default value.
        help: One line for ``--help`` (the docstring's ``Attributes:`` say more).
        option: The command-line option when it is not ``--`` plus the name with dashes
            (``num_workers`` is ``--workers``).
        none_as: The command-line value that stands for ``None`` (``--patience 0``).
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "option": option, "none_as": none_as}
    )


def redefault(base: type, name: str, default: Any) -> Any:
    """``base``'s field ``name`` with another default (its description kept)."""
    found = {f.name: f for f in dataclasses.fields(base)}[name]
    return dataclasses.field(default=default, metadata=found.metadata)


@dataclass(frozen=True)
class Option:
    """One command-line option derived from a settings field.

    Attributes:
        name: The field.
        flag: The option (``--batch-size``).
        help: Its help text.
        kind: ``"value"``, ``"choice"``, ``"switch"`` (``--x/--no-x``, may be ``None``)
            or ``"flag"`` (``--x`` only).
        type: The value type (``int``, ``float``, ``str``) for ``"value"``.
        choices: The choices for ``"choice"``.
        none_as: The command-line value that stands for ``None``.
    """

    name: str
    flag: str
    help: str
    kind: Literal["value", "choice", "switch", "flag"]
    type: type | None = None
    choices: tuple[str, ...] = ()
    none_as: Any = None


def options_of(cls: type) -> list[Option]:
    """The command-line options of a settings dataclass, one per described field.

    Types come from the annotations: ``int``/``float``/``str`` (optionally ``| None``)
    take a value, a ``Literal`` a choice, ``bool`` is ``--x``/``--no-x`` when it
    defaults to true or may be ``None``, and a plain ``--x`` otherwise.
    """
    hints = typing.get_type_hints(cls, include_extras=False)
    found = []
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata:
            continue
        hint = hints[field.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if typing.get_origin(hint) in (typing.Union, _UnionType) else hint
        flag = field.metadata.get("option") or "--" + field.name.replace("_", "-")
        common = {"name": field.name, "flag": flag, "help": field.metadata["help"]}
        if typing.get_origin(base) is Literal:
            option = Option(**common, kind="choice", choices=typing.get_args(base))
        elif base is bool:
            nullable = len(args) > 0 and typing.get_origin(hint) is not None
            kind: Literal["switch", "flag"] = (
                "switch" if field.default is True or nullable else "flag"
            )
            option = Option(**common, kind=kind)
        elif base in (int, float, str):
            option = Option(
                **common, kind="value", type=base, none_as=field.metadata.get("none_as")
            )
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no command-line form for {hint!r}")
        found.append(option)
    return found
