"""The README's example is code users copy first: it must run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.DOTALL)


def test_readme_has_an_example() -> None:
    assert python_blocks(), "README.md lost its Python example"


def test_readme_examples_run_as_written(tmp_path: Path) -> None:
    for index, block in enumerate(python_blocks()):
        script = tmp_path / f"example_{index}.py"
        script.write_text(block, "utf-8")
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"README example {index} failed:\n{done.stderr}"


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = README.read_text("utf-8")[:800]
    assert "make demo" in head
    assert "make test" in head
