"""The analytics read model: one incremental projection for every declaration.

Each action turns into a few SQL statements per declaration it touches, never a scan:

- ``an_actions``: actions per tenant, name and day (the "actions over time" chart);
- funnels: ``an_funnel_subjects`` holds each subject's state (steps reached, entry time
  t0, position of the event that reached the last step); ``an_funnel_counts`` holds how
  many subjects that entered on a day reached each step;
- retention: ``an_ret_subjects`` (cohort period and first position), ``an_ret_active``
  (one row per subject and active period), ``an_ret_counts`` and ``an_ret_sizes``;
- cohorts: ``an_cohort_members`` (events per subject) and ``an_cohort_sizes``.

Handlers are pure (they return statements, see ``projections``), so a state change
and the counter it implies are two statements: the first moves the state
conditionally, and the second counts *only rows the first has just stamped with this
event's position*. The runner commits both with the checkpoint in one transaction, so
no counter can be off by a crash; replay and rebuild yield the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from headwater.analytics.actions import (
    CAPTURED,
    Action,
    EventSource,
    captured_action,
    source_actions,
)
from headwater.analytics.definitions import DAY_MS, Declarations, period_of
from headwater.eventstore.records import RecordedEvent
from headwater.eventstore.sql import Statement
from headwater.projections import INTEGER, TEXT, Merge, Projection, Table

NAME = "hw_analytics"

ACTIONS = Table(
    "an_actions",
    {"tenant_id": TEXT, "name": TEXT, "day": INTEGER, "n": INTEGER},
    primary_key=("tenant_id", "name", "day"),
    tenant_column="tenant_id",
)
FUNNEL_SUBJECTS = Table(
    "an_funnel_subjects",
    {
        "tenant_id": TEXT,
        "funnel": TEXT,
        "subject": TEXT,
        "reached": INTEGER,
        "t0": INTEGER,
        "last_pos": INTEGER,
        "entry_day": INTEGER,
    },
    primary_key=("tenant_id", "funnel", "subject"),
    tenant_column="tenant_id",
)
FUNNEL_COUNTS = Table(
    "an_funnel_counts",
    {"tenant_id": TEXT, "funnel": TEXT, "entry_day": INTEGER, "step": INTEGER, "n": INTEGER},
    primary_key=("tenant_id", "funnel", "entry_day", "step"),
    tenant_column="tenant_id",
)
RET_SUBJECTS = Table(
    "an_ret_subjects",
    {
        "tenant_id": TEXT,
        "retention": TEXT,
        "subject": TEXT,
        "cohort": INTEGER,
        "first_pos": INTEGER,
    },
    primary_key=("tenant_id", "retention", "subject"),
    tenant_column="tenant_id",
)
RET_ACTIVE = Table(
    "an_ret_active",
    {"tenant_id": TEXT, "retention": TEXT, "subject": TEXT, "period": INTEGER, "pos": INTEGER},
    primary_key=("tenant_id", "retention", "subject", "period"),
    tenant_column="tenant_id",
)
RET_COUNTS = Table(
    "an_ret_counts",
    {"tenant_id": TEXT, "retention": TEXT, "cohort": INTEGER, "age": INTEGER, "n": INTEGER},
    primary_key=("tenant_id", "retention", "cohort", "age"),
    tenant_column="tenant_id",
)
RET_SIZES = Table(
    "an_ret_sizes",
    {"tenant_id": TEXT, "retention": TEXT, "cohort": INTEGER, "n": INTEGER},
    primary_key=("tenant_id", "retention", "cohort"),
    tenant_column="tenant_id",
)
COHORT_MEMBERS = Table(
    "an_cohort_members",
    {"tenant_id": TEXT, "cohort": TEXT, "subject": TEXT, "n": INTEGER, "last_pos": INTEGER},
    primary_key=("tenant_id", "cohort", "subject"),
    tenant_column="tenant_id",
)
COHORT_SIZES = Table(
    "an_cohort_sizes",
    {"tenant_id": TEXT, "cohort": TEXT, "n": INTEGER},
    primary_key=("tenant_id", "cohort"),
    tenant_column="tenant_id",
)
TABLES = (
    ACTIONS,
    FUNNEL_SUBJECTS,
    FUNNEL_COUNTS,
    RET_SUBJECTS,
    RET_ACTIVE,
    RET_COUNTS,
    RET_SIZES,
    COHORT_MEMBERS,
    COHORT_SIZES,
)


def _add(table: Table) -> str:
    """The ``ON CONFLICT`` tail that adds ``excluded.n`` to the row's ``n``."""
    keys = ", ".join(f'"{c}"' for c in table.primary_key)
    return f'ON CONFLICT ({keys}) DO UPDATE SET "n" = {table.ref}."n" + excluded."n"'


