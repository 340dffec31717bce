"""The generated reference pages cover everything they claim to, from the code itself."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import typer

from headwater import errors
from headwater.cli._main import app
from headwater.realtime import CloseCode
from headwater.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs/gen_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_settings_table(gen: ModuleType) -> None:
    table = gen.settings_markdown()
    for name in Settings.model_fields:
        assert f"| `HEADWATER_{name.upper()}` |" in table


def test_a_settings_comment_lands_on_its_field(gen: ModuleType) -> None:
    table = gen.settings_markdown()
    row = next(line for line in table.splitlines() if "`HEADWATER_MAX_BODY_BYTES`" in line)
    assert "Request bodies larger than this get 413." in row


def test_every_command_is_in_the_cli_page(gen: ModuleType) -> None:
    page = gen.cli_markdown()

    def paths(command: object, prefix: list[str]) -> list[list[str]]:
        found = [prefix] if prefix else []
        for name, sub in getattr(command, "commands", {}).items():
            found += paths(sub, [*prefix, name])
        return found

    commands = paths(typer.main.get_command(app), [])
    assert len(commands) > 10
    for path in commands:
        assert f"`headwater {' '.join(path)}`" in page


def test_every_error_class_is_in_the_table_with_its_code(gen: ModuleType) -> None:
    table = gen.errors_markdown()
    drawn = gen._tree_order(errors)
    assert sorted(drawn) == sorted(errors.__all__), "the docstring's tree and __all__ differ"
    for name in errors.__all__:
        code = getattr(errors, name).code
        assert re.search(rf"^\| `{name}` \| `\w*` \| `{code}` \| \d{{3}} \|", table, re.M), name


def test_the_error_table_says_the_status_the_http_layer_answers(gen: ModuleType) -> None:
    table = gen.errors_markdown()
    assert re.search(r"^\| `ConcurrencyError` \| .* \| 409 \|", table, re.M)
    assert re.search(r"^\| `RateLimited` \| .* \| 429 \|", table, re.M)
    assert re.search(r"^\| `UnknownBackend` \| .* \| 500 \|", table, re.M)


def test_every_close_code_and_message_is_in_the_protocol(gen: ModuleType) -> None:
    codes = gen.close_codes_markdown()
    for code in CloseCode:
        assert f"| {int(code)} | `{code.name}` |" in codes
    protocol = gen.realtime_protocol_markdown()
    for kind in ("subscribe", "subscribed", "event", "topic", "presence", "heartbeat", "error"):
        assert f'"type": "{kind}"' in protocol


def test_every_public_name_is_rendered_once_and_linked_from_its_reexports(
    gen: ModuleType,
) -> None:
    pages = gen.api_pages()
    rendered = re.findall(r"^::: (\S+)$", "\n".join(pages.values()), re.M)
    assert len(rendered) == len(set(rendered)), "a name is rendered twice"
    for package in gen.public_packages():
        page = pages[f"reference/api/{package}.md"]
        for name in importlib.import_module(package).__all__:
            if f"{package}.{name}" in rendered:
                continue
            link = re.search(
                rf"^\| `{name}` \| \[`([\w.]+)`\]\(\1\.md#\1\.{name}\) \|$", page, re.M
            )
            assert link, f"{package}.{name} is neither rendered nor linked"
            home = link.group(1)
            assert f"{home}.{name}" in rendered, f"{package}.{name} links to {home}, which lacks it"
            assert getattr(importlib.import_module(home), name) is getattr(
                importlib.import_module(package), name
            )


def test_every_metric_the_docs_name_exists(gen: ModuleType) -> None:
    metrics = gen.metrics_markdown()
    known = set(re.findall(r"`(headwater_[a-z_]+)`", metrics))
    assert "headwater_http_request_duration_seconds" in known
    for page in (ROOT / "docs").rglob("*.md"):
        for name in re.findall(r"headwater_[a-z_]+", page.read_text("utf-8")):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert base in known, f"{page.name} names {name}, which no code defines"


def test_the_app_module_tables_list_every_module(gen: ModuleType) -> None:
    table = gen.app_modules_markdown("apps.qrevent")
    for path in (ROOT / "apps/qrevent").rglob("*.py"):
        if path.name != "__init__.py":
            assert f"`{path.relative_to(ROOT).as_posix()}`" in table
