"""SuggestConfigs responses assembled from serialized protobuf fragments.

A response is ten or so suggestions, each a config the recommender hands out
again and again, four numbers, and the same few neighbour tasks. Building it
message by message costs about as much as the rest of the servicer. The wire
format allows better: a message's encoding is the concatenation of its fields'
encodings, and parsing a concatenation merges. So each config's field is
encoded once and kept, a request's neighbours once per response, the numbers
with :func:`struct.pack`, and the joined bytes are the response gRPC sends
(``register_services`` in ``service/server/_servicer.py``); no message is built.

The field numbers and types are read from the generated descriptors when this
module is imported, and checked, so a change to the ``.proto`` that this
encoding does not follow fails loudly at import rather than sending wrong bytes.
``tests/service/server/test_wire.py`` checks the result against the message-by-message
encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from warmstart.metamodel.types import NeighbourTask
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb

__all__ = ["FragmentCache", "neighbours_field", "suggestion_bytes", "varint"]

_LENGTH_DELIMITED, _FIXED64, _VARINT = 2, 1, 0


def varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(message: Descriptor, name: str, kind: int, *, repeated: bool = False) -> int:
    field = message.fields_by_name.get(name)
    if field is None or field.type != kind or field.is_repeated != repeated:
        raise ImportError(
            f"{message.full_name}.{name} is not the field this encoder was written for; "
            "update service/wire/_fragments.py with the .proto"
        )
    return int(field.number)


def _key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


_S = pb.Suggestion.DESCRIPTOR
_SCORE = _key(_field(_S, "predicted_score", FieldDescriptor.TYPE_DOUBLE), _FIXED64)
_SPREAD = _key(_field(_S, "uncertainty", FieldDescriptor.TYPE_DOUBLE), _FIXED64)
_SECONDS = _key(_field(_S, "predicted_fit_seconds", FieldDescriptor.TYPE_DOUBLE), _FIXED64)
_ORIGIN = _key(_field(_S, "origin", FieldDescriptor.TYPE_ENUM), _VARINT)
_field(_S, "config", FieldDescriptor.TYPE_MESSAGE)  # cached whole by FragmentCache
_SUGGESTIONS = _key(
    _field(
        pb.SuggestConfigsResponse.DESCRIPTOR,
        "suggestions",
        FieldDescriptor.TYPE_MESSAGE,
        repeated=True,
    ),
    _LENGTH_DELIMITED,
)
if not all(len(key) == 1 for key in (_SCORE, _SPREAD, _SECONDS, _ORIGIN)):
    raise ImportError("service/wire/_fragments.py expects one-byte keys for the numbers")
# The three doubles (key, little-endian IEEE 754) in one pack; the origin follows.
_NUMBERS = struct.Struct("<cdcdcd")
_ORIGINS = {int(v.number): _ORIGIN + varint(v.number) for v in pb.Origin.DESCRIPTOR.values}


def suggestion_bytes(
    config_field: bytes,
    predicted_score: float,
    uncertainty: float,
    predicted_fit_seconds: float,
    origin: int,
    neighbours_field: bytes,
) -> bytes:
    """One suggestion as a ``SuggestConfigsResponse.suggestions`` field, ready to join."""
    payload = b"".join(
        (
            config_field,
            _NUMBERS.pack(
                _SCORE, predicted_score, _SPREAD, uncertainty, _SECONDS, predicted_fit_seconds
            ),
            _ORIGINS.get(origin) or _ORIGIN + varint(origin),
            neighbours_field,
        )
    )
    return _SUGGESTIONS + varint(len(payload)) + payload


class FragmentCache:
    """Serialized config fields, kept by the config object's identity.

    The recommender hands out the same config objects (its fixed candidates) again
    and again, so most configs are encoded once per model rather than per call. An
    entry holds the config itself, so its id cannot be reused while cached; the cache
    is emptied when full. Config mappings are never changed in place (the core treats
    them as values).

    Args:
        encode: Encodes a config as a ``pb.Config``.
        size: Most configs kept.
    """

    def __init__(
        self, encode: Callable[[Mapping[str, object]], pb.Config], size: int = 4096
    ) -> None:
        self._encode = encode
        self._size = size
        self._fields: dict[int, tuple[Mapping[str, object], bytes]] = {}

    def config_field(self, config: Mapping[str, object]) -> bytes:
        """``Suggestion.config`` set to ``config``, serialized."""
        key = id(config)
        hit = self._fields.get(key)
        if hit is not None and hit[0] is config:
            return hit[1]
        encoded = pb.Suggestion(config=self._encode(config)).SerializeToString()
        if len(self._fields) >= self._size:
            self._fields.clear()
        self._fields[key] = (config, encoded)
        return encoded


_N = pb.NeighbourTask.DESCRIPTOR
_TASK_ID = _key(_field(_N, "task_id", FieldDescriptor.TYPE_STRING), _LENGTH_DELIMITED)
_NAME = _key(_field(_N, "name", FieldDescriptor.TYPE_STRING), _LENGTH_DELIMITED)
_DISTANCE = struct.Struct("<cd")
_DISTANCE_KEY = _key(_field(_N, "distance", FieldDescriptor.TYPE_DOUBLE), _FIXED64)
_NEAREST = _key(
    _field(_S, "nearest_tasks", FieldDescriptor.TYPE_MESSAGE, repeated=True), _LENGTH_DELIMITED
)
_named: dict[tuple[str, str], bytes] = {}


def _string(key: bytes, text: str) -> bytes:
    data = text.encode()
    return key + varint(len(data)) + data if data else b""


def neighbours_field(neighbours: Sequence[NeighbourTask]) -> bytes:
    """``Suggestion.nearest_tasks`` set to ``neighbours``, serialized."""
    parts = []
    for n in neighbours:
        named = _named.get((n.task_id, n.name))
        if named is None:
            if len(_named) >= 4096:
                _named.clear()
            named = _named[(n.task_id, n.name)] = _string(_TASK_ID, n.task_id) + _string(
                _NAME, n.name
            )
        payload = named + _DISTANCE.pack(_DISTANCE_KEY, n.distance)
        parts.append(_NEAREST + varint(len(payload)) + payload)
    return b"".join(parts)
