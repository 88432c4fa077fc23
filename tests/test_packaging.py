"""The package's metadata says what the code needs, in one voice."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _project() -> dict[str, object]:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)


def test_python_version_is_one_everywhere() -> None:
    data = _project()
    project = data["project"]
    tool = data["tool"]
    assert isinstance(project, dict)
    assert isinstance(tool, dict)
    match = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert match, project["requires-python"]
    minor = int(match.group(1))
    # Pipeline uses BaseException.add_note (3.11+): the floor must be at least 3.11.
    assert minor >= 11
    assert tool["ruff"]["target-version"] == f"py3{minor}"
    assert tool["mypy"]["python_version"] == f"3.{minor}"
    assert f"Programming Language :: Python :: 3.{minor}" in project["classifiers"]


def test_docs_state_the_same_python() -> None:
    minor = re.fullmatch(r">=3\.(\d+)", _project()["project"]["requires-python"])  # type: ignore[index]
    assert minor
    root = PYPROJECT.parent
    for path in (root / "README.md", root / "docs" / "getting-started.rst"):
        text = path.read_text(encoding="utf-8")
        assert f"Python 3.{minor.group(1)}" in text, path
        assert "Python 3.10" not in text, path


def test_docs_state_figures_as_what_one_machine_printed() -> None:
    # Training figures differ between CPUs; the docs must not promise them everywhere.
    root = PYPROJECT.parent
    for path in (root / "README.md", root / "docs" / "tutorials" / "two-stage-solution.rst"):
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "the same on every run" not in text, path
        assert "machine printed" in text, path
