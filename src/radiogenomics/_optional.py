"""Optional dependencies: import them on first use, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from radiogenomics.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` (a top-level package), or explain how to install it.

    Args:
        module: The package to import (``"matplotlib"``).
        extra: The radiogenomics extra that installs it (``"plots"``).
        purpose: What needs it, for the message (``"plot_roc"``).

    Returns:
        The imported package.

    Raises:
        MissingDependencyError: The package cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{purpose} needs {module}, which is not installed ({error}); install it with "
            f'pip install "radiogenomics[{extra}]".',
            name=module,
        ) from error
