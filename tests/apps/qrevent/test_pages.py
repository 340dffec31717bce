"""The three pages and their assets over HTTP: fingerprinted URLs, caching, 404s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apps.qrevent.api.routes.pages import ASSETS, GUEST_PATH

PAGES = {GUEST_PATH: "guest.js", "/qrevent/screen": "screen.js", "/qrevent/door": "door.js"}


@pytest.mark.parametrize(("path", "script"), PAGES.items())
def test_each_page_names_its_assets_by_fingerprint_and_revalidates(
    client: TestClient, path: str, script: str
) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    for name in ("qrevent.css", "qrevent.js", script):
        url = ASSETS.url(name)
        assert url != f"/qrevent/static/{name}"
        assert f'"{url}"' in page.text, name
        asset = client.get(url)
        assert asset.status_code == 200, name
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get(path, headers={"if-none-match": page.headers["etag"]}).status_code == 304


def test_unknown_and_unfingerprinted_names_are_the_apis_404(client: TestClient) -> None:
    for path in ("/qrevent/static/guest.js", "/qrevent/static/../pages.py", "/qrevent/static/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
