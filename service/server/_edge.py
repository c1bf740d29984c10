"""What every request passes before any work: its size, its decoding, its strings.

gRPC hands the server raw bytes; :func:`request_deserializer` turns them into the
request message, or, when they are larger than the RPC's limit or are not a valid
message (truncated, garbage, a string that is not UTF-8), into an
:class:`Undecodable` that the servicer refuses through the usual path, so the
refusal is logged and counted like any other call.

:func:`text` checks each string a request carries once, as it is decoded: no NUL
character (PostgreSQL cannot store one, SQLite would) and a length limit, so both
backends see the same strings and a refusal is INVALID_ARGUMENT on either.

The limits are constants of the API, documented in the README's server settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from metamodel.errors import InvalidRequestError, WarmstartError, shown
from service.server._errors import ResourceExhaustedError

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_EXCLUDE",
    "MAX_FEATURES",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "MAX_SUGGEST_BYTES",
    "MAX_VALUE_CHARS",
    "Undecodable",
    "request_deserializer",
    "text",
]

MAX_EXCLUDE = 1000
"""Most configs one SuggestConfigs request may exclude (``exclude``)."""
MAX_FEATURES = 1000
"""Most meta-features one SuggestConfigs request may carry."""
MAX_SUGGEST_BYTES = 1024 * 1024
"""Largest SuggestConfigs request, in bytes (1 MiB: room for :data:`MAX_EXCLUDE` configs)."""
MAX_NAME_CHARS = 256
"""Longest name: space, task id, feature version, meta-feature, parameter, metric, column."""
MAX_ID_CHARS = 128
"""Longest client-supplied result id (the store's ``external_id`` column)."""
MAX_VALUE_CHARS = 1024
"""Longest string parameter value."""
MAX_ERROR_CHARS = 65536
"""Longest ``error`` text of a reported result."""
MAX_PATH_CHARS = 4096
"""Longest bundle path of a ReloadModel request."""

_M = TypeVar("_M", bound=Message)


def text(value: str, field: str, limit: int = MAX_NAME_CHARS) -> str:
    """``value``, checked: at most ``limit`` characters and no NUL character.

    Args:
        value: A string from a request (protobuf has checked that it is UTF-8).
        field: Where it came from, for the message (``"results[2].id"``).
        limit: The most characters allowed.

    Raises:
        InvalidRequestError: Too long, or it holds a NUL.
    """
    if len(value) > limit:
        raise InvalidRequestError(
            f"{field} is {len(value)} characters long; at most {limit} are allowed"
        )
    if "\x00" in value:
        raise InvalidRequestError(
            f"{field} contains a NUL character (\\x00), which no string may hold: {shown(value)}"
        )
    return value


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


def request_deserializer(
    message: type[_M], rpc: str, max_bytes: int | None = None, hint: str = ""
) -> Callable[[bytes], _M | Undecodable]:
    """A gRPC request deserializer that never raises.

    gRPC answers an exception raised while decoding with UNKNOWN and leaves the call
    out of the servicer's logs and metrics; this one hands the servicer an
    :class:`Undecodable` instead.

    Args:
        message: The request message type.
        rpc: The method's name, for messages.
        max_bytes: The largest request this RPC takes (checked before parsing);
            ``None``: the server's message size limit only.
        hint: Appended to the size message (what to send instead).
    """

    def decode(data: bytes) -> _M | Undecodable:
        if max_bytes is not None and len(data) > max_bytes:
            return Undecodable(
                rpc,
                len(data),
                f"the {rpc} request is {len(data)} bytes; this server takes at most "
                f"{max_bytes} bytes per {rpc} request{hint}",
                too_large=True,
            )
        try:
            return message.FromString(data)
        except (DecodeError, ValueError, RecursionError) as exc:
            reason = str(exc).split(": ", 1)[-1] or type(exc).__name__
            return Undecodable(rpc, len(data), reason)

    return decode
