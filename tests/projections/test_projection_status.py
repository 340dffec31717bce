"""Status: position, lag in events and seconds, state, errors."""

from __future__ import annotations

import pytest
from formease_sample import append_history, form_metrics, user_stats

from headwater.eventstore import EventStore
from headwater.projections import ProjectionRunner, ProjectionState, projection_status

pytestmark = pytest.mark.anyio


async def test_a_registered_but_idle_projection_shows_its_lag(store: EventStore) -> None:
    await append_history(store, 120)
    await ProjectionRunner(store, form_metrics).prepare()
    submissions = len([e async for e in store.read_all(types=["submission.received"])])

    (status,) = await projection_status(store, [form_metrics])
    assert status.state is ProjectionState.STOPPED
    assert status.position == 0
    assert status.lag_events == submissions
    assert status.lag_seconds >= 0.0
    assert status.head == 120

    (unknown,) = await projection_status(store)  # without the definition: all events count
    assert unknown.lag_events == 120


async def test_caught_up_projection_has_no_lag_and_reports_needs_rebuild(
    store: EventStore,
) -> None:
    await append_history(store, 60)
    await ProjectionRunner(store, user_stats).catch_up()
    (status,) = await projection_status(store, [user_stats])
    assert (status.position, status.lag_events, status.lag_seconds) == (60, 0, 0.0)
    assert status.poison_count == 0
    assert not status.needs_rebuild

    from headwater.projections import Projection

    changed = Projection("user_stats", tables=user_stats.tables, version=2)
    (status,) = await projection_status(store, [changed])
    assert status.needs_rebuild
