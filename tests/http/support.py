"""An example module and settings for HTTP tests."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from headwater.errors import ConcurrencyError
from headwater.http._responses import Envelope, ok
from headwater.modules import Module
from headwater.settings import Settings


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


class ExampleModule(Module):
    name = "example"
    version = "1.2.3"

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.post("/things", response_model=Envelope[Thing])
        async def create_thing(thing: Thing) -> Envelope[Thing]:
            return ok(thing)

        @router.get("/conflict")
        async def conflict() -> None:
            raise ConcurrencyError("s-1", 3, 4)

        @router.get("/boom")
        async def boom() -> None:
            raise RuntimeError("a bug")

        return [router]


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'app.db'}",
        "data_dir": tmp_path,
        "secret_key": "test-secret",
        "rate_limits": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
