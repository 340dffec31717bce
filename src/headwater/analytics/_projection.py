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

from headwater.analytics._actions import (
    CAPTURED,
    Action,
    EventSource,
    captured_action,
    source_actions,
)
from headwater.analytics._definitions import DAY_MS, Declarations, period_of
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
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


def _add(table: Table, ref: str) -> str:
    """The ``ON CONFLICT`` tail that adds ``excluded.n`` to the row's ``n``."""
    keys = ", ".join(f'"{c}"' for c in table.primary_key)
    return f'ON CONFLICT ({keys}) DO UPDATE SET "n" = {ref}."n" + excluded."n"'


class _Sql:
    """Every statement's text for one set of physical tables (live, or a rebuild's),
    built once: handlers run per event, and building SQL per event cost more than
    running it."""

    def __init__(self, refs: tuple[str, ...]) -> None:
        names = dict(zip((t.name for t in TABLES), refs, strict=True))
        fs, fc = names["an_funnel_subjects"], names["an_funnel_counts"]
        rs, ra = names["an_ret_subjects"], names["an_ret_active"]
        rc, rz = names["an_ret_counts"], names["an_ret_sizes"]
        cm, cz = names["an_cohort_members"], names["an_cohort_sizes"]
        self._funnel_subjects = fs
        # Entry: only the subject's first step-0 event (DO NOTHING keeps the first).
        self.funnel_entry = (
            f"INSERT INTO {fs} (tenant_id, funnel, subject, reached, t0, last_pos, entry_day) "
            "VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (tenant_id, funnel, subject) DO NOTHING"
        )
        self.funnel_count = (
            f"INSERT INTO {fc} (tenant_id, funnel, entry_day, step, n) "
            f"SELECT tenant_id, funnel, entry_day, reached, 1 FROM {fs} "
            "WHERE tenant_id = ? AND funnel = ? AND subject = ? AND last_pos = ? "
            + _add(FUNNEL_COUNTS, fc)
        )
        self._advance: dict[int, str] = {}
        self.ret_entry = (
            f"INSERT INTO {rs} (tenant_id, retention, subject, cohort, first_pos) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, retention, subject) DO NOTHING"
        )
        self.ret_size = (
            f"INSERT INTO {rz} (tenant_id, retention, cohort, n) "
            f"SELECT tenant_id, retention, cohort, 1 FROM {rs} "
            "WHERE tenant_id = ? AND retention = ? AND subject = ? AND first_pos = ? "
            + _add(RET_SIZES, rz)
        )
        self.ret_active = (
            f"INSERT INTO {ra} (tenant_id, retention, subject, period, pos) "
            f"SELECT tenant_id, retention, subject, ?, ? FROM {rs} "
            "WHERE tenant_id = ? AND retention = ? AND subject = ? AND cohort <= ? "
            "ON CONFLICT (tenant_id, retention, subject, period) DO NOTHING"
        )
        self.ret_count = (
            f"INSERT INTO {rc} (tenant_id, retention, cohort, age, n) "
            "SELECT s.tenant_id, s.retention, s.cohort, a.period - s.cohort, 1 "
            f"FROM {ra} a JOIN {rs} s ON s.tenant_id = a.tenant_id "
            "AND s.retention = a.retention AND s.subject = a.subject "
            "WHERE a.tenant_id = ? AND a.retention = ? AND a.subject = ? AND a.period = ? "
            "AND a.pos = ? " + _add(RET_COUNTS, rc)
        )
        self.cohort_member = (
            f"INSERT INTO {cm} (tenant_id, cohort, subject, n, last_pos) "
            "VALUES (?, ?, ?, 1, ?) ON CONFLICT (tenant_id, cohort, subject) "
            f"DO UPDATE SET n = {cm}.n + 1, last_pos = excluded.last_pos"
        )
        # Counted once, by the event that brings the subject to exactly min_count.
        self.cohort_size = (
            f"INSERT INTO {cz} (tenant_id, cohort, n) "
            f"SELECT tenant_id, cohort, 1 FROM {cm} WHERE tenant_id = ? AND cohort = ? "
            "AND subject = ? AND n = ? AND last_pos = ? " + _add(COHORT_SIZES, cz)
        )

    def funnel_advance(self, matches: int) -> str:
        """``reached = i`` means the subject waits for step i (0-based); ``last_pos < ?``
        stops the event that just entered the subject from also moving it on."""
        sql = self._advance.get(matches)
        if sql is None:
            marks = ", ".join("?" * matches)
            sql = self._advance[matches] = (
                f"UPDATE {self._funnel_subjects} SET reached = reached + 1, last_pos = ? "
                "WHERE tenant_id = ? AND funnel = ? AND subject = ? "
                f"AND reached IN ({marks}) AND last_pos < ? AND ? >= t0 AND ? <= t0 + ?"
            )
        return sql


