"""Local Sphinx extension of the radiogenomics documentation.

Three small jobs, none of which silences a warning:

1. **numpy annotations, spelled as the source spells them.** ``npt.NDArray[np.uint8]``
   is ``numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.uint8]]`` at run time and
   ``npt.ArrayLike`` a union of seven private numpy types; both render as
   ``NDArray[uint8]`` and ``ArrayLike``, in signatures and parameter lists.
2. **Re-exported names.** Every public object is documented once, in the module that
   defines it (where its ``__module__`` points, so annotations resolve). Users import
   most names from a subpackage (``radiogenomics.filters.TumorAreaFilter``) or the top
   level (``radiogenomics.Pipeline``), and docstrings cross-reference those import paths.
   A ``missing-reference`` handler resolves such a reference to the documented entry of
   the *same object*; a reference to an object documented nowhere still fails the build.
3. **Completeness.** Every name in the ``__all__`` of every public module must be
   documented somewhere under ``docs/api/``; a missing one is a warning (an error
   under ``-W``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
import typing
from typing import Any

# -- 1. numpy annotations -----------------------------------------------------------------


class NumpyFormatter:
    """``typehints_formatter`` for sphinx-autodoc-typehints: short numpy annotations.

    An instance (not a function) so that Sphinx can pickle the configuration.
    """

    def __call__(self, annotation: Any, config: Any = None) -> str | None:
        if config is None:  # signatures: handled by shorten_numpy_signature
            return None
        import numpy as np
        import numpy.typing as npt
        from sphinx_autodoc_typehints import format_annotation

        if typing.get_origin(annotation) is np.ndarray:
            _shape, dtype = typing.get_args(annotation)
            (scalar,) = typing.get_args(dtype) or (typing.Any,)
            return (
                r":py:class:`~numpy.typing.NDArray`\ \[" + format_annotation(scalar, config) + "]"
            )
        array_like = typing.get_args(npt.ArrayLike)
        args = typing.get_args(annotation)
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        if is_union and all(a in args for a in array_like):
            rest = [format_annotation(a, config) for a in args if a not in array_like]
            return " | ".join([*rest, ":py:data:`~numpy.typing.ArrayLike`"])
        return None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__qualname__)


def shorten_numpy(text: str) -> str:
    """Rewrite numpy's run-time spellings in a signature string to the source's."""
    import numpy.typing as npt
    from sphinx.util.typing import stringify_annotation

    text = text.replace(stringify_annotation(npt.ArrayLike, "smart"), "~numpy.typing.ArrayLike")
    opening = "~numpy.ndarray[tuple[~typing.Any, ...], ~numpy.dtype["
    while (start := text.find(opening)) >= 0:
        depth, i = 2, start + len(opening)
        while depth and i < len(text):
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            i += 1
        scalar = text[start + len(opening) : i - 2]
        text = text[:start] + f"~numpy.typing.NDArray[{scalar}]" + text[i:]
    return text


def shorten_numpy_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: Any, ret: Any
) -> tuple[str | None, str | None] | None:
    """Run sphinx-autodoc-typehints' signature handler, then shorten numpy types."""
    from sphinx_autodoc_typehints import process_signature

    result = process_signature(app, what, name, obj, options, signature, ret)
    if result is None:
        return None
    new_signature, new_return = result
    if what in {"class", "exception"} and new_signature is not None:
        # A class "returns" its instance; "-> None" from __init__ would only mislead.
        new_signature = new_signature.removesuffix(" -> None")
        new_signature = _spell_factories(obj, new_signature)
    return (
        None if new_signature is None else shorten_numpy(new_signature),
        None if new_return is None else shorten_numpy(new_return),
    )


def _spell_factories(cls: Any, signature: str) -> str:
    """Spell a dataclass's ``<factory>`` defaults as the calls they make (``dict()``).

    ``<factory>`` is not Python, so Sphinx cannot parse such a signature and falls back
    to splitting it at every comma, which breaks annotations like ``dict[str, float]``
    into unresolvable pieces.
    """
    import dataclasses

    if not dataclasses.is_dataclass(cls) or "<factory>" not in signature:
        return signature
    for item in dataclasses.fields(cls):
        factory = item.default_factory
        if item.init and factory is not dataclasses.MISSING:
            name = getattr(factory, "__name__", "factory")
            signature = signature.replace("<factory>", f"{name}()", 1)
    return signature


