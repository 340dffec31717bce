"""``Runtime``: typed services, accessors that name the missing module, a type-keyed registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.cursors import CursorCodec
from headwater.eventstore import EventStore
from headwater.runtime import Runtime, ServiceMissing
from headwater.settings import Settings


class Greeter:
    def greet(self) -> str:
        return "hello"


class FrenchGreeter(Greeter):
    def greet(self) -> str:
        return "bonjour"


def bare_runtime(tmp_path: Path) -> Runtime:
    # Nothing here touches the store: a runtime is only a holder of references.
    store: EventStore = object()  # type: ignore[assignment]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", data_dir=tmp_path)
    return Runtime(settings=settings, store=store, cursors=CursorCodec("s"))


def test_a_missing_core_service_is_named_with_the_module_that_provides_it(
    tmp_path: Path,
) -> None:
    runtime = bare_runtime(tmp_path)
    assert runtime.hub is None
    with pytest.raises(ServiceMissing, match=r"realtime hub .* realtime module"):
        runtime.require_hub()
    with pytest.raises(ServiceMissing, match=r"job queue .* jobs module"):
        runtime.require_jobs()


def test_an_apps_service_is_provided_and_found_by_its_type(tmp_path: Path) -> None:
    runtime = bare_runtime(tmp_path)
    assert runtime.find(Greeter) is None
    with pytest.raises(ServiceMissing, match="no Greeter is provided"):
        runtime.get(Greeter)
    greeter = Greeter()
    runtime.provide(greeter)
    assert runtime.get(Greeter) is greeter
    runtime.withdraw(Greeter)
    assert runtime.find(Greeter) is None


def test_a_service_may_be_provided_under_a_base_it_implements(tmp_path: Path) -> None:
    runtime = bare_runtime(tmp_path)
    runtime.provide(FrenchGreeter(), kind=Greeter)
    assert runtime.get(Greeter).greet() == "bonjour"
    assert runtime.find(FrenchGreeter) is None  # keyed by the kind it was given under
