"""What every request passes before any work: its size, its decoding, its strings.

gRPC hands the server raw bytes; :func:`request_deserializer` turns them into the
request message, or, when they are larger than the RPC's limit or are not a valid
message (truncated, garbage, a string that is not UTF-8), into an
:class:`Undecodable` that the servicer refuses through the usual path, so the
refusal is logged and counted like any other call.

Parsing runs on the event loop and holds the GIL: a 16 MiB message of tiny fields
takes protobuf about 100 ms. So the RPCs that carry a name at most take
:data:`MAX_SMALL_REQUEST_BYTES`, SuggestConfigs :data:`MAX_SUGGEST_BYTES`, and a
DescribeTask chunk is read by :func:`decode_chunk`, which looks at no more than
:data:`MAX_CHUNK_FIELDS` fields and keeps its data as a view of the received bytes.

The limits, and :func:`text` that checks each string against them, are the API's:
:mod:`~warmstart.service.wire.limits` holds them, shared with the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from warmstart.metamodel.errors import InvalidRequestError, WarmstartError
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.service.server._errors import ResourceExhaustedError
from warmstart.service.wire.limits import (
    MAX_ERROR_CHARS,
    MAX_EXCLUDE,
    MAX_FEATURES,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_PAGE_TOKEN_CHARS,
    MAX_PATH_CHARS,
    MAX_SMALL_REQUEST_BYTES,
    MAX_SUGGEST_BYTES,
    MAX_TASK_NAME_CHARS,
    MAX_VALUE_CHARS,
    text,
)

__all__ = [
    "MAX_CHUNK_FIELDS",
    "MAX_ERROR_CHARS",
    "MAX_EXCLUDE",
    "MAX_FEATURES",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PAGE_TOKEN_CHARS",
    "MAX_PATH_CHARS",
    "MAX_SMALL_REQUEST_BYTES",
    "MAX_SUGGEST_BYTES",
    "MAX_TASK_NAME_CHARS",
    "MAX_VALUE_CHARS",
    "ChunkFields",
    "Undecodable",
    "decode_chunk",
    "parse_request",
    "request_deserializer",
    "text",
]

MAX_CHUNK_FIELDS = 16
"""Most fields one DescribeTask chunk may carry (it has five)."""

_R = TypeVar("_R")
_M = TypeVar("_M", bound=Message)


@dataclass(frozen=True)
class Undecodable:
    """A request the server could not or would not decode; :meth:`error` says why.

    Attributes:
        rpc: The method's name.
        size: The request's size in bytes.
        reason: What was wrong.
        too_large: The request passed the RPC's size limit (else it did not parse).
    """

    rpc: str
    size: int
    reason: str
    too_large: bool = False

    def error(self) -> WarmstartError:
        """The domain error the call is refused with."""
        if self.too_large:
            return ResourceExhaustedError(self.reason)
        return InvalidRequestError(
            f"the {self.rpc} request ({self.size} bytes) is not a valid message: {self.reason}"
        )


def parse_request(message: type[_M], rpc: str, data: bytes) -> _M:
    """``data`` parsed as ``message``.

    Raises:
        InvalidRequestError: It is not a valid message (see :class:`Undecodable`).
    """
    try:
        return message.FromString(data)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise Undecodable(rpc, len(data), _reason(exc)).error() from None


def _reason(exc: Exception) -> str:
    return str(exc).split(": ", 1)[-1] or type(exc).__name__


def request_deserializer(
    parse: Callable[[bytes], _R], rpc: str, max_bytes: int | None = None, hint: str = ""
) -> Callable[[bytes], _R | Undecodable]:
    """A gRPC request deserializer that never raises.

    gRPC answers an exception raised while decoding with UNKNOWN and leaves the call
    out of the servicer's logs and metrics; this one hands the servicer an
    :class:`Undecodable` instead.

    Args:
        parse: Decodes the bytes (a message type's ``FromString``, :func:`decode_chunk`);
            raises :class:`~google.protobuf.message.DecodeError` or ``ValueError``.
        rpc: The method's name, for messages.
        max_bytes: The largest request this RPC takes (checked before parsing);
            ``None``: the server's message size limit only.
        hint: Appended to the size message (what to send instead).
    """

    def decode(data: bytes) -> _R | Undecodable:
        if max_bytes is not None and len(data) > max_bytes:
            return Undecodable(
                rpc,
                len(data),
                f"the {rpc} request is {len(data)} bytes; this server takes at most "
                f"{max_bytes} bytes per {rpc} request{hint}",
                too_large=True,
            )
        try:
            return parse(data)
        except (DecodeError, ValueError, RecursionError) as exc:
            return Undecodable(rpc, len(data), _reason(exc))

    return decode


# -- DescribeTask chunks -----------------------------------------------------------------------

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MAX_FIELD_NUMBER = (1 << 29) - 1


@dataclass(frozen=True)
class ChunkFields:
    """A DescribeTask chunk as :func:`decode_chunk` reads it (the fields of
    ``DescribeTaskChunk``; unset ones are 0 or empty)."""

    format: int
    target: str
    task_type: str
    data: memoryview
    name: str = ""
    probe_space: str = ""


def _field_number(name: str, kind: int) -> int:
    field = pb.DescribeTaskChunk.DESCRIPTOR.fields_by_name.get(name)
    if field is None or field.type != kind or field.is_repeated:
        raise ImportError(
            f"DescribeTaskChunk.{name} is not the field decode_chunk was written for; "
            "update service/server/_edge.py with the .proto"
        )
    return int(field.number)


_FORMAT = _field_number("format", FieldDescriptor.TYPE_ENUM)
_TARGET = _field_number("target", FieldDescriptor.TYPE_STRING)
_TASK_TYPE = _field_number("task_type", FieldDescriptor.TYPE_STRING)
_DATA = _field_number("data", FieldDescriptor.TYPE_BYTES)
_NAME = _field_number("name", FieldDescriptor.TYPE_STRING)
_PROBE_SPACE = _field_number("probe_space", FieldDescriptor.TYPE_STRING)
if len(pb.DescribeTaskChunk.DESCRIPTOR.fields) != 6:
    raise ImportError("DescribeTaskChunk has fields decode_chunk does not read")
_WIRE_TYPES = {
    _FORMAT: _VARINT,
    _TARGET: _LEN,
    _TASK_TYPE: _LEN,
    _DATA: _LEN,
    _NAME: _LEN,
    _PROBE_SPACE: _LEN,
}


def _varint(view: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while shift < 70:
        if at >= len(view):
            raise DecodeError("truncated message")
        byte = view[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
    raise DecodeError("a varint is longer than 10 bytes")


def decode_chunk(raw: bytes) -> ChunkFields:
    """Read a serialized ``DescribeTaskChunk`` as protobuf does (unknown fields skipped, the
    last of a repeated field kept), in time that does not grow with the chunk's size.

    Raises:
        DecodeError: The bytes are truncated, use field number 0 or groups, hold more
            than :data:`MAX_CHUNK_FIELDS` fields, or a string that is not UTF-8.
    """
    view = memoryview(raw)
    at, seen = 0, 0
    table_format, data = 0, view[0:0]
    strings = {_TARGET: "", _TASK_TYPE: "", _NAME: "", _PROBE_SPACE: ""}
    while at < len(view):
        seen += 1
        if seen > MAX_CHUNK_FIELDS:
            raise DecodeError(f"a DescribeTask chunk carries at most {MAX_CHUNK_FIELDS} fields")
        key, at = _varint(view, at)
        number, wire = key >> 3, key & 7
        if not 0 < number <= _MAX_FIELD_NUMBER:
            raise DecodeError(f"field number {number} is out of range")
        if _WIRE_TYPES.get(number, wire) != wire:
            number = -1  # a known number with another wire type: skipped, as protobuf does
        if wire == _VARINT:
            value, at = _varint(view, at)
            if number == _FORMAT:  # an int32 enum: the varint's low 32 bits, signed
                table_format = (value & 0xFFFFFFFF) - ((value >> 31 & 1) << 32)
        elif wire == _LEN:
            size, at = _varint(view, at)
            if at + size > len(view):
                raise DecodeError("truncated message")
            if number == _DATA:
                data = view[at : at + size]
            elif number in strings:
                try:
                    strings[number] = bytes(view[at : at + size]).decode()
                except UnicodeDecodeError:
                    raise DecodeError("String field had bad UTF-8") from None
            at += size
        elif wire in (_I64, _I32):
            at += 8 if wire == _I64 else 4
            if at > len(view):
                raise DecodeError("truncated message")
        else:
            raise DecodeError(f"field {number} has wire type {wire}, which no field here uses")
    return ChunkFields(
        table_format,
        strings[_TARGET],
        strings[_TASK_TYPE],
        data,
        strings[_NAME],
        strings[_PROBE_SPACE],
    )
