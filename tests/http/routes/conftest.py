from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.security.support import make_app


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The security module on SQLite: for behaviour that does not depend on the backend."""
    with TestClient(make_app(sqlite_url, tmp_path), raise_server_exceptions=False) as test_client:
        yield test_client
