"""Typed aggregate ids."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel, ValidationError

from headwater.domain import AggregateId
from headwater.errors import InvalidStreamId
from tests.domain.model import FormId, UserId


class Holder(BaseModel):
    user_id: UserId


def test_an_id_names_its_stream_and_compares_only_with_its_own_kind() -> None:
    value = str(uuid.uuid4())
    assert UserId(value).stream_id == f"user-{value}"
    assert UserId(value) == UserId(value)
    assert UserId(value) != FormId(value)
    assert UserId(value) != value
    assert len({UserId(value), UserId(value), FormId(value)}) == 2


def test_an_id_comes_back_from_its_stream_id() -> None:
    user_id = UserId.new()
    assert UserId.from_stream_id(user_id.stream_id) == user_id
    with pytest.raises(InvalidStreamId):
        FormId.from_stream_id(user_id.stream_id)


def test_ids_validate_from_and_serialize_to_strings_in_models() -> None:
    holder = Holder.model_validate_json('{"user_id": "u-1"}')
    assert holder.user_id == UserId("u-1")
    assert holder.model_dump(mode="json") == {"user_id": "u-1"}
    assert Holder(user_id=UserId("u-1")).user_id == UserId("u-1")
    assert Holder.model_json_schema()["properties"]["user_id"]["type"] == "string"


@pytest.mark.parametrize("bad", ["", " padded ", "x" * 201, "tab\there"])
def test_a_malformed_id_is_refused(bad: str) -> None:
    with pytest.raises(InvalidStreamId):
        UserId(bad)
    with pytest.raises(ValidationError):
        Holder.model_validate({"user_id": bad})


def test_an_id_class_needs_a_stream_prefix() -> None:
    with pytest.raises(TypeError, match="prefix"):

        class Nameless(AggregateId):
            pass

    with pytest.raises(TypeError):

        class Dashed(AggregateId, prefix="a-b"):
            pass
