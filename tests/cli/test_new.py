"""``headwater new``: the app it makes passes its own tests and lint, and serves at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from headwater.cli._main import app
from headwater.testing import serve

runner = CliRunner()
BIN = Path(sys.executable).parent
ADMIN, ADMIN_PASSWORD = "root@todo.example", "root-password-1"


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH: the checkout's own ``tests`` package must not shadow the app's."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("new") / "todo"
    result = runner.invoke(app, ["new", "todo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert "headwater dev --app todo.module:module" in result.output
    return target


def test_new_writes_a_package_with_tests_readme_and_pyproject(made: Path) -> None:
    files = {str(p.relative_to(made)) for p in made.rglob("*") if p.is_file()}
    assert {"README.md", "pyproject.toml", "tests/conftest.py", "tests/test_tasks.py"} <= files
    for module in ("domain", "commands", "projections", "routes", "jobs", "module"):
        assert f"todo/{module}.py" in files
    assert not any(name.endswith(".tmpl") for name in files)
    assert "${name}" not in (made / "todo" / "module.py").read_text()


def test_the_new_app_imports_only_public_names(made: Path) -> None:
    for path in made.rglob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("from headwater", "import headwater")):
                module = line.split()[1]
                assert not any(part.startswith("_") for part in module.split(".")), line


@pytest.mark.timeout(180)
def test_the_new_app_passes_its_own_tests(made: Path) -> None:
    done = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=made,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


@pytest.mark.timeout(180)
def test_the_new_app_is_lint_and_strict_type_clean(made: Path) -> None:
    for command in (
        [str(BIN / "ruff"), "check", "--no-cache", "."],
        [str(BIN / "ruff"), "format", "--check", "--no-cache", "."],
        [str(BIN / "mypy"), "--no-incremental", "todo", "tests"],
    ):
        done = subprocess.run(
            command, cwd=made, env=_clean_env(), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def test_the_new_app_serves_and_answers_its_route(made: Path, tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(made),
        "HEADWATER_AUTO_MIGRATE": "true",
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "HEADWATER_FAST_PASSWORD_HASHING": "true",
    }
    url = f"sqlite:///{tmp_path / 'todo.db'}"
    with (
        serve(url, workdir=tmp_path, apps=["todo.module:module"], env=env) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        assert http.get("/todo/tasks").status_code == 401  # mounted, and guarded
        login = http.post("/auth/login", json={"email": ADMIN, "password": ADMIN_PASSWORD})
        root = {"authorization": f"Bearer {login.json()['data']['access_token']}"}
        tenant = http.post("/admin/tenants", json={"name": "Acme"}, headers=root)
        acting = http.post(
            "/auth/act-as", json={"tenant_id": tenant.json()["data"]["id"]}, headers=root
        )
        admin = {"authorization": f"Bearer {acting.json()['data']['access_token']}"}
        added = http.post("/todo/tasks", json={"title": "Try it"}, headers=admin)
        assert added.status_code == 201, added.text
        tasks = http.get("/todo/tasks", headers=admin).json()["data"]["tasks"]
        assert [t["title"] for t in tasks] == ["Try it"]


@pytest.mark.parametrize("name", ["Todo", "1st", "class", "tests", "headwater", "to-do"])
def test_new_refuses_a_name_that_cannot_be_a_package(name: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", name, "--dir", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "cannot name an app" in result.output
    assert not (tmp_path / "x").exists()


def test_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["new", "todo", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
