"""The node's secret: configured, or kept on disk for the embedded default only."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.app import create_app, resolve_secret
from headwater.errors import InvalidInput
from tests.http.support import make_settings


def test_a_shared_database_requires_a_configured_secret(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url="postgresql://x@127.0.0.1/db", secret_key=None)
    with pytest.raises(InvalidInput, match="HEADWATER_SECRET_KEY"):
        create_app(settings)


def test_the_embedded_default_keeps_its_generated_secret(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, secret_key=None)
    first = resolve_secret(settings)
    assert len(first) > 40
    assert resolve_secret(settings) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
