"""The app each node of the failover test serves: realtime, the test append route, and an
async projection that writes down every event it is given (position and id).

Its table must end equal to the log: a runner that skipped a reissued position, or
kept an event the failover lost, leaves a row that differs.
"""

from __future__ import annotations

from headwater.eventstore import RecordedEvent, Statement
from headwater.modules import Module
from headwater.projections import INTEGER, TEXT, Projection, ProjectionRunner, Table
from headwater.runtime import Runtime
from headwater.testing._realtime import AppendModule, authenticator, realtime_module

EVENTS_SEEN = Table(
    "rm_failover_seen", {"position": INTEGER, "event_id": TEXT}, primary_key="position"
)
seen = Projection("failover_seen", tables=[EVENTS_SEEN])


@seen.on("Tested")
def _seen(event: RecordedEvent) -> Statement:
    return EVENTS_SEEN.insert({"position": event.position, "event_id": str(event.id)})


class SeenProjection(Module):
    """Runs the projection on this node; every node runs one (the checkpoint fences them)."""

    name = "failover-seen"

    def __init__(self) -> None:
        self._runner: ProjectionRunner | None = None

    async def start(self, runtime: Runtime) -> None:
        self._runner = ProjectionRunner(runtime.store, seen)
        await self._runner.start()

    async def stop(self, runtime: Runtime) -> None:
        if self._runner is not None:
            await self._runner.stop()


realtime = realtime_module()
appender = AppendModule(authenticator)
projection = SeenProjection()