# -- 2. re-exported names -----------------------------------------------------------------


def _resolve_dotted(name: str) -> Any:
    """Import ``name`` (``package.module.attr.attr``) and return the object, or raise."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def _documented_objects(env: Any) -> dict[int, list[tuple[str, Any]]]:
    """``id(object)`` -> ``[(documented full name, domain entry)]`` for our objects."""
    cached = _CACHE.get(id(env))
    if cached is not None and cached[0] == len(env.get_domain("py").objects):
        return cached[1]
    domain = env.get_domain("py")
    index: dict[int, list[tuple[str, Any]]] = {}
    for fullname, entry in domain.objects.items():
        if entry.aliased or not fullname.startswith("radiogenomics"):
            continue
        try:
            obj = _resolve_dotted(fullname)
        except (ImportError, AttributeError):
            continue
        index.setdefault(id(obj), []).append((fullname, entry))
    _CACHE[id(env)] = (len(domain.objects), index)
    return index


_CACHE: dict[int, tuple[int, dict[int, list[tuple[str, Any]]]]] = {}


def resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``radiogenomics.io.find_brats_cases`` to its documented definition."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    candidates = [target]
    if module and not target.startswith("radiogenomics"):
        candidates.insert(0, f"{module}.{target}")
    documented = _documented_objects(env)
    objects = env.get_domain("py").objects
    for candidate in candidates:
        if not candidate.startswith("radiogenomics"):
            continue
        fullname = _documented_name(candidate, documented, objects)
        if fullname is not None:
            from sphinx.util.nodes import make_refnode

            entry = objects[fullname]
            return make_refnode(
                app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, fullname
            )
    return None


def _documented_name(
    candidate: str, documented: dict[int, list[tuple[str, Any]]], objects: dict[str, Any]
) -> str | None:
    """The documented full name of the object ``candidate`` names, if it is documented.

    ``candidate`` is split into an importable object and trailing attributes, tried from
    the longest object: ``radiogenomics.io.DicomSeries.pixels`` is a dataclass field that
    exists only on instances, so it is found as ``DicomSeries`` (documented as
    ``radiogenomics.io.dicom.DicomSeries``) plus ``.pixels``.
    """
    parts = candidate.split(".")
    for split in range(len(parts), 1, -1):
        head, tail = ".".join(parts[:split]), parts[split:]
        try:
            obj = _resolve_dotted(head)
        except (ImportError, AttributeError):
            continue
        if inspect.ismodule(obj):
            return None
        name = parts[split - 1]
        for fullname, _entry in documented.get(id(obj), []):
            if fullname.rsplit(".", 1)[-1] != name:
                continue
            target = ".".join([fullname, *tail])
            if target in objects:
                return target
        return None
    return None


# -- 3. completeness ----------------------------------------------------------------------


def _public_modules(package: str = "radiogenomics") -> list[str]:
    """The package and every module under it whose path has no ``_private`` part."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def check_public_names(app: Any, env: Any) -> None:
    """Warn about every public name (in some ``__all__``) that is documented nowhere."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    documented = _documented_objects(env)
    objects = env.get_domain("py").objects
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            fullname = f"{module_name}.{name}"
            if fullname in objects:
                continue
            try:
                obj = getattr(module, name)
            except AttributeError:
                logger.warning("%s is in __all__ but does not exist", fullname)
                continue
            entries = documented.get(id(obj), [])
            if not any(doc_name.rsplit(".", 1)[-1] == name for doc_name, _ in entries):
                logger.warning(
                    "%s is public (in __all__) but not documented in docs/api/", fullname
                )


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_autodoc_typehints")
    # Before sphinx-autodoc-typehints' own handler (priority 500), which it calls itself.
    app.connect("autodoc-process-signature", shorten_numpy_signature, priority=400)
    app.connect("missing-reference", resolve_reexport)
    app.connect("env-check-consistency", check_public_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
