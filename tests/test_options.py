"""The private configuration helpers: reprs that show only what differs from defaults."""

from __future__ import annotations

import dataclasses

from radiogenomics._options import dataclass_repr


@dataclasses.dataclass(frozen=True)
class _Settings:
    required: int
    size: int = 224
    names: tuple[str, ...] = ("WT", "ET")
    extra: list[int] = dataclasses.field(default_factory=list)


def test_dataclass_repr_shows_fields_that_differ_from_their_defaults() -> None:
    assert dataclass_repr(_Settings(required=1)) == "_Settings(required=1)"
    changed = _Settings(required=1, size=64, extra=[3])
    assert dataclass_repr(changed) == "_Settings(required=1, size=64, extra=[3])"
