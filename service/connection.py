"""A client of the configured server whose refused calls raise the domain's errors.

:func:`connected` is what the client commands use: a refused call becomes a
:class:`~warmstart.metamodel.errors.WarmstartError` whose message says what to do (start a
server, give a token, raise the deadline), so the command prints one line and exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
)
from warmstart.service.client import WarmstartClient, WarmstartRpcError
from warmstart.service.settings import DEFAULT_SERVER, SERVER_ENV, TOKEN_ENV, ClientSettings

__all__ = ["RETRIES", "connected", "domain_error"]

RETRIES = 2
"""How often an UNAVAILABLE call is retried: a down server is refused within a second or two."""


def domain_error(exc: WarmstartRpcError, settings: ClientSettings) -> WarmstartError:
    """The domain error a refused call means, with what to do about it."""
    code, message, server = exc.code, exc.message, settings.server
    if code is grpc.StatusCode.UNAVAILABLE:
        return FailedPreconditionError(
            f"cannot reach a warmstart server at {server} ({message.strip() or 'unavailable'}); "
            f"start one with `warmstart serve` (it listens on {DEFAULT_SERVER} by default), "
            f"or point --server / ${SERVER_ENV} at a running one"
        )
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return FailedPreconditionError(
            f"the server at {server} did not answer within {settings.timeout:g} s (--timeout)"
        )
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return FailedPreconditionError(
            f"the server at {server} refused the token: {message} "
            f"(give a token it accepts with --token or ${TOKEN_ENV})"
        )
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS):
        return InvalidRequestError(f"the server refused the request: {message}")
    if code is grpc.StatusCode.NOT_FOUND:
        return NotFoundError(message)
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPreconditionError(message)
    return WarmstartError(f"the server at {server} failed the call ({code.name}): {message}")


@contextmanager
def connected(settings: ClientSettings) -> Iterator[WarmstartClient]:
    """A client of the configured server whose refused calls raise domain errors.

    Raises:
        WarmstartError: A call failed (the subclass says how; the message says what to do).
    """
    client = WarmstartClient(
        settings.server,
        token=settings.token,
        root_certificates=settings.tls_root_cert,
        timeout=settings.timeout,
        retries=RETRIES,
    )
    try:
        yield client
    except WarmstartRpcError as exc:
        raise domain_error(exc, settings) from None
    finally:
        client.close()
