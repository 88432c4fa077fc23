"""Sphinx configuration of the radiogenomics documentation.

Build (warnings are errors, every cross-reference must resolve)::

    .venv/bin/sphinx-build -W --keep-going -n -b html docs docs/_build/html
    .venv/bin/sphinx-build -W --keep-going -n -b doctest docs docs/_build/doctest

No intersphinx: the build must work without the network. References to third-party
types that only intersphinx could resolve are listed in ``nitpick_ignore_regex`` below, and
nowhere else is a warning silenced.
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import radiogenomics_docs  # the local extension, in docs/_ext

# -- Project -----------------------------------------------------------------------------

project = "radiogenomics"
author = "radiogenomics developers"
copyright = "radiogenomics developers"
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
    "radiogenomics_docs",  # docs/_ext: numpy annotations, re-exports, completeness
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
typehints_formatter = radiogenomics_docs.NumpyFormatter()  # NDArray[uint8], ArrayLike

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
    "radiogenomics.models",
    "radiogenomics.metrics",
    "radiogenomics.training",
    "radiogenomics.inference",
    "radiogenomics.evaluation",
    "radiogenomics.testing",
    "radiogenomics.viz",
)
doctest_global_setup = "\n".join(
    ["import numpy as np", *(f"from {m} import *" for m in _PUBLIC_MODULES)]
)
doctest_test_doctest_blocks = "default"

# -- HTML --------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"radiogenomics {release}"
html_static_path: list[str] = []

# -- Third-party names that cannot resolve without intersphinx ----------------------------
#
# Only names from other projects are listed; every radiogenomics name must resolve (the
# local extension checks that every public name is documented). Each entry is a type that
# appears in our annotations (or, for nibabel, in prose) and whose documentation lives on
# another project's site, which only intersphinx (the network) could link to.

nitpick_ignore_regex = [
    # numpy: the array annotations (rendered NDArray[...] / ArrayLike) and their dtypes.
    ("py:class", r"numpy\.typing\.NDArray"),
    ("py:(class|data)", r"numpy\.typing\.ArrayLike"),
    ("py:class", r"numpy\.(bool|integer|floating|u?int\d+|float\d+)"),
    # nibabel: io_orientation, named in the prose of radiogenomics.slicing.geometry.
    ("py:func", r"nibabel\.orientations\.io_orientation"),
    # The standard library: typing constructs and classes used in annotations.
    ("py:data", r"typing\.(Any|Literal|Optional|Union)"),
    ("py:class", r"collections\.abc\.(Callable|Collection|Iterable|Mapping|Sequence)"),
    ("py:class", r"pathlib\.Path"),
    # pathlib.Path as spelled in an annotation that cannot be evaluated at build time
    # (create_segmentation_model: its return type names torch, which the module imports
    # only for type checking, so its annotations stay strings).
    ("py:class", r"Path"),
    ("py:class", r"os\.PathLike"),
    ("py:class", r"argparse\.ArgumentParser"),
    ("py:data", r"Ellipsis"),  # the "..." of tuple[float, ...]
    # numpy's random generator, as annotated (numpy.random.Generator).
    ("py:class", r"numpy\.random\.(_generator\.)?Generator"),
    # torch: tensors, modules, devices, dtypes and generators in the annotations of the models,
    # training and inference, and torch's Dataset base class.
    ("py:class", r"torch\.(Tensor|device|dtype|(_C\.)?Generator)"),
    ("py:class", r"torch\.nn\.(modules\.module\.)?Module"),
    ("py:class", r"torch\.utils\.data\.(dataset\.)?Dataset"),
]
