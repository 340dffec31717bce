"""The values of the event store and the validation that runs before any backend."""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    HeadwaterError,
    InvalidEventData,
    InvalidExpectedVersion,
    InvalidInput,
    InvalidStreamId,
    StreamNotFound,
    TenantMismatch,
)
from headwater.eventstore import ANY, NO_STREAM, STREAM_EXISTS, AppendResult, NewEvent
from headwater.eventstore._records import (
    MAX_STREAM_ID_LENGTH,
    MAX_TYPE_LENGTH,
    StreamState,
    check_json_object,
    validate_expected_version,
    validate_new_events,
    validate_stream_id,
    validate_tenant_id,
)

# --- NewEvent and AppendResult -----------------------------------------------------------


def test_new_event_gets_a_fresh_uuid_by_default() -> None:
    first, second = NewEvent("Happened", {}), NewEvent("Happened", {})
    assert isinstance(first.id, uuid.UUID)
    assert first.id.version == 4
    assert first.id != second.id
    assert first.metadata is None


def test_new_event_keeps_a_given_id() -> None:
    event_id = uuid.UUID(int=7)
    assert NewEvent("Happened", {}, id=event_id).id == event_id


def test_new_event_is_immutable() -> None:
    event = NewEvent("Happened", {})
    with pytest.raises(AttributeError):
        event.type = "Other"  # type: ignore[misc]


def test_append_result_names_its_first_and_last_position() -> None:
    result = AppendResult("s", 5, (11, 12, 13))
    assert (result.first_position, result.last_position) == (11, 13)
    assert AppendResult("s", 1, (4,)).first_position == 4


def test_stream_states_print_as_their_names() -> None:
    assert [str(s) for s in (ANY, NO_STREAM, STREAM_EXISTS)] == [
        "ANY",
        "NO_STREAM",
        "STREAM_EXISTS",
    ]
    assert set(StreamState) == {ANY, NO_STREAM, STREAM_EXISTS}


# --- stream ids and tenants ------------------------------------------------------------


@pytest.mark.parametrize(
    "stream_id", ["s", "order-1", "ünïcode/ストリーム", "a%b_c\\d", "s" * MAX_STREAM_ID_LENGTH]
)
def test_valid_stream_id_is_returned_unchanged(stream_id: str) -> None:
    assert validate_stream_id(stream_id) == stream_id


@pytest.mark.parametrize(
    ("stream_id", "message"),
    [
        ("", "empty"),
        ("  \t", "empty"),
        ("s" * (MAX_STREAM_ID_LENGTH + 1), "longer than 255"),
        ("tab\there", "control"),
        ("del\x7f", "control"),
        ("nul\x00", "control"),
        (42, "not int"),
        (None, "not NoneType"),
        (b"s", "not bytes"),
    ],
)
def test_bad_stream_id_raises_invalid_stream_id(stream_id: Any, message: str) -> None:
    with pytest.raises(InvalidStreamId, match=message):
        validate_stream_id(stream_id)


def test_tenant_id_is_optional_and_otherwise_a_non_empty_string() -> None:
    assert validate_tenant_id(None) is None
    assert validate_tenant_id("acme") == "acme"
    for bad in ("", 3, "t" * 256):
        with pytest.raises(InvalidInput):
            validate_tenant_id(bad)


# --- expected versions -------------------------------------------------------------------


@pytest.mark.parametrize("expected", [ANY, NO_STREAM, STREAM_EXISTS, 0, 1, 2**62])
def test_valid_expected_version_is_returned_unchanged(expected: Any) -> None:
    assert validate_expected_version(expected) is expected


@pytest.mark.parametrize("expected", [-1, True, False, 1.0, "1", None, "ANY", [1]])
def test_bad_expected_version_raises_invalid_expected_version(expected: Any) -> None:
    with pytest.raises(InvalidExpectedVersion):
        validate_expected_version(expected)


# --- events ------------------------------------------------------------------------------


def test_one_new_event_becomes_a_list_of_one() -> None:
    event = NewEvent("Happened", {"a": 1})
    assert validate_new_events(event) == [event]


def test_events_from_any_iterable_are_listed_in_order() -> None:
    events = [NewEvent("A", {}), NewEvent("B", {})]
    assert validate_new_events(tuple(events)) == events
    assert validate_new_events(iter(events)) == events


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "at least one event"),
        ("events", "sequence of NewEvent"),
        (b"events", "sequence of NewEvent"),
        ({"type": "A"}, "sequence of NewEvent"),
        (None, "sequence of NewEvent"),
        ([{"type": "A", "data": {}}], "NewEvent instances, not dict"),
        ([NewEvent("", {})], "type must be a non-empty string"),
        ([NewEvent(" ", {})], "type must be a non-empty string"),
        ([NewEvent(3, {})], "type must be a non-empty string"),  # type: ignore[arg-type]
        ([NewEvent("t" * (MAX_TYPE_LENGTH + 1), {})], "longer than 255"),
        ([NewEvent("A", {}, id="not-a-uuid")], "must be a UUID"),  # type: ignore[arg-type]
        ([NewEvent("A", [])], "data must be a JSON object"),  # type: ignore[arg-type]
        ([NewEvent("A", {}, [])], "metadata must be a JSON object"),  # type: ignore[arg-type]
    ],
)
def test_bad_events_raise_invalid_event_data(events: Any, message: str) -> None:
    with pytest.raises(InvalidEventData, match=message):
        validate_new_events(events)


