"""An in-process app per backend, with two organizers (tenants)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.apps.qrevent.support import Organizer, make_app, organizer


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(store_url, tmp_path), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient) -> Organizer:
    return organizer(client, "Mill Weddings")


@pytest.fixture
def rival(client: TestClient) -> Organizer:
    return organizer(client, "Rival Parties")
