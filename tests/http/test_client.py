"""headwater.js and the favicon: served by the core, fingerprinted, nameable by pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.http import CLIENT_ASSETS, StaticAssets
from headwater.http._static import IMMUTABLE


def test_the_client_is_served_fingerprinted_by_every_app(client: TestClient) -> None:
    url = CLIENT_ASSETS.url("headwater.js")
    assert url.startswith("/_headwater/headwater.")
    assert url.endswith(".js")
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == IMMUTABLE
    # An ES module exporting the client, its queue and its error.
    for name in ("class Client", "class OfflineQueue", "class ApiError"):
        assert f"export {name}" in response.text
    assert client.get("/_headwater/headwater.00000000.js").status_code == 404


def test_favicon_ico_leads_to_the_fingerprinted_icon(client: TestClient) -> None:
    response = client.get("/favicon.ico", follow_redirects=False)
    assert response.status_code == 302
    icon = client.get(response.headers["location"])
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"


def test_a_page_names_the_client_next_to_its_own_assets(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "page.js").write_text("export {};\n")
    (tmp_path / "page.html").write_text(
        "<link rel=modulepreload href=\"{{ asset 'headwater.js' }}\">"
        "<script type=module src=\"{{ asset 'page.js' }}\"></script>"
    )
    assets = StaticAssets(tmp_path / "static", prefix="/app")
    html = assets.page(tmp_path / "page.html", shared=[CLIENT_ASSETS]).body.decode()
    assert CLIENT_ASSETS.url("headwater.js") in html
    assert assets.url("page.js") in html
    (tmp_path / "bad.html").write_text("{{ asset 'nowhere.js' }}")
    with pytest.raises(LookupError, match=r"nowhere\.js"):
        assets.page(tmp_path / "bad.html", shared=[CLIENT_ASSETS])
