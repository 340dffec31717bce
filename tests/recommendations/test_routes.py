"""The recommendation API over HTTP: tracked per caller and tenant, idempotent, 4xx on
bad input, recommendations with reasons."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.cache import CacheModule
from headwater.http._security import SecurityModule
from headwater.recommendations._module import RecommendationsModule
from tests.security.support import (
    Tenant,
    app_settings,
    create_tenant,
    root_headers,
    security_config,
)


@dataclass
class Node:
    client: TestClient
    a: Tenant
    b: Tenant


@pytest.fixture
def node(store_url: str, tmp_path: Path) -> Iterator[Node]:
    cache = CacheModule()
    plugins = [SecurityModule(security_config()), cache, RecommendationsModule(cache=cache)]
    app = create_app(app_settings(store_url, tmp_path), plugins=plugins)
    with TestClient(app, raise_server_exceptions=False) as client:
        root = root_headers(client)
        yield Node(
            client, create_tenant(client, root, "Alpha"), create_tenant(client, root, "Beta")
        )


def code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def recommend(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/api/recommendations", params=params, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_tracked_interactions_change_what_the_caller_is_recommended(node: Node) -> None:
    client, a = node.client, node.a
    admin, staff, user = a.admin(client), a.staff(client), a.user(client)
    for headers in (admin, staff):
        for item in ("heat", "ronin", "thief"):
            r = client.post(
                "/api/recommendations/interactions",
                json={"item_id": item, "action": "like"},
                headers=headers,
            )
            assert r.status_code == 202, r.text
    client.post("/api/recommendations/interactions", json={"item_id": "heat"}, headers=user)
    deadline = time.monotonic() + 10
    while True:
        answer = recommend(client, user, k=2)
        if answer["model"] == "item_item" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer["model"] == "item_item"
    assert {i["item_id"] for i in answer["items"]} == {"ronin", "thief"}
    assert all(i["reason"] == "because you liked heat" for i in answer["items"])
    # Another tenant's log taught Beta nothing.
    assert recommend(client, node.b.user(client))["items"] == []


def test_retried_interaction_with_the_same_key_is_recorded_once(node: Node) -> None:
    client, user = node.client, node.a.user(client := node.client)
    body = {"item_id": "heat", "action": "purchase"}
    first = client.post(
        "/api/recommendations/interactions", json=body, headers={**user, "Idempotency-Key": "k1"}
    )
    again = client.post(
        "/api/recommendations/interactions", json=body, headers={**user, "Idempotency-Key": "k1"}
    )
    assert first.json()["data"] == again.json()["data"]


def test_bad_input_gets_a_4xx_with_a_code(node: Node) -> None:
    client, user = node.client, node.a.user(node.client)
    post = "/api/recommendations/interactions"
    assert code(client.post(post, json={"item_id": "heat"}), 401) == "unauthorized"
    assert code(client.post(post, json={"item_id": "heat", "action": "stare"}, headers=user), 400)
    assert client.post(post, json={"item_id": "", "weight": 1}, headers=user).status_code == 422
    assert client.post(post, json={"item_id": "x", "weight": -1}, headers=user).status_code == 422
    assert client.post(post, json={"item_id": "x", "colour": 1}, headers=user).status_code == 422
    assert code(client.post(post, json={"item_id": "x", "user_id": "someone"}, headers=user), 403)
    assert client.get("/api/recommendations", params={"k": 0}, headers=user).status_code == 422
    assert client.get("/api/recommendations", params={"k": 101}, headers=user).status_code == 422
    hidden = client.put(
        "/api/recommendations/preferences", json={"hidden_items": ["x" * 201]}, headers=user
    )
    assert hidden.status_code == 400
