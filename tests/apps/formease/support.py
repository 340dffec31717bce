"""Small builders over the HTTP API, shared by the FormEase tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.apps.formease.conftest import Operator


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def new_user(http: httpx.Client, op: Operator, plan: str = "free", **extra: Any) -> str:
    email = extra.pop("email", f"u-{uuid.uuid4().hex[:10]}@customer.example")
    body = {"email": email, "name": extra.pop("name", "Customer"), "plan": plan, **extra}
    return str(data(http.post("/formease/users", json=body, headers=op.staff), 201)["user_id"])


def new_form(http: httpx.Client, op: Operator, user_id: str, title: str = "Survey") -> str:
    made = http.post(f"/formease/users/{user_id}/forms", json={"title": title}, headers=op.staff)
    return str(data(made, 201)["form_id"])


TEXT = {"type": "text", "label": "Name", "required": True, "order": 1, "max_length": 50}
AGE = {"type": "number", "label": "Age", "order": 2, "minimum": 0, "maximum": 130}


def published_form(
    http: httpx.Client, op: Operator, user_id: str, fields: dict[str, Any] | None = None
) -> str:
    form_id = new_form(http, op, user_id)
    body = {"set_fields": fields or {"name": TEXT, "age": AGE}}
    data(http.patch(f"/formease/forms/{form_id}", json=body, headers=op.staff))
    data(http.post(f"/formease/forms/{form_id}/publish", headers=op.staff))
    return form_id


def open_form(http: httpx.Client, op: Operator, form_id: str) -> dict[str, Any]:
    opened: dict[str, Any] = data(
        http.post(f"/formease/forms/{form_id}/open", headers=op.respondent), 201
    )
    return opened


def submit(http: httpx.Client, op: Operator, token: str, answers: dict[str, Any]) -> httpx.Response:
    body = {"token": token, "answers": answers}
    return http.post("/formease/submissions", json=body, headers=op.respondent)
