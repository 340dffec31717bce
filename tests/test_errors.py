"""Every error Headwater raises on purpose is in ``headwater.errors``, drawn in one tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import headwater.errors
from headwater.errors import HeadwaterError, IllegalJobTransition, IllegalTransition

SRC = Path(headwater.errors.__file__).parent
NAMES = frozenset(headwater.errors.__all__)


def test_no_package_defines_an_error_of_its_own() -> None:
    strays: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                if bases & NAMES:
                    strays.append(f"{path.relative_to(SRC)}: {node.name}")
    assert not strays, f"define these in headwater/errors.py: {strays}"


def test_there_is_one_errors_module() -> None:
    others = [p for p in SRC.rglob("*errors.py") if p != SRC / "errors.py"]
    assert not others


def _drawn_tree() -> dict[str, str]:
    """child -> parent, read from the docstring's drawing (four columns per level)."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    doc = headwater.errors.__doc__ or ""
    for line in doc.splitlines():
        found = re.match(r"^    ([│├└─ ]*)([A-Z]\w+)", line)
        if not found:
            continue
        depth = len(found.group(1)) // 4
        del stack[depth:]
        if stack:
            parents[found.group(2)] = stack[-1]
        stack.append(found.group(2))
    return parents


def test_the_docstring_draws_every_class_under_its_real_parent() -> None:
    drawn = _drawn_tree()
    for name in NAMES - {"HeadwaterError"}:
        cls = getattr(headwater.errors, name)
        assert name in drawn, f"{name} is missing from the drawing"
        assert cls.__bases__[0].__name__ == drawn[name], name


def test_one_illegal_transition_for_every_state_machine() -> None:
    from headwater.realtime import IllegalTransition as realtime_illegal
    from headwater.resilience import IllegalTransition as breaker_illegal

    assert realtime_illegal is breaker_illegal is IllegalTransition
    assert issubclass(IllegalJobTransition, IllegalTransition)
    error = IllegalTransition("circuit redis", "closed", "half_open")
    assert isinstance(error, HeadwaterError)
    assert error.message == "circuit redis cannot go from closed to half_open"
    assert error.details == {"machine": "circuit redis", "source": "closed", "target": "half_open"}
