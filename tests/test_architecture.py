"""The package layering of ARCHITECTURE.md: no import cycle between packages, and the
import-linter contracts in pyproject.toml hold, and catch a forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Set
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def package_edges(graph: grimp.ImportGraph, root: str) -> dict[str, set[str]]:
    """Which of ``root``'s top-level packages (and modules) import which, at run time."""
    children = sorted(graph.find_children(root))
    return {
        importer: {
            imported
            for imported in children
            if imported != importer
            and graph.direct_import_exists(importer=importer, imported=imported, as_packages=True)
        }
        for importer in children
    }


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_headwater_packages() -> None:
    graph = grimp.build_graph("headwater", exclude_type_checking_imports=True, cache_dir=None)
    edges = package_edges(graph, "headwater")
    assert "headwater.identity" in edges  # the graph is the real one
    assert cycles(edges) == []


def lint_imports(cwd: Path, *, pythonpath: Path | None = None) -> tuple[int, str]:
    """``lint-imports`` as ``make lint`` runs it: its exit code, and its report on one
    line per paragraph (it wraps long contract names at the terminal's width)."""
    env = {**os.environ, "COLUMNS": "200"}
    if pythonpath is not None:
        # Ahead of the editable install's path entries: the copy is what gets analysed.
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_the_contracts_hold() -> None:
    code, out = lint_imports(ROOT)
    assert code == 0, out
    assert ", 0 broken." in out


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The sources and the contracts, copied: the test adds a bad import to the copy."""
    shutil.copytree(ROOT / "src" / "headwater", tmp_path / "headwater")
    shutil.copytree(ROOT / "apps", tmp_path / "apps")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    assert config["contracts"], "no contracts in pyproject.toml"
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(path: Path, line: str) -> None:
    path.write_text(path.read_text("utf-8") + f"\n{line}  # deliberately wrong\n", "utf-8")


def test_a_service_importing_the_web_layer_breaks_the_contracts(tree_copy: Path) -> None:
    assert lint_imports(tree_copy, pythonpath=tree_copy)[0] == 0
    add_import(tree_copy / "headwater" / "realtime" / "_hub.py", "import headwater.http._deps")
    code, out = lint_imports(tree_copy, pythonpath=tree_copy)
    assert code == 1, out
    assert "do not import the web layer BROKEN" in out
    assert "Headwater's layers, top to bottom BROKEN" in out
    assert "headwater.realtime._hub -> headwater.http._deps" in out


def test_the_event_store_importing_upward_breaks_the_contracts(tree_copy: Path) -> None:
    add_import(tree_copy / "headwater" / "eventstore" / "_codec.py", "import headwater.projections")
    code, out = lint_imports(tree_copy, pythonpath=tree_copy)
    assert code == 1, out
    assert "The event store knows nothing above it BROKEN" in out


def test_an_app_importing_another_breaks_the_contracts(tree_copy: Path) -> None:
    add_import(tree_copy / "apps" / "formease" / "module.py", "import apps.qrevent.queries")
    code, out = lint_imports(tree_copy, pythonpath=tree_copy)
    assert code == 1, out
    assert "do not import each other (the demo may use both) BROKEN" in out
