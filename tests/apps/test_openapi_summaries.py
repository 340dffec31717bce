"""Every route of QR Event and FormEase says in OpenAPI what it does (a summary written
for it, not FastAPI's from the function name) and which errors it answers."""

from __future__ import annotations

from typing import Any

import pytest

from apps.formease.module import module as formease
from apps.qrevent.module import QrEventModule
from headwater.app import create_app
from tests.http.support import make_settings

APP_PREFIXES = ("/api/", "/formease/")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = make_settings(tmp_path_factory.mktemp("openapi"))
    document: dict[str, Any] = create_app(settings, apps=[QrEventModule(), formease]).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        if path.startswith(APP_PREFIXES)
        for method, op in ops.items()
    ]


def test_every_app_route_has_its_own_summary(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) > 60
    generic = []
    for method, path, op in operations:
        # FastAPI's default: the function's name, title-cased ("List Events").
        function = op["operationId"].split("_api_")[0].split("_formease_")[0]
        derived = function.replace("_", " ").title()
        if op.get("summary") in (None, derived):
            generic.append(f"{method} {path}")
    assert generic == []


def test_every_app_route_documents_its_errors(spec: dict[str, Any]) -> None:
    bare = [
        f"{method} {path}"
        for method, path, op in _operations(spec)
        if not any(code.startswith("4") for code in op["responses"])
    ]
    assert bare == []
    paths = spec["paths"]
    assert "404" in paths["/formease/public/{link}/open"]["post"]["responses"]
    assert "429" in paths["/formease/public/{link}/submissions"]["post"]["responses"]
    # The routes the rate limits name say so too.
    assert "429" in paths["/api/games/{game_id}/play"]["post"]["responses"]
    assert "429" in paths["/api/me"]["get"]["responses"]
