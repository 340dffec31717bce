"""The error handler answers whatever an error carries; integers are ranged everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from headwater.errors import InvalidInput
from headwater.http._error_handlers import install_error_handlers
from tests.http.test_openapi_fuzz import build_app


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        (10**20, "100000000000000000000"),
        (-(2**63) - 1, "-9223372036854775809"),
        (b"\xff\xferaw", "\\xff\\xferaw"),
        ("x\ud800y", "x\\ud800y"),
        (float("nan"), "nan"),
        ({1: {2: [3, {b"k"}]}}, {"1": {"2": [3, ["k"]]}}),
        (object, "<class 'object'>"),
    ],
)
def test_an_error_whose_details_hold_anything_is_answered_with_its_status(
    detail: Any, shown: Any
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise InvalidInput("x\udfffbad", value=detail)

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 400
    body = answer.json()["error"]
    assert body["details"]["value"] == shown
    assert body["message"] == "x\\udfffbad"


def _unbounded_integers(schema: dict[str, Any]) -> list[str]:
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                spec = param.get("schema", {})
                for option in [spec, *spec.get("anyOf", [])]:
                    if option.get("type") != "integer":
                        continue
                    low = "minimum" in option or "exclusiveMinimum" in option
                    high = "maximum" in option or "exclusiveMaximum" in option
                    if not (low and high):
                        found.append(f"{method.upper()} {path} {param['name']}")
    return found


def test_every_integer_path_and_query_parameter_declares_a_range(tmp_path: Path) -> None:
    schema = build_app(tmp_path).openapi()
    assert _unbounded_integers(schema) == []
