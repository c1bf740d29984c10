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
]

_T = TypeVar("_T")


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