_SQL: dict[tuple[str, ...], _Sql] = {}


def _sql() -> _Sql:
    refs = tuple(t.ref for t in TABLES)
    found = _SQL.get(refs)
    if found is None:
        found = _SQL[refs] = _Sql(refs)
    return found


class _Plan:
    """For each action name, the declarations it touches (precomputed once)."""

    def __init__(self, declarations: Declarations) -> None:
        # Action name -> (funnel, the step indices it matches, window), per funnel.
        self.funnel_steps: dict[str, list[tuple[str, tuple[int, ...], int]]] = defaultdict(list)
        for funnel in declarations.funnels:
            matches: dict[str, list[int]] = defaultdict(list)
            for index, step in enumerate(funnel.steps):
                matches[step].append(index)
            for step, indices in matches.items():
                self.funnel_steps[step].append((funnel.id, tuple(indices), funnel.window_ms))
        self.retention = declarations.retention
        self.cohorts: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for cohort in declarations.cohorts:
            self.cohorts[cohort.event].append((cohort.id, cohort.min_count))


def _funnel(
    sql: _Sql, action: Action, funnel: str, indices: tuple[int, ...], window_ms: int
) -> list[Statement]:
    """At most three statements, however many steps the funnel has or this action
    matches: a subject waits for exactly one step, so one conditional UPDATE over the
    matching indices moves it, and one INSERT counts what the event did."""
    key = (action.tenant_id, funnel, action.subject)
    pos, ts = action.position, action.ts_ms
    out: list[Statement] = []
    if indices[0] == 0:
        out.append(Statement(sql.funnel_entry, [*key, ts, pos, ts // DAY_MS]))
    later = indices[1:] if indices[0] == 0 else indices
    if later:
        out.append(
            Statement(sql.funnel_advance(len(later)), [pos, *key, *later, pos, ts, ts, window_ms])
        )
    out.append(Statement(sql.funnel_count, [*key, pos]))
    return out


def _retention(
    sql: _Sql, action: Action, retention: str, period_kind: str, start: bool, returning: bool
) -> list[Statement]:
    key = (action.tenant_id, retention, action.subject)
    pos = action.position
    period = period_of(action.ts_ms, period_kind)
    out: list[Statement] = []
    if start:
        out.append(Statement(sql.ret_entry, [*key, period, pos]))
        out.append(Statement(sql.ret_size, [*key, pos]))
    if returning:
        out.append(Statement(sql.ret_active, [period, pos, *key, period]))
        out.append(Statement(sql.ret_count, [*key, period, pos]))
    return out


def _cohort(sql: _Sql, action: Action, cohort: str, min_count: int) -> list[Statement]:
    key = (action.tenant_id, cohort, action.subject)
    pos = action.position
    return [
        Statement(sql.cohort_member, [*key, pos]),
        Statement(sql.cohort_size, [*key, min_count, pos]),
    ]


def statements_for(plan: _Plan, action: Action) -> list[Statement]:
    sql = _sql()
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
    for funnel, indices, window_ms in plan.funnel_steps.get(action.name, ()):
        out += _funnel(sql, action, funnel, indices, window_ms)
    for retention in plan.retention:
        start = not retention.start_events or action.name in retention.start_events
        returning = not retention.return_events or action.name in retention.return_events
        if start or returning:
            out += _retention(sql, action, retention.id, retention.period, start, returning)
    for cohort, min_count in plan.cohorts.get(action.name, ()):
        out += _cohort(sql, action, cohort, min_count)
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
