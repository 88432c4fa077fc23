"""The package's dependencies point one way, and the light modules stay light.

Layers, from the bottom: foundation (errors, records, the pipeline, small helpers) ->
components (io, masks, slicing, sampling, filters, metrics, models, datasets, the stage
2 frame recipe, the inference components) -> jobs (preparation, training, prediction,
evaluation) -> the top (presets, command line, demo, pictures). A module may import
from its own layer and below, never above; no two modules import each other, directly
or in a ring. Every module of the package must be placed in a layer here, so a new
module is placed on purpose.

Imports are read from the source (``ast``), function-level and ``TYPE_CHECKING`` ones
included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "radiogenomics"

LAYERS: dict[str, tuple[str, ...]] = {
    "foundation": (
        "radiogenomics.errors",
        "radiogenomics.records",
        "radiogenomics.pipeline",
        "radiogenomics._options",
        "radiogenomics._choices",
        "radiogenomics._lazy",
        "radiogenomics._atomic",
        "radiogenomics._files",
        "radiogenomics._outputs",
        "radiogenomics._device",
        "radiogenomics._cv",
        "radiogenomics._optional",
    ),
    "components": (
        "radiogenomics.io",
        "radiogenomics.masks",
        "radiogenomics.slicing",
        "radiogenomics.sampling",
        "radiogenomics.filters",
        "radiogenomics.metrics",
        "radiogenomics.models",
        "radiogenomics.testing",
        "radiogenomics.data.store",
        "radiogenomics.data.frame_store",
        "radiogenomics.data.frames",
        "radiogenomics.data.slices",
        "radiogenomics.data.chunks",
        "radiogenomics.data.segmentation_dataset",
        "radiogenomics.inference.zoom",
        "radiogenomics.inference.tta",
        "radiogenomics.inference.aggregate",
        "radiogenomics.inference.labels",
        "radiogenomics.inference.submission",
        "radiogenomics.inference.predict_masks",
        "radiogenomics.inference.postprocess",
        "radiogenomics.training.augment",
        "radiogenomics.training.split",
    ),
    "jobs": (
        "radiogenomics.data._jobs",
        "radiogenomics.data.prepare_segmentation",
        "radiogenomics.data.prepare_classification",
        "radiogenomics.training",
        "radiogenomics.inference.predict",
        "radiogenomics.evaluation",
    ),
    "top": (
        "radiogenomics.presets",
        "radiogenomics.cli",
        "radiogenomics.__main__",
        "radiogenomics.demo",
        "radiogenomics.viz",
    ),
}
ORDER = list(LAYERS)

# Modules that import neither torch nor anything that does (checked at run time).
LIGHT = (
    "radiogenomics",
    "radiogenomics.records",
    "radiogenomics.pipeline",
    "radiogenomics.masks",
    "radiogenomics.io.labels",
    "radiogenomics.io.nifti",
    "radiogenomics.io.dicom",
    "radiogenomics.slicing",
    "radiogenomics.sampling",
    "radiogenomics.filters",
    "radiogenomics.inference.aggregate",
    "radiogenomics.inference.zoom",
    "radiogenomics.inference.submission",
    "radiogenomics.metrics.auc",
    "radiogenomics.metrics.oof",
    "radiogenomics.training.split",
    "radiogenomics.data.store",
    "radiogenomics.data.frame_store",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports (at any level of the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for k in range(len(parts), 0, -1):  # the longest prefix that is a module
                candidate = ".".join(parts[:k])
                if candidate in MODULES and candidate != name:
                    found.add(candidate)
                    break
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (index, len(prefix))
    return None if best is None else best[0]


def _is_namespace(name: str) -> bool:
    """A package ``__init__`` that only re-exports (the top level and each subpackage)."""
    return MODULES[name].name == "__init__.py"


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(n for n in MODULES if not _is_namespace(n) and _layer(n) is None)
    assert not unplaced, f"place these modules in a layer of {__file__}: {unplaced}"


def test_no_module_imports_upward() -> None:
    upward = []
    for name, targets in GRAPH.items():
        if _is_namespace(name):
            continue  # re-exports, lazily
        here = _layer(name)
        assert here is not None
        for target in sorted(targets):
            there = _layer(target)
            if there is not None and there > here:
                upward.append(f"{name} ({ORDER[here]}) -> {target} ({ORDER[there]})")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_modules_import_defining_modules_not_package_namespaces() -> None:
    # Importing a subpackage's namespace from inside the library ties a module to every
    # member of that subpackage; import the module that defines the name instead.
    offenders = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if not _is_namespace(name) and _layer(name) != ORDER.index("top")
        for target in targets
        if _is_namespace(target)
    ]
    assert not offenders, "\n".join(sorted(offenders))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    # A package namespace importing its own members is how re-exports work; leave those
    # edges out, keep every other.
    graph = {
        name: {t for t in targets if not (_is_namespace(name) and t.startswith(name + "."))}
        for name, targets in GRAPH.items()
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_rings() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_do_not_import_torch(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "heavy = [m for m in ('torch', 'timm', 'segmentation_models_pytorch') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"import {module} loaded {done.stdout.strip()} {done.stderr}"


def test_the_eight_design_card_names_import_from_the_top_level_lazily() -> None:
    names = (
        "SliceExtractor, DistinctSampler, TumorAreaFilter, ContourCountFilter, ChunkDataset, "
        "SequenceClassifier, PatientAggregator, ZoomTTA"
    )
    code = (
        "import sys\n"
        "import radiogenomics\n"
        "assert 'torch' not in sys.modules, 'import radiogenomics loaded torch'\n"
        f"from radiogenomics import {names}\n"
        "print(SequenceClassifier.__module__, ChunkDataset.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["radiogenomics.models.sequence", "radiogenomics.data.chunks"]
