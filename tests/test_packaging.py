"""The wheel ships the framework, and only the framework; it installs and serves on its own,
and the Dockerfile builds an image from it that runs ``headwater serve``.

The reference apps run from a checkout: installed, they would claim the top-level
name ``apps`` in every environment that installs Headwater.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Offline: no index, and the build backend (hatchling, a dev dependency) from this venv.
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--wheel-dir", str(out), str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("headwater-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_the_wheel_has_no_top_level_apps_package(wheel_names: list[str]) -> None:
    top_level = {name.split("/", 1)[0] for name in wheel_names}
    assert "apps" not in top_level
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"headwater"}


@pytest.mark.slow
def test_the_wheel_ships_the_framework_with_its_data_files(wheel_names: list[str]) -> None:
    assert "headwater/__init__.py" in wheel_names
    assert "headwater/py.typed" in wheel_names
    # Migrations and the dashboard's assets are read at run time, not imported.
    assert any(n.startswith("headwater/eventstore/migrations/") for n in wheel_names)
    assert any(n.startswith("headwater/admin/static/") for n in wheel_names)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("HEADWATER_WHEEL_SMOKED") == "1",
    reason=".ci/run served the wheel from make dist already",
)
def test_the_wheel_installs_in_a_fresh_venv_and_serves_once(wheel: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "smoke-wheel"), str(wheel.parent)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "served /healthz" in done.stdout


# --- the container recipe (no docker daemon here: read as Docker reads it) ------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuations joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_dockerfile_installs_the_built_wheel_and_runs_headwater_serve(
    wheel: Path, wheel_names: list[str]
) -> None:
    steps = _instructions((ROOT / "Dockerfile").read_text("utf-8"))
    keywords = [keyword for keyword, _ in steps]
    known = {"FROM", "ENV", "RUN", "COPY", "USER", "WORKDIR", "EXPOSE", "HEALTHCHECK", "CMD"}
    assert set(keywords) <= known
    assert keywords[0] == "FROM"
    # The base image's Python satisfies the project's requires-python.
    image = steps[0][1]
    minor = int(re.fullmatch(r"python:3\.(\d+)-slim", image).group(1))  # type: ignore[union-attr]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"
    assert minor >= 11
    # COPY takes the wheel `make dist` builds, and only it, and pip installs what it copied.
    [(sources, target)] = [tuple(args.rsplit(" ", 1)) for k, args in steps if k == "COPY"]
    assert fnmatch.fnmatch(f"dist/{wheel.name}", sources)
    assert not fnmatch.fnmatch("dist/headwater-0.1.0.tar.gz", sources)
    installs = [args for k, args in steps if k == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert target.rstrip("/") in installs[0]
    assert "headwater-*.whl" in installs[0]
    # The command is `headwater serve`, reachable from outside the container, and the
    # wheel provides the `headwater` console script it names.
    [command] = [json.loads(args) for k, args in steps if k == "CMD"]
    assert command[:2] == ["headwater", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert [args for k, args in steps if k == "EXPOSE"] == [port]
    [entry_points] = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        scripts = archive.read(entry_points).decode()
    assert re.search(r"^headwater = headwater\.cli\._main:main$", scripts, re.M)
    # Production by default: serve refuses an unsafe configuration at start.
    env = " ".join(args for k, args in steps if k == "ENV")
    assert "HEADWATER_ENV=production" in shlex.split(env)
    assert [args for k, args in steps if k == "USER"] == ["headwater"]


def test_the_docker_context_is_the_wheel_only() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert rules == ["*", "!dist/headwater-*.whl"]


def test_make_dist_builds_the_wheel_and_sdist_and_ci_serves_the_wheel() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile.split("\ndist:", 1)[1].split("\n\n", 1)[0]
    assert "-t wheel -t sdist -d dist" in recipe
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    calls = [line.strip() for line in ci if line.strip().startswith(("make", "scripts/"))]
    assert calls.index("make dist") < calls.index("make smoke-wheel") < calls.index("make test")
