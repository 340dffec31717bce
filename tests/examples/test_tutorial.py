"""The tutorial's app (``examples/tutorial``) is a tested project, and its pages show it.

Its own tests run here as a user runs them (``pytest`` in its folder), it stays
``mypy --strict`` clean, every snippet a page includes exists, and step 9 runs: the app
on PostgreSQL with two nodes, a write on one pushed to a follower on the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.support import included

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "tutorial"
PAGES = ROOT / "docs" / "tutorial"
BIN = Path(sys.executable).parent
SNIPPET = re.compile(r'--8<-- "([^"]+)"')


def _env(**extra: str) -> dict[str, str]:
    """The checkout's own ``tests`` package must not shadow the project's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


@pytest.mark.timeout(180)
def test_the_tutorial_project_passes_its_own_tests() -> None:
    done = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=PROJECT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed, 1 skipped" in done.stdout  # two nodes: on PostgreSQL, below


@pytest.mark.timeout(180)
def test_the_tutorial_project_is_strict_type_clean() -> None:
    command = [str(BIN / "mypy"), "--no-incremental", "library", "tests", "first_events.py"]
    done = subprocess.run(
        command, cwd=PROJECT, env=_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _snippets() -> list[tuple[str, str]]:
    found = []
    for page in sorted(PAGES.glob("*.md")):
        found += [(page.name, target) for target in SNIPPET.findall(page.read_text("utf-8"))]
    return found


def test_every_page_includes_files_and_sections_that_exist() -> None:
    snippets = _snippets()
    assert len({page for page, _ in snippets}) >= 9  # every step shows tested code
    for page, target in snippets:
        path = target.partition(":")[0]
        assert path.startswith("examples/tutorial/"), f"{page}: {target} is not the project's"
        assert included(target).strip(), f"{page}: {target} shows nothing"


def test_the_steps_are_listed_in_order_on_the_index() -> None:
    index = (PAGES / "index.md").read_text("utf-8")
    steps = sorted(p.name for p in PAGES.glob("step-*.md"))
    assert len(steps) == 9
    positions = [index.index(f"({step})") for step in steps]
    assert positions == sorted(positions)


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_the_tutorial_runs_on_postgresql_with_two_nodes(postgres_url: str) -> None:
    done = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests/test_two_nodes.py"],
        cwd=PROJECT,
        env=_env(LIBRARY_TEST_POSTGRES_URL=postgres_url),
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
