"""Sphinx configuration of the radiogenomics documentation.

Build (warnings are errors, every cross-reference must resolve)::

    .venv/bin/sphinx-build -W --keep-going -n -b html docs docs/_build/html
    .venv/bin/sphinx-build -W --keep-going -n -b doctest docs docs/_build/doctest

No intersphinx: the build must work without the network. References to third-party
types that only intersphinx could resolve are listed in ``nitpick_ignore`` below, and
nowhere else is a warning silenced.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version as _package_version
from typing import Any

# -- Project -----------------------------------------------------------------------------

project = "radiogenomics"
author = "radiogenomics developers"
copyright = "radiogenomics developers"  # noqa: A001 - the name Sphinx expects
release = _package_version("radiogenomics")  # single-sourced from the package metadata
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # must come before sphinx_autodoc_typehints
    "sphinx_autodoc_typehints",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = True
default_role = "py:obj"
add_module_names = False  # "TumorAreaFilter(...)", with the module named in the page title
toc_object_entries_show_parents = "hide"

# -- autodoc / napoleon / typehints ------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_preserve_defaults = True  # show "planes=PLANES", not the expanded tuple
autodoc_class_signature = "mixed"
autodoc_typehints = "signature"  # types come from the annotations, never the docstrings
autodoc_default_options: dict[str, Any] = {}
autosummary_generate = False  # the API pages list every public name explicitly

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_param = True
napoleon_use_rtype = False
napoleon_use_ivar = False  # "Attributes:" become attribute targets (:attr:`X.field` links)
napoleon_custom_sections = [("Shape", "params_style")]

# sphinx-autodoc-typehints: types into the parameter lists and the signatures.
typehints_fully_qualified = False
always_document_param_types = False
typehints_document_rtype = True
typehints_use_signature = True
typehints_use_signature_return = True
typehints_defaults = None  # defaults are shown in the signature already

# -- doctest -----------------------------------------------------------------------------

# Docstring examples call the names of their own module unqualified, as they would read
# under ``pytest --doctest-modules``; give them the same names here.
_PUBLIC_MODULES = (
    "radiogenomics.records",
    "radiogenomics.errors",
    "radiogenomics.masks",
    "radiogenomics.pipeline",
    "radiogenomics.presets",
    "radiogenomics.io",
    "radiogenomics.slicing",
    "radiogenomics.sampling",
    "radiogenomics.filters",
    "radiogenomics.data",
    "radiogenomics.testing",
)
doctest_global_setup = "\n".join(
    ["import numpy as np", *(f"from {m} import *" for m in _PUBLIC_MODULES)]
)
doctest_test_doctest_blocks = "default"

# -- HTML --------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"radiogenomics {release}"
html_static_path: list[str] = []

# -- numpy annotations, spelled as the source spells them -----------------------------------
#
# ``npt.NDArray[np.uint8]`` is ``numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.uint8]]``
# at run time and ``npt.ArrayLike`` a union of seven private numpy types; both render
# here as written in the source: ``NDArray[uint8]`` and ``ArrayLike``.


def _typehints_formatter(annotation: Any, config: Any = None) -> str | None:
    """Parameter-list rendering of numpy annotations (sphinx-autodoc-typehints hook)."""
    if config is None:  # called for signatures, handled by _shorten_numpy_signature
        return None
    import types
    import typing

    import numpy as np
    import numpy.typing as npt
    from sphinx_autodoc_typehints import format_annotation

    if typing.get_origin(annotation) is np.ndarray:
        _shape, dtype = typing.get_args(annotation)
        (scalar,) = typing.get_args(dtype) or (typing.Any,)
        return (
            r":py:class:`~numpy.typing.NDArray`\ \["
            + format_annotation(scalar, config)
            + "]"
        )
    array_like = typing.get_args(npt.ArrayLike)
    args = typing.get_args(annotation)
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    if is_union and all(a in args for a in array_like):
        rest = [format_annotation(a, config) for a in args if a not in array_like]
        return " | ".join([*rest, ":py:data:`~numpy.typing.ArrayLike`"])
    return None


typehints_formatter = _typehints_formatter


def _shorten_numpy(text: str) -> str:
    from sphinx.util.typing import stringify_annotation
    import numpy.typing as npt

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


def _shorten_numpy_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: Any, ret: Any
) -> tuple[str | None, str | None] | None:
    """Signature rendering of numpy annotations (runs sphinx-autodoc-typehints first)."""
    from sphinx_autodoc_typehints import process_signature

    result = process_signature(app, what, name, obj, options, signature, ret)
    if result is None:
        return None
    new_signature, new_return = result
    return (
        None if new_signature is None else _shorten_numpy(new_signature),
        None if new_return is None else _shorten_numpy(new_return),
    )


# -- Third-party names that cannot resolve without intersphinx ----------------------------
#
# Only names from other projects are listed; every radiogenomics name must resolve.

nitpick_ignore_regex = [
    # numpy: ndarray, dtype, scalar types, and the numpy.typing aliases above.
    ("py:class", r"numpy\.(ndarray|dtype|typing\.NDArray|(u?int|float|complex)\d*|bool_?|integer|floating|number|generic)"),
    ("py:data", r"numpy\.typing\.ArrayLike"),
    # nibabel, named in prose.
    ("py:func", r"nibabel\.orientations\.io_orientation"),
    # the standard library (no intersphinx to docs.python.org).
    ("py:class", r"pathlib\.Path"),
    ("py:class", r"os\.PathLike"),
    ("py:class", r"argparse\.ArgumentParser"),
    ("py:class", r"collections\.abc\.(Callable|Collection|Iterable|Iterator|Mapping|Sequence)"),
    ("py:data", r"typing\.(Any|Literal|Optional|Union)"),
    ("py:data", r"Ellipsis"),
]


# -- Re-exported names -------------------------------------------------------------------
#
# Every public object is documented once, in the module that defines it (where its
# ``__module__`` points, so annotations resolve). Users import most names from a
# subpackage (``radiogenomics.filters.TumorAreaFilter``) or the top level
# (``radiogenomics.Pipeline``), and docstrings cross-reference those import paths. This
# handler resolves such a reference to the documented definition of the *same object*;
# a reference to an object that is documented nowhere still fails the build.


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


def _documented_objects(app: Any) -> dict[int, list[tuple[str, Any]]]:
    cache = getattr(app.env, "_radiogenomics_objects", None)
    if cache is not None:
        return cache  # type: ignore[no-any-return]
    domain = app.env.get_domain("py")
    index: dict[int, list[tuple[str, Any]]] = {}
    for fullname, entry in domain.objects.items():
        if entry.aliased or not fullname.startswith("radiogenomics"):
            continue
        try:
            obj = _resolve_dotted(fullname)
        except (ImportError, AttributeError):
            continue
        index.setdefault(id(obj), []).append((fullname, entry))
    app.env._radiogenomics_objects = index
    return index


def _resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    candidates = [target]
    if module and not target.startswith("radiogenomics"):
        candidates.insert(0, f"{module}.{target}")
    for candidate in candidates:
        if not candidate.startswith("radiogenomics"):
            continue
        try:
            obj = _resolve_dotted(candidate)
        except (ImportError, AttributeError):
            continue
        if inspect.ismodule(obj):
            continue
        name = candidate.rsplit(".", 1)[-1]
        for fullname, entry in _documented_objects(app).get(id(obj), []):
            if fullname.rsplit(".", 1)[-1] != name:
                continue
            from sphinx.util.nodes import make_refnode

            return make_refnode(
                app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, fullname
            )
    return None


def _forget_index(app: Any, env: Any, *args: Any) -> None:
    if hasattr(env, "_radiogenomics_objects"):
        del env._radiogenomics_objects


# -- Completeness: every name in every public ``__all__`` is documented --------------------

_CHECKED_MODULES = (
    "radiogenomics",
    "radiogenomics.records",
    "radiogenomics.errors",
    "radiogenomics.masks",
    "radiogenomics.pipeline",
    "radiogenomics.presets",
    "radiogenomics.demo",
    "radiogenomics.cli",
    "radiogenomics.io",
    "radiogenomics.io.nifti",
    "radiogenomics.io.dicom",
    "radiogenomics.io.labels",
    "radiogenomics.slicing",
    "radiogenomics.slicing.extractor",
    "radiogenomics.slicing.geometry",
    "radiogenomics.slicing.intensity",
    "radiogenomics.slicing.resize",
    "radiogenomics.sampling",
    "radiogenomics.sampling.distinct",
    "radiogenomics.filters",
    "radiogenomics.filters.base",
    "radiogenomics.filters.blank",
    "radiogenomics.filters.contours",
    "radiogenomics.filters.tumor_area",
    "radiogenomics.data",
    "radiogenomics.data.store",
    "radiogenomics.data.prepare_segmentation",
    "radiogenomics.testing",
    "radiogenomics.testing.synthetic",
    "radiogenomics.testing.synthetic_dicom",
)


def _check_public_names(app: Any, env: Any) -> None:
    from sphinx.util import logging

    logger = logging.getLogger("radiogenomics.docs")
    documented = _documented_objects(app)
    names = set(app.env.get_domain("py").objects)
    for module_name in _CHECKED_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            fullname = f"{module_name}.{name}"
            if fullname in names:
                continue
            try:
                obj = getattr(module, name)
            except AttributeError:
                logger.warning("%s is in __all__ but does not exist", fullname)
                continue
            found = any(
                doc_name.rsplit(".", 1)[-1] == name for doc_name, _ in documented.get(id(obj), [])
            )
            if not found:
                logger.warning(
                    "%s is public (in __all__) but not documented in docs/api/", fullname
                )


def setup(app: Any) -> dict[str, Any]:
    app.connect("autodoc-process-signature", _shorten_numpy_signature, priority=400)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("env-updated", _forget_index)
    app.connect("env-check-consistency", _check_public_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
