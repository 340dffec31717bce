"""The module wired into a node: the periodic job retrains ALS from the log, and the
tenant configured for ALS is then answered by it."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.recommendations._als import AlsOptions
from headwater.recommendations._module import RecommendationsModule
from tests.security.support import app_settings, create_tenant, root_headers, security_config

HISTORIES = {
    "ann": ["heat", "ronin", "blockbuster"],
    "bob": ["heat", "ronin", "thief", "blockbuster"],
    "cid": ["heat", "thief", "blockbuster"],
}


def test_periodic_job_retrains_als_and_the_tenant_gets_als_answers(
    store_url: str, tmp_path: Path
) -> None:
    module = RecommendationsModule(
        default_model="als", als_every=1.0, als_options=AlsOptions(factors=4, iterations=5)
    )
    plugins = [SecurityModule(security_config()), module]
    app = create_app(app_settings(store_url, tmp_path), plugins=plugins)
    with TestClient(app, raise_server_exceptions=False) as client:
        tenant = create_tenant(client, root_headers(client), "Alpha")
        staff = tenant.staff(client)
        for user, items in HISTORIES.items():
            for item in items:
                body = {"item_id": item, "action": "like", "user_id": user}
                response = client.post(
                    "/api/recommendations/interactions", json=body, headers=staff
                )
                assert response.status_code == 202, response.text
        client.post("/api/recommendations/interactions", json={"item_id": "heat"}, headers=staff)
        deadline = time.monotonic() + 30
        while True:
            answer = client.get("/api/recommendations", headers=staff).json()["data"]
            if answer["model"] == "als" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert answer["model"] == "als"
    assert "heat" not in {i["item_id"] for i in answer["items"]}