def test_an_id_twice_in_one_append_raises_invalid_event_data() -> None:
    event = NewEvent("A", {})
    with pytest.raises(InvalidEventData, match="appears twice"):
        validate_new_events([event, NewEvent("B", {}), event])


def test_type_of_maximum_length_is_accepted() -> None:
    event = NewEvent("t" * MAX_TYPE_LENGTH, {})
    assert validate_new_events([event]) == [event]


# --- JSON data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"s": "text", "i": 1, "f": 1.5, "t": True, "n": None},
        {"list": [1, [2, [3, {"deep": []}]]], "tuple": (1, 2)},
        {"max": 2**63 - 1, "min": -(2**63)},
        {"tiny": 5e-324, "huge": 1.7976931348623157e308},
        OrderedDict(a=1),
    ],
)
def test_json_objects_are_accepted(value: Any) -> None:
    check_json_object(value, "data")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a JSON object, not list"),
        ("{}", "must be a JSON object, not str"),
        (None, "must be a JSON object, not NoneType"),
        ({"x": math.nan}, r"data\.x: nan is not a JSON number"),
        ({"x": math.inf}, r"data\.x: inf"),
        ({"x": -math.inf}, r"data\.x: -inf"),
        ({"x": [0, {"y": math.nan}]}, r"data\.x\[1\]\.y"),
        ({"x": 2**63}, "64 bits"),
        ({"x": -(2**63) - 1}, "64 bits"),
        ({"x": 2**64}, "64 bits"),
        ({1: "x"}, "keys must be strings"),
        ({None: "x"}, "keys must be strings"),
        ({"x": {1, 2}}, "set is not JSON"),
        ({"x": frozenset()}, "frozenset is not JSON"),
        ({"x": datetime(2024, 1, 1, tzinfo=UTC)}, "datetime is not JSON"),
        ({"x": date(2024, 1, 1)}, "date is not JSON"),
        ({"x": b"bytes"}, "bytes is not JSON"),
        ({"x": Decimal("1.5")}, "Decimal is not JSON"),
        ({"x": uuid.UUID(int=1)}, "UUID is not JSON"),
        ({"x": object()}, "object is not JSON"),
    ],
)
def test_non_json_values_raise_invalid_event_data_naming_the_path(value: Any, message: str) -> None:
    with pytest.raises(InvalidEventData, match=message):
        check_json_object(value, "data")


def test_string_that_cannot_be_encoded_as_utf8_raises_invalid_event_data() -> None:
    # A lone surrogate is a valid Python str but has no UTF-8 (and so no JSON) form.
    with pytest.raises(InvalidEventData):
        check_json_object({"x": "\ud800"}, "data")
    with pytest.raises(InvalidEventData):
        check_json_object({"\udfff": 1}, "data")


# --- errors ------------------------------------------------------------------------------


def test_concurrency_error_carries_stream_expected_and_actual() -> None:
    error = ConcurrencyError("s", NO_STREAM, 3)
    assert (error.stream_id, error.expected, error.actual) == ("s", NO_STREAM, 3)
    assert error.to_dict() == {
        "code": "conflict",
        "message": "stream 's' is at version 3, expected NO_STREAM",
        "details": {"stream_id": "s", "expected": "NO_STREAM", "actual": 3},
    }


def test_store_errors_have_stable_codes_and_share_one_root() -> None:
    errors: list[HeadwaterError] = [
        InvalidStreamId("x"),
        InvalidEventData("x"),
        InvalidExpectedVersion("x"),
        ConcurrencyError("s", 1, 2),
        DuplicateEventId("id", "s", "why"),
        StreamNotFound("s"),
        TenantMismatch("s"),
    ]
    assert [e.code for e in errors] == [
        "invalid_stream_id",
        "invalid_event_data",
        "invalid_expected_version",
        "conflict",
        "duplicate_event_id",
        "not_found",
        "tenant_mismatch",
    ]
    assert all(isinstance(e, HeadwaterError) for e in errors)


def test_tenant_mismatch_does_not_name_the_owning_tenant() -> None:
    error = TenantMismatch("order-1")
    assert error.details == {"stream_id": "order-1"}
    assert "acme" not in str(error)
