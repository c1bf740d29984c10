"""Bearer-token access control: reads (optionally open), writes, and admin.

A call sends ``authorization: Bearer <token>`` metadata. Admin tokens may do
everything, write tokens may report results, register tasks and read; with reads closed any
valid token reads. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from enum import Enum

from warmstart.service.server._errors import PermissionDeniedError, UnauthenticatedError

__all__ = ["Access", "TokenGuard"]

_HEADER = "authorization"
_SCHEME = "bearer "


class Access(Enum):
    """What a call needs."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


def _matches(token: str, tokens: Iterable[str]) -> bool:
    found = False
    for known in tokens:  # no early exit: the time taken does not say which one matched
        found |= hmac.compare_digest(token.encode(), known.encode())
    return found


class TokenGuard:
    """Checks a call's bearer token against the configured tokens.

    Args:
        write_tokens: Tokens that may report results.
        admin_tokens: Tokens that may also reload models.
        reads_open: Whether reads need no token.
    """

    def __init__(
        self, write_tokens: Iterable[str], admin_tokens: Iterable[str], *, reads_open: bool
    ) -> None:
        self._write = tuple(write_tokens)
        self._admin = tuple(admin_tokens)
        self._reads_open = reads_open

    def open_to_all(self, access: Access) -> bool:
        """Whether calls needing ``access`` are allowed without a token (open reads)."""
        return access is Access.READ and self._reads_open

    @staticmethod
    def sends_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> bool:
        """Whether a call carries authorization metadata (valid or not)."""
        return any(k.lower() == _HEADER for k, _ in metadata or ())

    def check(
        self, access: Access, metadata: Iterable[tuple[str, str | bytes]] | None, rpc: str
    ) -> None:
        """Allow the call or raise.

        Raises:
            UnauthenticatedError: No token, a malformed header, or an unknown token.
            PermissionDeniedError: A valid token without the right, or a call the
                server has no token for at all.
        """
        if access is Access.READ and self._reads_open:
            return
        if access is Access.ADMIN and not self._admin:
            raise PermissionDeniedError(
                f"{rpc} is disabled: the server was started without an admin token "
                "(--admin-token or WARMSTART_ADMIN_TOKENS)"
            )
        if access is Access.WRITE and not (self._write or self._admin):
            raise PermissionDeniedError(
                f"{rpc} is disabled: the server was started without a write token "
                "(--token or WARMSTART_TOKENS)"
            )
        header = next((v for k, v in metadata or () if k.lower() == _HEADER), None)
        if header is None:
            raise UnauthenticatedError(
                f"{rpc} needs a token: send metadata 'authorization: Bearer <token>'"
            )
        text = header.decode(errors="replace") if isinstance(header, bytes) else header
        if not text.lower().startswith(_SCHEME) or not text[len(_SCHEME) :].strip():
            raise UnauthenticatedError(
                "the authorization metadata must be 'Bearer <token>'; got another form"
            )
        token = text[len(_SCHEME) :].strip()
        if _matches(token, self._admin):
            return
        if _matches(token, self._write):
            if access is Access.ADMIN:
                raise PermissionDeniedError(
                    f"{rpc} needs an admin token; this token may only read and report results"
                )
            return
        raise UnauthenticatedError("the bearer token is not valid on this server")
