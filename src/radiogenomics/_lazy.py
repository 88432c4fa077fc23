"""Lazy re-exports: a package names its torch-backed members without importing them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, namespace: dict[str, Any], members: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that imports ``members[name]`` on first access.

    The value is then stored in ``namespace`` (the package's ``globals()``), so later
    accesses are plain attribute lookups.

    Args:
        package: The package's name, for the error message.
        namespace: The package's ``globals()``.
        members: Attribute name to the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = members.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
