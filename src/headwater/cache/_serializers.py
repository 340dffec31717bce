"""How values cross the network to L2: JSON (orjson) or msgpack, never pickle.

Pickle over the network would let anyone who can write to Redis run code on every
node; both formats here only ever build plain data. L1 keeps the decoded object, so
a value read from L1 has the same shape as one read from L2 (see ``Cache``).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgpack
import orjson


class Serializer(Protocol):
    name: str

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class JsonSerializer:
    name = "json"

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, data: bytes) -> Any:
        return orjson.loads(data)


class MsgpackSerializer:
    name = "msgpack"

    def dumps(self, value: Any) -> bytes:
        out: bytes = msgpack.packb(value, use_bin_type=True)
        return out

    def loads(self, data: bytes) -> Any:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)


SERIALIZERS: dict[str, Serializer] = {"json": JsonSerializer(), "msgpack": MsgpackSerializer()}
