"""What the docs' ``--8<--`` includes (pymdownx.snippets) stand for, resolved as the site
build resolves them: the snippet test runs them, the tutorial's test checks them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def included(spec: str) -> str:
    """The text ``--8<-- "spec"`` stands for: a whole file, or one named section of it."""
    path, _, section = spec.partition(":")
    text = (ROOT / path).read_text("utf-8")
    if not section:
        return text
    start = re.search(rf"^.*--8<-- \[start:{re.escape(section)}\].*\n", text, re.MULTILINE)
    end = re.search(rf"^.*--8<-- \[end:{re.escape(section)}\].*$", text, re.MULTILINE)
    assert start, f"{path} has no start of section {section!r}"
    assert end, f"{path} has no end of section {section!r}"
    return text[start.end() : end.start()]
