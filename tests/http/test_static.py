"""Fingerprinted static assets and the pages that name them (``headwater.http._static``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient

from headwater.http._error_handlers import install_error_handlers
from headwater.http._static import IMMUTABLE, StaticAssets, fingerprinted

JS = b"console.log('hello')\n"
PAGE = """<!doctype html>
<link rel="stylesheet" href="{{ asset 'site.css' }}">
<script src="{{asset 'app.js'}}" defer></script>
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "vendor").mkdir(parents=True)
    (static / "app.js").write_bytes(JS)
    (static / "site.css").write_text("body { color: black }\n")
    (static / "vendor" / "lib.min.js").write_text("var lib = 1;\n")
    (static / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (static / ".hidden.js").write_text("secret")
    (tmp_path / "secret.txt").write_text("not an asset")
    (tmp_path / "page.html").write_text(PAGE)
    return tmp_path


def serve(root: Path) -> tuple[StaticAssets, TestClient]:
    assets = StaticAssets(root / "static", prefix="/static")
    page = assets.page(root / "page.html")
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/page")
    async def html(request: Request) -> Response:
        return page.response(request)

    @app.get("/static/{name:path}")
    async def asset(request: Request, name: str) -> Response:
        return assets.response(request, name)

    return assets, TestClient(app)


@pytest.fixture
def site(root: Path) -> Iterator[tuple[StaticAssets, TestClient]]:
    assets, client = serve(root)
    with client:
        yield assets, client


def not_found(response: Any) -> bool:
    return bool(response.status_code == 404 and response.json()["error"]["code"] == "not_found")


def test_a_file_is_served_under_its_content_hash_with_year_long_immutable_caching(
    site: tuple[StaticAssets, TestClient],
) -> None:
    assets, client = site
    url = assets.url("app.js")
    assert url == f"/static/{fingerprinted('app.js', JS)}"
    assert url.startswith("/static/app.")
    assert url.endswith(".js")
    assert len(url) == len("/static/app.js") + 9
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == JS
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable" == IMMUTABLE
    assert response.headers["etag"].startswith('W/"')
    assert response.headers["last-modified"].endswith(" GMT")


def test_files_in_subdirectories_keep_their_directory_and_get_their_own_types(
    site: tuple[StaticAssets, TestClient],
) -> None:
    assets, client = site
    assert assets.url("vendor/lib.min.js").startswith("/static/vendor/lib.min.")
    assert client.get(assets.url("vendor/lib.min.js")).text == "var lib = 1;\n"
    assert client.get(assets.url("site.css")).headers["content-type"] == "text/css; charset=utf-8"
    assert client.get(assets.url("logo.svg")).headers["content-type"] == "image/svg+xml"
    assert set(assets.urls) == {"app.js", "site.css", "vendor/lib.min.js", "logo.svg"}


def test_a_matching_if_none_match_is_a_304_without_a_body(
    site: tuple[StaticAssets, TestClient],
) -> None:
    assets, client = site
    first = client.get(assets.url("app.js"))
    again = client.get(assets.url("app.js"), headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == IMMUTABLE
    listed = client.get(
        assets.url("app.js"), headers={"if-none-match": f'"x", {first.headers["etag"]}'}
    )
    assert listed.status_code == 304
    other = client.get(assets.url("app.js"), headers={"if-none-match": 'W/"0123"'})
    assert other.status_code == 200
    assert other.content == JS


def test_if_modified_since_is_a_304_when_unchanged_and_a_200_when_older(
    site: tuple[StaticAssets, TestClient],
) -> None:
    assets, client = site
    first = client.get(assets.url("app.js"))
    since = first.headers["last-modified"]
    assert client.get(assets.url("app.js"), headers={"if-modified-since": since}).status_code == 304
    older = format_datetime(datetime.now(UTC) - timedelta(days=400), usegmt=True)
    stale = client.get(assets.url("app.js"), headers={"if-modified-since": older})
    assert stale.status_code == 200
    assert stale.content == JS
    garbage = client.get(assets.url("app.js"), headers={"if-modified-since": "yesterday"})
    assert garbage.status_code == 200
    # If-None-Match decides when both are sent: a tag that does not match is a 200.
    both = client.get(
        assets.url("app.js"), headers={"if-modified-since": since, "if-none-match": 'W/"0"'}
    )
    assert both.status_code == 200


def test_the_fingerprint_changes_with_the_content_and_the_old_name_is_gone(root: Path) -> None:
    before, _ = serve(root)
    same, _ = serve(root)
    assert same.url("app.js") == before.url("app.js")
    (root / "static" / "app.js").write_bytes(JS + b"// changed\n")
    after, client = serve(root)
    assert after.url("app.js") != before.url("app.js")
    assert after.url("site.css") == before.url("site.css")
    with client:
        assert client.get(after.url("app.js")).content.endswith(b"// changed\n")
        # A stale name is a 404, not today's bytes cached for a year under yesterday's name.
        assert not_found(client.get(before.url("app.js")))


def test_only_fingerprinted_names_of_the_directorys_own_files_are_served(
    root: Path, site: tuple[StaticAssets, TestClient]
) -> None:
    assets, client = site
    (root / "static" / "escape.txt").symlink_to(root / "secret.txt")
    with_link, _ = serve(root)
    assert "escape.txt" not in with_link.urls  # a symlink out of the directory
    assert ".hidden.js" not in assets.urls
    for path in (
        "/static/app.js",  # the plain name: only the fingerprinted one is served
        "/static/.hidden.js",
        "/static/",  # no directory listing
        "/static/vendor",
        "/static/vendor/",
        "/static/..%2Fsecret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/vendor/..%2F..%2Fsecret.txt",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not an asset" not in response.text
        assert "root:" not in response.text


def test_a_path_is_never_joined_to_the_directory(site: tuple[StaticAssets, TestClient]) -> None:
    # Whatever a router lets through, the name is a key into the start-up map.
    assets, _ = site
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raw")
    async def raw(request: Request, name: str) -> Response:
        return assets.response(request, name)

    with TestClient(app) as raw_client:
        for name in ("../secret.txt", "/etc/passwd", "vendor/../app.js", "", "."):
            assert not_found(raw_client.get("/raw", params={"name": name})), name


def test_a_page_names_its_assets_by_their_fingerprinted_urls_and_revalidates(
    root: Path, site: tuple[StaticAssets, TestClient]
) -> None:
    assets, client = site
    page = client.get("/page")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert f'href="{assets.url("site.css")}"' in page.text
    assert f'src="{assets.url("app.js")}"' in page.text
    assert "{{" not in page.text
    again = client.get("/page", headers={"if-none-match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"
    # A changed asset is a changed page: the browser's revalidation fetches the new names.
    (root / "static" / "app.js").write_bytes(b"console.log('v2')\n")
    after, new_client = serve(root)
    with new_client:
        fresh = new_client.get("/page", headers={"if-none-match": page.headers["etag"]})
        assert fresh.status_code == 200
        assert after.url("app.js") in fresh.text
        assert assets.url("app.js") not in fresh.text


def test_a_page_naming_a_missing_asset_fails_at_start_up(root: Path) -> None:
    assets = StaticAssets(root / "static", prefix="/static")
    (root / "typo.html").write_text("<script src=\"{{ asset 'ap.js' }}\"></script>")
    with pytest.raises(LookupError, match=r"ap\.js"):
        assets.page(root / "typo.html")
    (root / "broken.html").write_text('<script src="{{ asset app.js }}"></script>')
    with pytest.raises(ValueError, match="malformed"):
        assets.page(root / "broken.html")


def test_the_modification_time_is_the_files_own(root: Path) -> None:
    stamp = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    os.utime(root / "static" / "app.js", (stamp, stamp))
    assets, client = serve(root)
    with client:
        response = client.get(assets.url("app.js"))
    assert response.headers["last-modified"] == "Fri, 01 Mar 2024 12:00:00 GMT"