class _Plan:
    """For each action name, the declarations it touches (precomputed once)."""

    def __init__(self, declarations: Declarations) -> None:
        self.funnel_steps: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        for funnel in declarations.funnels:
            for index, step in enumerate(funnel.steps):
                self.funnel_steps[step].append((funnel.id, index, funnel.window_ms))
        self.retention = declarations.retention
        self.cohorts: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for cohort in declarations.cohorts:
            self.cohorts[cohort.event].append((cohort.id, cohort.min_count))


def _funnel(action: Action, funnel: str, index: int, window_ms: int) -> list[Statement]:
    subjects, counts = FUNNEL_SUBJECTS.ref, FUNNEL_COUNTS.ref
    key = (action.tenant_id, funnel, action.subject)
    pos, ts = action.position, action.ts_ms
    if index == 0:
        # Entry: only the subject's first step-0 event (DO NOTHING keeps the first).
        move = Statement(
            f"INSERT INTO {subjects} (tenant_id, funnel, subject, reached, t0, last_pos, entry_day)"
            f" VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (tenant_id, funnel, subject) DO NOTHING",
            [*key, ts, pos, ts // DAY_MS],
        )
    else:
        # ``last_pos < ?``: one event moves a subject one step at most, even when the same
        # action name is several steps of the funnel.
        move = Statement(
            f"UPDATE {subjects} SET reached = ?, last_pos = ? WHERE tenant_id = ? AND funnel = ? "
            f"AND subject = ? AND reached = ? AND last_pos < ? AND ? >= t0 AND ? <= t0 + ?",
            [index + 1, pos, *key, index, pos, ts, ts, window_ms],
        )
    count = Statement(
        f"INSERT INTO {counts} (tenant_id, funnel, entry_day, step, n) "
        f"SELECT tenant_id, funnel, entry_day, reached, 1 FROM {subjects} "
        f"WHERE tenant_id = ? AND funnel = ? AND subject = ? AND reached = ? AND last_pos = ? "
        + _add(FUNNEL_COUNTS),
        [*key, index + 1, pos],
    )
    return [move, count]


def _retention(
    action: Action, retention: str, period_kind: str, start: bool, returning: bool
) -> list[Statement]:
    subjects, active = RET_SUBJECTS.ref, RET_ACTIVE.ref
    key = (action.tenant_id, retention, action.subject)
    pos = action.position
    period = period_of(action.ts_ms, period_kind)
    out: list[Statement] = []
    if start:
        out.append(
            Statement(
                f"INSERT INTO {subjects} (tenant_id, retention, subject, cohort, first_pos) "
                f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, retention, subject) DO NOTHING",
                [*key, period, pos],
            )
        )
        out.append(
            Statement(
                f"INSERT INTO {RET_SIZES.ref} (tenant_id, retention, cohort, n) "
                f"SELECT tenant_id, retention, cohort, 1 FROM {subjects} "
                f"WHERE tenant_id = ? AND retention = ? AND subject = ? AND first_pos = ? "
                + _add(RET_SIZES),
                [*key, pos],
            )
        )
    if returning:
        out.append(
            Statement(
                f"INSERT INTO {active} (tenant_id, retention, subject, period, pos) "
                f"SELECT tenant_id, retention, subject, ?, ? FROM {subjects} "
                f"WHERE tenant_id = ? AND retention = ? AND subject = ? AND cohort <= ? "
                f"ON CONFLICT (tenant_id, retention, subject, period) DO NOTHING",
                [period, pos, *key, period],
            )
        )
        out.append(
            Statement(
                f"INSERT INTO {RET_COUNTS.ref} (tenant_id, retention, cohort, age, n) "
                f"SELECT s.tenant_id, s.retention, s.cohort, a.period - s.cohort, 1 "
                f"FROM {active} a JOIN {subjects} s ON s.tenant_id = a.tenant_id "
                f"AND s.retention = a.retention AND s.subject = a.subject "
                f"WHERE a.tenant_id = ? AND a.retention = ? AND a.subject = ? AND a.period = ? "
                f"AND a.pos = ? " + _add(RET_COUNTS),
                [*key, period, pos],
            )
        )
    return out


