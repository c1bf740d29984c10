"""The options of the commands that call a running server: where it is, the token, TLS
and the deadline. Each resolves through :func:`warmstart.service.settings.client_settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warmstart.service.settings import DEFAULT_SERVER, SERVER_ENV, TLS_ROOT_CERT_ENV, TOKEN_ENV

__all__ = ["ServerOption", "TimeoutOption", "TlsRootCertOption", "TokenOption"]

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help=f"Server HOST:PORT. Default: ${SERVER_ENV}, else {DEFAULT_SERVER}.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help=f"Bearer token. Default: ${TOKEN_ENV}.", show_default=False),
]
TlsRootCertOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-root-cert",
        help=f"PEM certificate to trust; given, the call uses TLS. Default: ${TLS_ROOT_CERT_ENV}.",
        show_default=False,
    ),
]
TimeoutOption = Annotated[float, typer.Option(help="Deadline of each call, in seconds.")]
