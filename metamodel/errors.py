"""The one family of domain errors raised by the core.

The service maps each class to exactly one gRPC status code and the CLI prints
the message as it is, so every message says what was wrong and what is allowed.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "FailedPreconditionError",
    "InvalidRequestError",
    "NotFoundError",
    "SchemaMismatchError",
    "StorageError",
    "WarmstartError",
    "answer_or_raise",
    "shown",
]

_T = TypeVar("_T")

SHOWN_CHARS = 100
"""Most characters of a caller's string that a message repeats."""


class WarmstartError(Exception):
    """Root of every error the core raises on purpose."""


class InvalidRequestError(WarmstartError, ValueError):
    """The caller passed something malformed or out of range."""


class NotFoundError(WarmstartError, LookupError):
    """A task, space, record or model the caller named does not exist."""


class FailedPreconditionError(WarmstartError):
    """The request is well formed but the system is not in a state to serve it."""


class SchemaMismatchError(FailedPreconditionError):
    """The database is not at the schema revision this code expects."""


class StorageError(WarmstartError):
    """The database failed underneath us (connection, lock, constraint)."""


def answer_or_raise(answer: _T | WarmstartError) -> _T:
    """One answer of a batch call that gives errors as values: the answer, or its error raised."""
    if isinstance(answer, WarmstartError):
        raise answer
    return answer


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A caller's string as a message repeats it: quoted, cut after ``limit`` characters.

    ``shown("a" * 10_000)`` is ``'aaa…a'... (10000 chars)`` with 100 ``a``: a message
    names what was wrong without sending a hostile client its own megabytes back.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} chars)"
