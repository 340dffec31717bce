"""Every ```python block of the documentation runs, as written, in a fresh interpreter.

A block that cannot run on its own (a fragment of a larger file) is marked by an HTML
comment ``<!-- fragment -->`` on the line before it, which the reader does not see but a
reviewer does; use it sparingly. Includes (``--8<-- "path"`` and ``"path:section"``,
pymdownx.snippets) are resolved the way the site build resolves them, so an included file
runs as shown. A block made only of includes from a tested project under ``examples/``
(the tutorial's) shows that project's files, which its own tests run
(``tests/examples``): here it is only resolved, so a missing file or section fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.support import included

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FRAGMENT = "<!-- fragment -->"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
#: Projects whose files the docs include and whose own tests run them.
TESTED_PROJECTS = ("examples/tutorial/",)


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    code: str
    fragment: bool
    #: Only includes from a project whose own tests run these files.
    shown_from_tested_project: bool = False

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(DOCS).as_posix()}:{self.line}"


def snippets() -> list[Snippet]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text("utf-8")
        for match in BLOCK.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            body = match.group(1)
            specs = INCLUDE.findall(body)
            code = INCLUDE.sub(lambda m: included(m.group(1)), body)
            line = text.count("\n", 0, match.start()) + 1
            from_project = (
                bool(specs)
                and not INCLUDE.sub("", body).strip()
                and all(spec.startswith(TESTED_PROJECTS) for spec in specs)
            )
            found.append(Snippet(page, line, code, before.strip() == FRAGMENT, from_project))
    return found


SNIPPETS = snippets()


def test_the_docs_have_examples_and_few_fragments() -> None:
    runnable = [s for s in SNIPPETS if not s.fragment and not s.shown_from_tested_project]
    assert len(runnable) >= 10, "the documentation lost its runnable examples"
    fragments = [s for s in SNIPPETS if s.fragment]
    assert len(fragments) <= len(runnable) // 4, "too many fragments"


@pytest.mark.parametrize(
    "snippet",
    [s for s in SNIPPETS if not s.fragment and not s.shown_from_tested_project],
    ids=lambda s: s.name,
)
def test_the_example_runs_as_written(snippet: Snippet, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(snippet.code, "utf-8")
    # The checkout on the path, as for pytest (``pythonpath = "."``): examples may use apps.*.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("HEADWATER_")}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{snippet.name} failed:\n{done.stderr[-4000:]}"