def _cohort(action: Action, cohort: str, min_count: int) -> list[Statement]:
    members = COHORT_MEMBERS.ref
    key = (action.tenant_id, cohort, action.subject)
    pos = action.position
    return [
        Statement(
            f"INSERT INTO {members} (tenant_id, cohort, subject, n, last_pos) "
            f"VALUES (?, ?, ?, 1, ?) ON CONFLICT (tenant_id, cohort, subject) "
            f"DO UPDATE SET n = {members}.n + 1, last_pos = excluded.last_pos",
            [*key, pos],
        ),
        # Counted once, by the event that brings the subject to exactly min_count.
        Statement(
            f"INSERT INTO {COHORT_SIZES.ref} (tenant_id, cohort, n) "
            f"SELECT tenant_id, cohort, 1 FROM {members} WHERE tenant_id = ? AND cohort = ? "
            f"AND subject = ? AND n = ? AND last_pos = ? " + _add(COHORT_SIZES),
            [*key, min_count, pos],
        ),
    ]


def statements_for(plan: _Plan, action: Action) -> list[Statement]:
    out = [
        ACTIONS.upsert(
            {
                "tenant_id": action.tenant_id,
                "name": action.name,
                "day": action.ts_ms // DAY_MS,
                "n": 1,
            },
            merge={"n": Merge.ADD},
        )
    ]
    # Steps in declaration order: a subject's entry (step 0) is written before a later
    # step of the same event is tried, which the ``last_pos < ?`` guard then refuses.
    for funnel, index, window_ms in plan.funnel_steps.get(action.name, ()):
        out += _funnel(action, funnel, index, window_ms)
    for retention in plan.retention:
        start = not retention.start_events or action.name in retention.start_events
        returning = not retention.return_events or action.name in retention.return_events
        if start or returning:
            out += _retention(action, retention.id, retention.period, start, returning)
    for cohort, min_count in plan.cohorts.get(action.name, ()):
        out += _cohort(action, cohort, min_count)
    return out


def analytics_projection(
    declarations: Declarations, sources: Sequence[EventSource] = ()
) -> Projection:
    """The projection for these declarations, reading captured events and ``sources``."""
    projection = Projection(NAME, tables=TABLES, version=declarations.digest())
    plan = _Plan(declarations)

    @projection.on(CAPTURED)
    def _captured(event: RecordedEvent) -> list[Statement]:
        action = captured_action(event)
        return [] if action is None else statements_for(plan, action)

    by_type: dict[str, list[EventSource]] = defaultdict(list)
    for source in sources:
        by_type[source.event_type].append(source)
    for type_name, group in by_type.items():

        def _source(event: RecordedEvent, group: list[EventSource] = group) -> list[Statement]:
            out: list[Statement] = []
            for source in group:
                for action in source_actions(source, event):
                    out += statements_for(plan, action)
            return out

        projection.on(type_name)(_source)
    return projection
