"""The event-store contract: one suite that every backend passes unchanged.

A backend's tests subclass :class:`EventStoreContract` and say only how to reach an
empty store, by overriding the ``store_url`` fixture::

    from headwater.testing._eventstore import EventStoreContract

    class TestSqliteFileStore(EventStoreContract):
        @pytest.fixture
        def store_url(self, tmp_path: Path) -> str:
            return f"sqlite:///{tmp_path / 'events.db'}"

A backend that ``create_event_store`` cannot open overrides :meth:`open_store`
(and ``worker_opener``, the ``module:function`` that child processes await to open
it). A backend that lacks a capability sets it to ``False``
(``shared_between_processes``, ``survives_restart``); the tests that need it are
skipped with the reason, and every other test runs unchanged. The tests run under
the anyio pytest plugin on asyncio (the project's ``anyio_backend`` fixture).
"""

from __future__ import annotations

import pytest

# The tests live in these modules; pytest must rewrite their asserts to say what
# differed, so they are registered before they are imported.
pytest.register_assert_rewrite(
    "headwater.testing._eventstore_base",
    "headwater.testing._eventstore_appends",
    "headwater.testing._eventstore_bad_input",
    "headwater.testing._eventstore_reads",
    "headwater.testing._eventstore_transactions",
    "headwater.testing._eventstore_subscriptions",
    "headwater.testing._eventstore_concurrency",
    "headwater.testing._eventstore_rewind",
)

from headwater.testing._eventstore_appends import AppendingContract  # noqa: E402
from headwater.testing._eventstore_bad_input import BadInputContract  # noqa: E402
from headwater.testing._eventstore_base import CAPABILITY_REASONS, ContractBase  # noqa: E402
from headwater.testing._eventstore_concurrency import ConcurrencyContract  # noqa: E402
from headwater.testing._eventstore_reads import ReadingContract  # noqa: E402
from headwater.testing._eventstore_rewind import RewindContract  # noqa: E402
from headwater.testing._eventstore_subscriptions import SubscriptionContract  # noqa: E402
from headwater.testing._eventstore_transactions import TransactionContract  # noqa: E402

__all__ = ["CAPABILITY_REASONS", "ContractBase", "EventStoreContract"]


class EventStoreContract(
    AppendingContract,
    BadInputContract,
    ReadingContract,
    TransactionContract,
    SubscriptionContract,
    ConcurrencyContract,
    RewindContract,
):
    """Every behaviour an event store promises, as tests; see the module docstring."""

    pytestmark = [pytest.mark.anyio]
