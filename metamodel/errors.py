"""The one family of domain errors raised by the core.

The service maps each class to exactly one gRPC status code and the CLI prints
the message as it is, so every message says what was wrong and what is allowed.
"""

from __future__ import annotations

__all__ = [
    "FailedPreconditionError",
    "InvalidRequestError",
    "NotFoundError",
    "SchemaMismatchError",
    "StorageError",
    "WarmstartError",
]


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
