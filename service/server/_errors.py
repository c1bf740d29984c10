"""The one table from domain errors to gRPC status codes, and the errors only the service raises.

The core raises :class:`~warmstart.metamodel.errors.WarmstartError` subclasses; the
service adds three for what only a network service knows (credentials,
permissions, size limits) and one for a deadline that passed before work
began. :func:`status_for` is the only place a status code is chosen for an error.
"""

from __future__ import annotations

import grpc

from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    StorageError,
    WarmstartError,
)
from warmstart.metamodel.store import ConflictError

__all__ = [
    "MAX_MESSAGE_CHARS",
    "DeadlineExceededError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "status_for",
]


class UnauthenticatedError(WarmstartError):
    """No credentials, or credentials the server does not know."""


class PermissionDeniedError(WarmstartError):
    """Valid credentials that may not make this call."""


class ResourceExhaustedError(WarmstartError):
    """The request is larger than the server accepts."""


class DeadlineExceededError(WarmstartError):
    """The caller's deadline passed before the work could start."""


_TABLE: tuple[tuple[type[WarmstartError], grpc.StatusCode], ...] = (
    (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (ResourceExhaustedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ConflictError, grpc.StatusCode.ALREADY_EXISTS),
    # SchemaMismatchError is a FailedPreconditionError: the operator must upgrade the database.
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
    # The database is down, locked past its timeout or failed mid-transaction: retrying may work.
    (StorageError, grpc.StatusCode.UNAVAILABLE),
)


MAX_MESSAGE_CHARS = 4000
"""Longest message a refusal carries; messages quote callers' strings cut short already
(:func:`~warmstart.metamodel.errors.shown`), this bounds the rest (a long list of problems)."""


def status_for(error: WarmstartError) -> tuple[grpc.StatusCode, str]:
    """Return the status code and message a domain error is answered with.

    Args:
        error: Any error the core or the service raised on purpose.

    Returns:
        The code from the table (first matching class) and the error's message, cut
        after :data:`MAX_MESSAGE_CHARS`; an unlisted ``WarmstartError`` is ``INTERNAL``.
    """
    message = str(error) or type(error).__name__
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}... (cut: {len(message)} chars in all)"
    for kind, code in _TABLE:
        if isinstance(error, kind):
            if code is grpc.StatusCode.UNAVAILABLE:
                # The cause names the database URL: it goes to the server's log, not the caller.
                message = "the database is unavailable; retry with backoff (cause in server log)"
            return code, message
    return grpc.StatusCode.INTERNAL, message
