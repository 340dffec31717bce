"""Every assistant route says in OpenAPI what it does and which errors it answers."""

from __future__ import annotations

from typing import Any

import pytest

from apps.assistant.module import AssistantModule
from headwater.app import create_app
from tests.http.support import make_settings


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    settings = make_settings(tmp_path_factory.mktemp("openapi"))
    spec = create_app(settings, apps=[AssistantModule()]).openapi()
    return [
        (f"{method.upper()} {path}", op)
        for path, ops in spec["paths"].items()
        if path.startswith("/assistant/")
        for method, op in ops.items()
    ]


def test_every_route_has_its_own_summary_and_its_errors(
    operations: list[tuple[str, dict[str, Any]]],
) -> None:
    assert len(operations) == 16  # 12 for chat, 4 for the builder
    for name, op in operations:
        assert op.get("summary"), name
        assert op["summary"].lower() != op["operationId"].split("_assistant")[0].replace("_", " ")
        assert any(code.startswith("4") for code in op["responses"]), name
    by_name = dict(operations)
    assert "422" in by_name["POST /assistant/threads/{thread_id}/messages"]["responses"]
    assert "429" in by_name["POST /assistant/threads/{thread_id}/messages"]["responses"]
    assert "422" in by_name["POST /assistant/builds"]["responses"]
    assert "404" in by_name["GET /assistant/builds/{build_id}/files"]["responses"]
