"""``headwater serve`` as a real process on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from headwater.testing._server import serve


def test_serve_answers_with_security_headers_and_stops_cleanly(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'serve.db'}", workdir=tmp_path) as server:
        response = httpx.get(f"{server.url}/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers
    # uvicorn re-raises SIGTERM after a graceful shutdown; the log says it was graceful.
    assert "Application shutdown complete" in server.output()


@pytest.mark.postgres
def test_serve_on_postgres_needs_a_migrated_schema(tmp_path: Path, postgres_url: str) -> None:
    with (
        pytest.raises(RuntimeError, match="headwater migrate"),
        serve(postgres_url, workdir=tmp_path, startup_timeout=15),
    ):
        pass
