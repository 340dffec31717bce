"""Typed aggregate ids: a ``GuestId`` is never mistaken for a ``FormId`` or a bare string.

Each id class names the prefix of its aggregate's streams::

    class GuestId(AggregateId, prefix="guest"): ...

    guest = GuestId.new()          # GuestId('3f2a...')
    guest.stream_id                # 'guest-3f2a...'

Ids compare equal only to ids of the same class. In pydantic models they validate
from strings and serialize to strings, so commands and events carry them typed.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Final, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from headwater.errors import InvalidStreamId

#: Leaves room for the prefix within the store's 255-character stream ids.
MAX_ID_LENGTH: Final = 200


class AggregateId:
    """The identity of one aggregate; subclass once per aggregate type with ``prefix=``."""

    __slots__ = ("_value",)

    prefix: ClassVar[str]

    def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix is not None:
            if not prefix or not prefix.isprintable() or "-" in prefix or len(prefix) > 40:
                raise TypeError(f"{cls.__name__}: prefix must be a short word without '-'")
            cls.prefix = prefix
        elif not hasattr(cls, "prefix"):
            raise TypeError(
                f"{cls.__name__} needs a stream prefix: class X(AggregateId, prefix=...)"
            )

    def __init__(self, value: str | uuid.UUID) -> None:
        text = str(value) if isinstance(value, uuid.UUID) else value
        if not isinstance(text, str) or not text or text != text.strip():
            raise InvalidStreamId(f"{type(self).__name__} must be a non-empty string: {value!r}")
        if len(text) > MAX_ID_LENGTH or not text.isprintable():
            raise InvalidStreamId(f"{type(self).__name__} is too long or not printable")
        self._value = text

    @classmethod
    def new(cls) -> Self:
        return cls(uuid.uuid4())

    @classmethod
    def from_stream_id(cls, stream_id: str) -> Self:
        head, sep, value = stream_id.partition("-")
        if not sep or head != cls.prefix:
            raise InvalidStreamId(f"{stream_id!r} is not a {cls.__name__} stream")
        return cls(value)

    @property
    def value(self) -> str:
        return self._value

    @property
    def stream_id(self) -> str:
        return f"{self.prefix}-{self._value}"

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._value!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value

    def __hash__(self) -> int:
        return hash((type(self), self._value))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def parse(value: str) -> AggregateId:
            try:
                return cls(value)
            except InvalidStreamId as exc:  # pydantic reports ValueErrors as a 422
                raise ValueError(exc.message) from exc

        from_str = core_schema.no_info_after_validator_function(parse, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_str,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_str]),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="json-unless-none"
            ),
        )
