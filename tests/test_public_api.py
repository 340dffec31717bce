"""The public API is what ``__all__`` lists in ``headwater`` and its public packages.

A package is public when its ``__init__`` declares ``__all__`` (``headwater.cli`` does
not: it is the console script, not a library). Each list is pinned the way httpx pins
its exports: sorted, complete (every public name in the namespace is in it) and
importable. The reference apps import only these names.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import headwater

ROOT = Path(__file__).resolve().parents[1]

#: What every ``__init__`` may import for its own use without exporting it.
HELPERS = frozenset({"annotations", "TYPE_CHECKING", "Any", "ClassVar", "Final", "Sequence"})


def _public_modules() -> list[str]:
    names = ["headwater", "headwater.errors"]
    for info in pkgutil.iter_modules(headwater.__path__):
        if info.ispkg and hasattr(importlib.import_module(f"headwater.{info.name}"), "__all__"):
            names.append(f"headwater.{info.name}")
    return names


PUBLIC = _public_modules()


def _ruff_order(names: list[str]) -> list[str]:
    """ruff's RUF022 order: constants, then classes, then the rest, each naturally."""

    def key(name: str) -> tuple[int, list[int | str]]:
        group = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return group, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

    return sorted(names, key=key)


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_sorted(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == _ruff_order(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_all_lists_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    unlisted = [
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and attribute not in module.__all__
        and attribute not in HELPERS
        # Submodules land in a package's namespace when imported; public only if listed.
        and not isinstance(value, types.ModuleType)
    ]
    assert not unlisted, f"{name} has public names missing from __all__: {unlisted}"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_imports(name: str) -> None:
    module = importlib.import_module(name)
    for attribute in module.__all__:
        exec(f"from {name} import {attribute}", {})


def _type_checking_imports(module: types.ModuleType) -> dict[str, str]:
    assert module.__file__ is not None
    found: dict[str, str] = {}
    for node in ast.parse(Path(module.__file__).read_text("utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                assert statement.module is not None
                found.update((alias.name, statement.module) for alias in statement.names)
    return found


@pytest.mark.parametrize("name", PUBLIC)
def test_lazy_names_are_typed_from_the_module_that_loads_them(name: str) -> None:
    """mypy reads the ``TYPE_CHECKING`` imports, the runtime reads ``_EXPORTS``: one truth."""
    module = importlib.import_module(name)
    table: dict[str, str] = getattr(module, "_EXPORTS", {})
    assert set(table) <= set(module.__all__)
    assert _type_checking_imports(module) == table


def test_the_core_is_exported_from_the_top() -> None:
    for name in (
        "create_app",
        "Module",
        "Runtime",
        "Settings",
        "Principal",
        "Projection",
        "Table",
        "Column",
        "Aggregate",
        "Event",
        "CommandBus",
        "create_event_store",
        "NewEvent",
        "ConcurrencyError",
        "NO_STREAM",
        "ANY",
    ):
        assert name in headwater.__all__
    assert headwater.Table is importlib.import_module("headwater.projections").Table


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = headwater.Nope
    assert "create_app" in dir(headwater)


def _modules_loaded_by(statement: str) -> set[str]:
    code = textwrap.dedent(f"""
        import sys
        {statement}
        print("\\n".join(sorted(sys.modules)))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_importing_the_event_store_loads_neither_the_web_nor_upper_layers() -> None:
    loaded = _modules_loaded_by("import headwater.eventstore")
    assert "fastapi" not in loaded
    assert "starlette" not in loaded
    ours = sorted(m for m in loaded if m.startswith("headwater."))
    allowed = ("headwater.eventstore", "headwater.errors", "headwater._lazy")
    assert all(m.startswith(allowed) for m in ours), ours


def test_importing_headwater_itself_loads_nothing_else_of_it() -> None:
    loaded = _modules_loaded_by("import headwater")
    assert {m for m in loaded if m.startswith("headwater")} == {"headwater", "headwater._lazy"}


def test_the_testing_package_does_not_load_pytest() -> None:
    # Its subprocess helpers (``python -m headwater.testing._writer``) start without it.
    assert "pytest" not in _modules_loaded_by("import headwater.testing")


def test_the_readme_names_every_public_package() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Public API", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in PUBLIC if f"`{name}`" not in section]
    assert not missing, f"README's Public API section does not name {missing}"


def _imports_of_headwater(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for each ``import headwater...`` or ``from headwater... import``."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "headwater":
                found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name, None)
                for alias in node.names
                if alias.name.split(".")[0] == "headwater"
            ]
    return found


def test_the_apps_import_only_public_names() -> None:
    exports = {name: set(importlib.import_module(name).__all__) for name in PUBLIC}
    deep: list[str] = []
    for path in sorted((ROOT / "apps").rglob("*.py")):
        for line, module, name in _imports_of_headwater(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module not in exports:
                deep.append(f"{where}: {module} is not a public package")
            elif name is not None and name not in exports[module]:
                deep.append(f"{where}: {module}.{name} is not in its __all__")
    assert not deep, "apps reach past the public API:\n" + "\n".join(deep)


def test_the_apps_check_catches_a_deep_import(tmp_path: Path) -> None:
    # The walk above must see nested and aliased imports, not only top-level lines.
    source = tmp_path / "deep.py"
    source.write_text("def f():\n    from headwater.http._deps import Staff as S\n")
    assert _imports_of_headwater(source) == [(2, "headwater.http._deps", "Staff")]
    assert "headwater.http._deps" not in PUBLIC


def test_implementation_modules_start_with_an_underscore() -> None:
    """Inside a package, a module is private (``_name.py``) unless its package's
    ``__all__`` names it: what is public is what ``__init__`` says, nothing else."""
    src = ROOT / "src" / "headwater"
    stray = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if len(parts) < 2 or parts[-1].startswith("_") or "migrations" in parts:
            continue  # root modules (errors, settings, runtime...) are public by design
        init = ast.parse((path.parent / "__init__.py").read_text("utf-8"))
        exported = {
            element.value
            for node in init.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List)
            for element in node.value.elts
            if isinstance(element, ast.Constant)
        }
        if parts[-1] not in exported:
            stray.append(str(path.relative_to(ROOT)))
    assert not stray, "modules neither private nor exported:\n" + "\n".join(stray)
