"""Static assets under fingerprinted names, and the HTML pages that reference them.

The one way Headwater serves files: the dashboard's and every app's. At start-up
each file of an asset directory is read once and named by its content
(``admin.js`` is served as ``admin.3f2a9c1b.js``); a page is an HTML template whose
``{{ asset 'admin.js' }}`` placeholders become those URLs, so a changed file is a new
URL and a browser never runs yesterday's script with today's page.

- Assets: ``Cache-Control: public, max-age=31536000, immutable`` (the name changes
  with the content, so a cached copy is never wrong), and ``ETag`` and
  ``Last-Modified`` for the clients that revalidate anyway.
- Pages: not fingerprinted (their URL is the app's), ``Cache-Control: no-cache``: the
  browser revalidates each time, and gets a 304 while the page and its assets are
  unchanged.
- A request's path never reaches the disk: it is a key into the map built at
  start-up, so there is no traversal and no directory listing to refuse. Unknown
  names are the API's JSON 404.
- Stale names (an older fingerprint of a known file) are 404 too, not redirected or
  served: every page here loads its assets as it parses, right after fetching the
  HTML, so a stale name only comes from an HTML and an asset of different builds (a
  rolling deploy), and a reload fixes it. Serving today's bytes under yesterday's name
  would leave them in caches for a year under a name that promises other content;
  redirecting would run new scripts under an old page.

Not Starlette's ``StaticFiles``: it serves a file by the name in the URL, reads the
disk per request and tags by size and modification time (which differ from node to
node); a fingerprinted name needs a map from URL to file anyway, and the files are
few and small, so the map holds their bytes.

The ``ETag`` is weak because the compression middleware may encode the body on its
way out; one tag then names every encoding of the same bytes.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from headwater.errors import NotFound
from headwater.http.middleware._etag import compute_etag, if_none_match

IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"

#: The web's types, fixed here rather than read from the platform's tables (which
#: disagree on JavaScript, and on Windows come from the registry).
_TYPES: Final[dict[str, str]] = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".ico": "image/vnd.microsoft.icon",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".mjs": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
_PLACEHOLDER: Final = re.compile(r"\{\{\s*asset\s+'([^']+)'\s*\}\}")


def media_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def fingerprinted(name: str, body: bytes) -> str:
    """``dir/app.js`` → ``dir/app.<8 hex of the content's hash>.js``."""
    path = PurePosixPath(name)
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()[:8]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


@dataclass(frozen=True, slots=True)
class Asset:
    """One file's bytes and the headers it is served with, fixed at start-up."""

    body: bytes
    media_type: str
    etag: str
    modified: datetime  # whole seconds, UTC: what Last-Modified can say
    headers: Mapping[str, str]

    @classmethod
    def of(cls, body: bytes, media_type: str, cache_control: str, modified: datetime) -> Asset:
        etag = compute_etag(body)
        headers = {
            "cache-control": cache_control,
            "etag": etag,
            "last-modified": format_datetime(modified, usegmt=True),
        }
        return cls(body, media_type, etag, modified, MappingProxyType(headers))

    def response(self, request: Request) -> Response:
        if self._unchanged(request):
            return Response(status_code=304, headers=dict(self.headers))
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers))

    def _unchanged(self, request: Request) -> bool:
        # RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since,
        # only one-second precise and each node's own file time, only without it.
        tags = request.headers.get("if-none-match")
        if tags is not None:
            return if_none_match(tags, self.etag)
        since = request.headers.get("if-modified-since")
        if since is None:
            return False
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False  # an unreadable date is no condition at all
        if when.tzinfo is None:
            return False
        return self.modified <= when


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(int(path.stat().st_mtime), UTC)


class StaticAssets:
    """Every file under ``directory``, served under ``prefix`` by fingerprinted name.

    Dot files are skipped, and so is anything whose real path lies outside the
    directory (a symlink out of it): only the directory's own files are served.
    """

    def __init__(self, directory: Path, *, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        root = directory.resolve(strict=True)
        self._urls: dict[str, str] = {}
        self._assets: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            if not path.resolve().is_relative_to(root):
                continue
            name = relative.as_posix()
            body = path.read_bytes()
            served = fingerprinted(name, body)
            self._urls[name] = f"{self.prefix}/{served}"
            self._assets[served] = Asset.of(body, media_type(name), IMMUTABLE, _modified(path))
        self._modified = max((a.modified for a in self._assets.values()), default=None)

    @property
    def urls(self) -> Mapping[str, str]:
        """File name (relative to the directory) → the URL it is served at now."""
        return MappingProxyType(self._urls)

    def url(self, name: str) -> str:
        try:
            return self._urls[name]
        except KeyError:
            raise LookupError(f"no asset {name!r} in {self.prefix}") from None

    def page(self, template: Path, *, shared: Sequence[StaticAssets] = ()) -> Asset:
        """An HTML page whose ``{{ asset 'name' }}`` placeholders are these assets' URLs.

        Names not found here are looked up in ``shared`` (e.g. the framework's
        ``headwater.js``), in order. A placeholder naming no asset fails here, at
        start-up, not in a browser.
        """

        def url(name: str) -> str:
            for assets in (self, *shared):
                if name in assets.urls:
                    return assets.url(name)
            return self.url(name)  # raises, naming this directory

        text = _PLACEHOLDER.sub(lambda m: url(m.group(1)), template.read_text("utf-8"))
        if "{{" in text:
            raise ValueError(f"{template}: an asset placeholder is malformed")
        # The page's bytes change when an asset's name does: it is as new as its newest asset.
        modified = max(_modified(template), self._modified or _modified(template))
        return Asset.of(text.encode(), media_type(template.name), REVALIDATE, modified)

    def response(self, request: Request, name: str) -> Response:
        """The asset at fingerprinted ``name`` (the URL's path after the prefix)."""
        asset = self._assets.get(name)
        if asset is None:
            raise NotFound("no such file")
        return asset.response(request)
