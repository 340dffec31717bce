"""Contract suites and helpers that backends, plugins and apps reuse in their tests.

``EventStoreContract`` is the event-store contract: a backend's test class subclasses
it and only says how to reach an empty store (``JobQueueContract`` and
``BackupTargetContract`` work the same way). ``serve`` runs ``headwater serve`` in a
subprocess for end-to-end tests; ``probe_tenant_isolation`` sends every route of an
app another tenant's credentials. Names load lazily, so this ``__init__`` imports
nothing: the subprocess helpers that run under ``python -m headwater.testing._writer``
start without loading pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from headwater import _lazy

if TYPE_CHECKING:
    from headwater.testing._backup import (
        BackupTargetContract,
    )
    from headwater.testing._eventstore import (
        EventStoreContract,
    )
    from headwater.testing._fault_proxy import (
        FaultProxy,
        running_fault_proxy,
    )
    from headwater.testing._jobs import (
        JobQueueContract,
    )
    from headwater.testing._server import (
        RunningServer,
        free_port,
        serve,
    )
    from headwater.testing._tenancy import (
        ProbeReport,
        ProbeResult,
        Victim,
        probe_tenant_isolation,
    )

#: Public name -> the module that defines it. The one place to edit when a module moves.
_EXPORTS: Final[dict[str, str]] = {
    # contract suites
    "EventStoreContract": "headwater.testing._eventstore",
    "JobQueueContract": "headwater.testing._jobs",
    "BackupTargetContract": "headwater.testing._backup",
    # a served node
    "RunningServer": "headwater.testing._server",
    "free_port": "headwater.testing._server",
    "serve": "headwater.testing._server",
    # tenant isolation
    "ProbeReport": "headwater.testing._tenancy",
    "ProbeResult": "headwater.testing._tenancy",
    "Victim": "headwater.testing._tenancy",
    "probe_tenant_isolation": "headwater.testing._tenancy",
    # network faults
    "FaultProxy": "headwater.testing._fault_proxy",
    "running_fault_proxy": "headwater.testing._fault_proxy",
}

__all__ = [
    "BackupTargetContract",
    "EventStoreContract",
    "FaultProxy",
    "JobQueueContract",
    "ProbeReport",
    "ProbeResult",
    "RunningServer",
    "Victim",
    "free_port",
    "probe_tenant_isolation",
    "running_fault_proxy",
    "serve",
]


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return _lazy.names(__name__, _EXPORTS)
