"""Conflict resolution: the pure three-way merge, and each declared strategy through the bus."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.domain import (
    ESCALATE,
    LAST_WRITE_WINS,
    MERGE,
    REFUSE,
    AggregateVersionNotFound,
    ChangeEscalated,
    Command,
    CommandBus,
    ConflictPolicy,
    MergeConflict,
    Repository,
    merge_states,
)
from headwater.domain._conflicts import MISSING, same
from headwater.errors import ConcurrencyError
from headwater.eventstore import EventStore
from tests.domain.model import (
    EditForm,
    Form,
    FormId,
    RegisterUser,
    UpdateUser,
    User,
    UserId,
    UserUpdated,
)

USERS = ConflictPolicy(critical={"email", "role", "plan"}, default=LAST_WRITE_WINS)
FORMS = ConflictPolicy(merge={"fields"})


# --- the merge, pure ----------------------------------------------------------------------


def test_fields_changed_on_one_side_only_merge_from_both_sides() -> None:
    base = {"city": "Paris", "bio": "", "name": "Ada"}
    report = merge_states(base, {**base, "bio": "hi"}, {**base, "city": "Lyon"}, FORMS)
    assert report.merged == {"city": "Lyon", "bio": "hi", "name": "Ada"}
    assert report.applied == (("bio",),)
    assert report.clean
    assert not report.overwritten


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    base = {"title": "a"}
    report = merge_states(base, {"title": "b"}, {"title": "b"}, FORMS)
    assert report.merged == {"title": "b"}
    assert report.clean
    assert report.applied == ()


@pytest.mark.parametrize(
    ("policy", "merged_city", "kind"),
    [
        (USERS, "Nice", "overwritten"),
        (ConflictPolicy(critical={"city"}), "Lyon", "escalated"),
        (ConflictPolicy(), "Lyon", "refused"),
        (ConflictPolicy(refuse={"city"}, default=LAST_WRITE_WINS), "Lyon", "refused"),
    ],
)
def test_a_field_changed_on_both_sides_follows_its_declared_strategy(
    policy: ConflictPolicy, merged_city: str, kind: str
) -> None:
    report = merge_states({"city": "Paris"}, {"city": "Nice"}, {"city": "Lyon"}, policy)
    assert report.merged == {"city": merged_city}
    (conflict,) = getattr(report, kind)
    assert (conflict.dotted, conflict.base, conflict.mine, conflict.theirs) == (
        "city",
        "Paris",
        "Nice",
        "Lyon",
    )


def test_an_accepted_escalation_lets_mine_win() -> None:
    report = merge_states(
        {"email": "a@x"}, {"email": "mine@x"}, {"email": "theirs@x"}, USERS, accept_escalated=True
    )
    assert report.merged == {"email": "mine@x"}
    assert report.clean
    assert report.overwritten[0].strategy is ESCALATE


def test_an_object_declared_merge_merges_key_by_key() -> None:
    base = {"fields": {"q1": {"label": "Name"}, "q2": {"label": "Age"}}}
    mine = {"fields": {"q1": {"label": "Full name"}, "q2": {"label": "Age"}}}
    theirs = {"fields": {"q1": {"label": "Name"}, "q3": {"label": "City"}}}
    report = merge_states(base, mine, theirs, FORMS)
    assert report.merged == {"fields": {"q1": {"label": "Full name"}, "q3": {"label": "City"}}}
    assert report.applied == (("fields", "q1"),)


def test_a_wildcard_declares_merging_one_level_deeper() -> None:
    base = {"fields": {"q1": {"label": "Name", "required": False}}}
    mine = {"fields": {"q1": {"label": "Full name", "required": False}}}
    theirs = {"fields": {"q1": {"label": "Name", "required": True}}}
    assert [c.dotted for c in merge_states(base, mine, theirs, FORMS).refused] == ["fields.q1"]
    deep = ConflictPolicy(merge={"fields", "fields.*"})
    report = merge_states(base, mine, theirs, deep)
    assert report.merged == {"fields": {"q1": {"label": "Full name", "required": True}}}
    assert report.applied == (("fields", "q1", "label"),)


def test_inside_a_merged_object_a_true_conflict_uses_its_declaration_or_the_default() -> None:
    base = {"fields": {"q1": "Name", "q2": "Age"}}
    mine = {"fields": {"q1": "A", "q2": "X"}}
    theirs = {"fields": {"q1": "B", "q2": "Y"}}
    report = merge_states(base, mine, theirs, FORMS)
    assert [c.dotted for c in report.refused] == ["fields.q1", "fields.q2"]
    policy = ConflictPolicy(merge={"fields"}, critical={"fields.q2"}, default=LAST_WRITE_WINS)
    report = merge_states(base, mine, theirs, policy)
    assert report.merged == {"fields": {"q1": "A", "q2": "Y"}}
    assert [c.dotted for c in report.escalated] == ["fields.q2"]


def test_a_removal_against_an_edit_is_a_conflict_and_a_lone_removal_merges() -> None:
    base = {"fields": {"q1": {"label": "Name"}, "q2": {"label": "Age"}}}
    mine = {"fields": {"q2": {"label": "Age"}}}  # removed q1
    theirs = {"fields": {"q1": {"label": "Your name"}, "q2": {"label": "Age"}}}
    report = merge_states(base, mine, theirs, FORMS)
    (conflict,) = report.refused
    assert conflict.to_dict() == {
        "path": "fields.q1",
        "strategy": "refuse",
        "base": {"label": "Name"},
        "theirs": {"label": "Your name"},
    }
    report = merge_states(base, mine, base, FORMS)
    assert report.merged == mine


def test_keys_added_on_both_sides_of_a_merged_object_are_kept() -> None:
    report = merge_states(
        {"fields": {}}, {"fields": {"q1": {"a": 1}}}, {"fields": {"q2": {"b": 2}}}, FORMS
    )
    assert report.merged == {"fields": {"q2": {"b": 2}, "q1": {"a": 1}}}


def test_json_sameness_tells_one_from_true_and_from_one_point_zero() -> None:
    assert same({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not same(1, True)
    assert not same(1, 1.0)
    assert not same([1], [1, 2])


def test_a_policy_is_declared_unambiguously() -> None:
    with pytest.raises(ValueError, match="twice"):
        ConflictPolicy(critical={"email"}, last_write_wins={"email"})
    with pytest.raises(ValueError, match="default"):
        ConflictPolicy(default=MERGE)
    with pytest.raises(TypeError):
        ConflictPolicy(critical="email")
    assert USERS.strategy_for(("role",)) is ESCALATE
    assert USERS.strategy_for(("bio",)) is LAST_WRITE_WINS
    assert FORMS.strategy_for(("title",)) is REFUSE


# --- each strategy through the bus, on every backend ----------------------------------------


async def _user(bus: CommandBus, **fields: Any) -> UserId:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="ada@x.io", name="Ada"))
    if fields:
        await bus.send(UpdateUser(user_id=user_id, **fields))
    return user_id


@pytest.mark.anyio
async def test_writes_to_different_fields_on_one_base_both_land(
    bus: CommandBus, repo: Repository
) -> None:
    user_id = await _user(bus)
    await bus.send(UpdateUser(user_id=user_id, based_on_version=1, city="Lyon"))
    result = await bus.send(UpdateUser(user_id=user_id, based_on_version=1, bio="Hi"))

    user = await repo.load(User, user_id)
    assert (user.city, user.bio, user.version) == ("Lyon", "Hi", 3)
    assert result.merge is not None
    assert result.merge.applied == (("bio",),)


@pytest.mark.anyio
async def test_a_non_critical_field_changed_on_both_sides_goes_to_the_last_write(
    bus: CommandBus, repo: Repository
) -> None:
    user_id = await _user(bus, city="Paris")
    await bus.send(UpdateUser(user_id=user_id, based_on_version=2, city="Lyon"))
    result = await bus.send(UpdateUser(user_id=user_id, based_on_version=2, city="Nice"))

    assert (await repo.load(User, user_id)).city == "Nice"
    assert result.merge is not None
    assert [(c.dotted, c.theirs) for c in result.merge.overwritten] == [("city", "Lyon")]


@pytest.mark.anyio
async def test_a_critical_field_changed_on_one_side_only_merges(
    bus: CommandBus, repo: Repository
) -> None:
    user_id = await _user(bus)
    await bus.send(UpdateUser(user_id=user_id, based_on_version=1, city="Lyon"))
    await bus.send(UpdateUser(user_id=user_id, based_on_version=1, email="new@x.io"))
    user = await repo.load(User, user_id)
    assert (user.email, user.city) == ("new@x.io", "Lyon")


@pytest.mark.anyio
async def test_a_full_form_submit_on_an_old_version_keeps_the_concurrent_change(
    bus: CommandBus, repo: Repository
) -> None:
    user_id = await _user(bus, city="Paris", bio="")
    await bus.send(UpdateUser(user_id=user_id, based_on_version=2, city="Lyon"))
    # The client sends every field it shows, the city it saw included; it changed the bio.
    await bus.send(
        UpdateUser(user_id=user_id, based_on_version=2, name="Ada", city="Paris", bio="Hi")
    )
    user = await repo.load(User, user_id)
    assert (user.city, user.bio) == ("Lyon", "Hi")


@pytest.mark.anyio
async def test_form_fields_merge_field_by_field(bus: CommandBus, repo: Repository) -> None:
    form_id = FormId.new()
    fields = {"q1": {"label": "Name"}, "q2": {"label": "Age"}, "q3": {"label": "City"}}
    await bus.send(EditForm(form_id=form_id, title="Signup", set_fields=fields))
    base = (await repo.load(Form, form_id)).version

    await bus.send(
        EditForm(
            form_id=form_id,
            based_on_version=base,
            set_fields={"q1": {"label": "Name", "required": True}, "q4": {"label": "Zip"}},
        )
    )
    result = await bus.send(
        EditForm(
            form_id=form_id,
            based_on_version=base,
            title="Join",
            set_fields={"q2": {"label": "Your age"}},
            remove_fields=["q3"],
        )
    )

    form = await repo.load(Form, form_id)
    assert form.title == "Join"
    assert form.fields == {
        "q1": {"label": "Name", "required": True},
        "q2": {"label": "Your age"},
        "q4": {"label": "Zip"},
    }
    assert result.merge is not None
    assert result.merge.applied == (("title",), ("fields", "q2"), ("fields", "q3"))


@pytest.mark.anyio
async def test_one_form_field_edited_on_both_sides_is_refused(
    bus: CommandBus, repo: Repository
) -> None:
    form_id = FormId.new()
    await bus.send(EditForm(form_id=form_id, set_fields={"q1": {"label": "Name"}}))
    await bus.send(
        EditForm(form_id=form_id, based_on_version=1, set_fields={"q1": {"label": "Full name"}})
    )
    with pytest.raises(MergeConflict) as excinfo:
        await bus.send(
            EditForm(form_id=form_id, based_on_version=1, set_fields={"q1": {"label": "Nom"}})
        )
    assert excinfo.value.fields == ("fields.q1",)
    assert (await repo.load(Form, form_id)).fields == {"q1": {"label": "Full name"}}


@pytest.mark.anyio
async def test_a_conflict_nothing_may_settle_is_refused_with_base_mine_and_theirs(
    bus: CommandBus, store: EventStore
) -> None:
    form_id = FormId.new()
    await bus.send(EditForm(form_id=form_id, title="Signup"))
    await bus.send(EditForm(form_id=form_id, based_on_version=1, title="Register"))

    with pytest.raises(MergeConflict) as excinfo:
        await bus.send(EditForm(form_id=form_id, based_on_version=1, title="Join us"))

    conflict = excinfo.value
    assert isinstance(conflict, ConcurrencyError)
    assert conflict.fields == ("title",)
    assert (conflict.base["title"], conflict.mine["title"], conflict.theirs["title"]) == (
        "Signup",
        "Join us",
        "Register",
    )
    assert (conflict.based_on_version, conflict.current_version) == (1, 2)
    assert conflict.to_dict()["code"] == "merge_conflict"
    assert await store.stream_version(form_id.stream_id) == 2


class ReplaceProfile(Command[None], name="test.ReplaceProfile"):
    """Restates both fields, whatever changed: its events cannot express a merge."""

    user_id: UserId
    based_on_version: int | None = None
    city: str
    bio: str


def replace_profile(command: ReplaceProfile, user: User) -> None:
    user.record(UserUpdated(changes={"city": command.city, "bio": command.bio}))


@pytest.mark.anyio
async def test_a_merge_the_commands_events_cannot_express_is_refused_not_lost(
    bus: CommandBus, repo: Repository
) -> None:
    bus.register(ReplaceProfile, User, replace_profile)
    user_id = await _user(bus, city="Paris")
    await bus.send(UpdateUser(user_id=user_id, based_on_version=2, city="Lyon"))

    with pytest.raises(MergeConflict, match="cannot express"):
        await bus.send(ReplaceProfile(user_id=user_id, based_on_version=2, city="Paris", bio="Hi"))
    assert (await repo.load(User, user_id)).city == "Lyon"


@pytest.mark.anyio
async def test_a_write_based_on_a_version_that_does_not_exist_is_refused(
    bus: CommandBus,
) -> None:
    user_id = await _user(bus)
    with pytest.raises(AggregateVersionNotFound):
        await bus.send(UpdateUser(user_id=user_id, based_on_version=7, city="Lyon"))


# --- properties ---------------------------------------------------------------------------

SCALARS = ("name", "city", "email", "plan")
KEYS = ("q1", "q2", "q3")
DELETE = object()
values = st.sampled_from(["a", "b", "c"])
paths = st.sampled_from([(f,) for f in SCALARS] + [("fields", k) for k in KEYS])
edits = st.lists(
    st.tuples(st.sampled_from(["mine", "theirs"]), paths, st.one_of(values, st.just(DELETE))),
    max_size=12,
)
policies = st.builds(
    lambda strategies, default: ConflictPolicy(
        critical={f for f, s in zip(SCALARS, strategies, strict=True) if s is ESCALATE},
        last_write_wins={
            f for f, s in zip(SCALARS, strategies, strict=True) if s is LAST_WRITE_WINS
        },
        refuse={f for f, s in zip(SCALARS, strategies, strict=True) if s is REFUSE},
        merge={"fields"},
        default=default,
    ),
    st.lists(
        st.sampled_from([ESCALATE, LAST_WRITE_WINS, REFUSE, None]),
        min_size=len(SCALARS),
        max_size=len(SCALARS),
    ),
    st.sampled_from([ESCALATE, LAST_WRITE_WINS, REFUSE]),
)


def _get(state: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = state
    for key in path:
        if key not in node:
            return DELETE
        node = node[key]
    return node


def _set(state: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    *parents, last = path
    node = state
    for key in parents:
        node = node[key]
    if value is DELETE:
        node.pop(last, None)
    elif path[0] == "fields" or last in node:
        node[last] = value


@given(base_values=st.lists(values, min_size=7, max_size=7), edits=edits, policy=policies)
def test_the_merge_never_loses_a_change_that_did_not_conflict(
    base_values: list[str],
    edits: list[tuple[str, tuple[str, ...], Any]],
    policy: ConflictPolicy,
) -> None:
    base: dict[str, Any] = dict(zip(SCALARS, base_values, strict=False))
    base["fields"] = dict(zip(KEYS, base_values[len(SCALARS) :], strict=False))
    sides = {"mine": copy.deepcopy(base), "theirs": copy.deepcopy(base)}
    for side, path, value in edits:  # two writers' edits, interleaved
        if value is DELETE and len(path) == 1:
            continue  # top-level fields are never removed
        _set(sides[side], path, value)
    mine, theirs = sides["mine"], sides["theirs"]

    report = merge_states(base, mine, theirs, policy)

    conflicts = {c.path: c for c in (*report.overwritten, *report.escalated, *report.refused)}
    for path in [(f,) for f in SCALARS] + [("fields", k) for k in KEYS]:
        b, m, t, merged = (_get(s, path) for s in (base, mine, theirs, report.merged))
        if m == b:
            assert merged == t, path  # theirs kept
            assert path not in conflicts
        elif t in (b, m):
            assert merged == m, path  # mine's change, unopposed, is never lost
            assert path not in conflicts
        else:  # a true conflict: reported, and settled by the declared strategy
            conflict = conflicts[path]
            assert (conflict.mine, conflict.theirs) == (
                _missing_as(m),
                _missing_as(t),
            )
            won = conflict.strategy is LAST_WRITE_WINS
            assert merged == (m if won else t), path
            assert (conflict in report.overwritten) == won


def _missing_as(value: Any) -> Any:
    return MISSING if value is DELETE else value


CRITICAL = {"email", "role", "plan"}


@pytest.mark.anyio
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob"]),
            st.sampled_from(["name", "city", "bio", "email", "plan"]),
            values,
        ),
        min_size=1,
        max_size=6,
    )
)
async def test_concurrent_clients_never_lose_a_change_that_did_not_conflict(
    bus: CommandBus, repo: Repository, steps: list[tuple[str, str, str]]
) -> None:
    user_id = await _user(bus)
    seen = {"alice": 1, "bob": 1}  # the version each client last saw
    expected = (await repo.load(User, user_id)).state()
    for client, field, value in steps:
        base = (await repo.load(User, user_id, version=seen[client])).state()
        changed, contested = value != base[field], expected[field] not in (base[field], value)
        try:
            result = await bus.send(
                UpdateUser(user_id=user_id, based_on_version=seen[client], **{field: value})
            )
        except ChangeEscalated:
            assert field in CRITICAL
            assert changed
            assert contested
            continue
        assert not (field in CRITICAL and changed and contested)
        if changed:
            expected[field] = value  # merged, or won by last-write-wins
        seen[client] = result.version
    assert (await repo.load(User, user_id)).state() == expected
