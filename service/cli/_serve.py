"""``warmstart serve``: the gRPC server, with its models, store and settings from flags and env."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.store import MissingDatabaseError
from warmstart.service.cli._common import (
    DbOption,
    HostOption,
    PortOption,
    TokenOption,
    console,
    handle_errors,
    open_store,
)
from warmstart.service.server import (
    DEFAULT_UPLOAD_RATE_MB,
    ModelRegistry,
    WarmstartServer,
    bundle_files,
    configure_json_logging,
    server_credentials,
    store_locator,
)
from warmstart.service.server import (
    serve as run_server,
)
from warmstart.service.settings import UPLOAD_RATE_MB_ENV, data_dir, server_settings

__all__ = ["serve"]


def _announce(server: WarmstartServer) -> None:
    settings = server.settings
    scheme = "TLS" if settings.tls else "plaintext"
    console.print(f"warmstart listening on {settings.host}:{server.port} ({scheme})", markup=False)
    models = server.models.models
    if models:
        for name in sorted(models):
            model = models[name]
            where = f" from {model.path}" if model.path else ""
            console.print(f"serving space {name}: model {model.version}{where}", markup=False)
    else:
        console.print(
            "no model loaded: SuggestConfigs answers FAILED_PRECONDITION until one is; "
            "train one with `warmstart train --space NAME`",
            markup=False,
        )
    if settings.metrics_port:
        console.print(f"metrics on http://{settings.host}:{settings.metrics_port}/metrics")
    if not (settings.write_tokens or settings.admin_tokens):
        console.print("no write token set: ReportResults is disabled (--token / WARMSTART_TOKENS)")
    sys.stdout.flush()


@handle_errors
def serve(
    host: HostOption = None,
    port: PortOption = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            help="Bundle file or folder of bundles (newest per space); repeatable. Default: "
            "the store's serving versions, else models/ in the data dir. Env: WARMSTART_MODEL."
        ),
    ] = None,
    token: TokenOption = None,
    admin_token: Annotated[
        list[str] | None,
        typer.Option(help="Admin token (ReloadModel); repeatable. Env: WARMSTART_ADMIN_TOKENS."),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain. Env: WARMSTART_TLS_CERT.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key. Env: WARMSTART_TLS_KEY.")
    ] = None,
    max_message_mb: Annotated[
        float | None,
        typer.Option(help="Largest message, MiB (default 16). Env: WARMSTART_MAX_MESSAGE_MB."),
    ] = None,
    max_describe_mb: Annotated[
        float | None,
        typer.Option(
            help="Largest DescribeTask dataset, MiB (default 256). Env: WARMSTART_MAX_DESCRIBE_MB."
        ),
    ] = None,
    describe_budget_mb: Annotated[
        float | None,
        typer.Option(
            help="Most DescribeTask data held at once over all uploads, MiB; an upload past "
            "it is refused with RESOURCE_EXHAUSTED (default 512; at least --max-describe-mb). "
            "Env: WARMSTART_DESCRIBE_BUDGET_MB.",
            show_default=False,
        ),
    ] = None,
    upload_rate_mb: Annotated[
        float | None,
        typer.Option(
            help="MiB a second of DescribeTask data read over all uploads; a faster sender "
            "is slowed by HTTP/2 flow control, which keeps the CPU for the other calls "
            f"(default {DEFAULT_UPLOAD_RATE_MB:g}; 0: as fast as it comes). "
            f"Env: {UPLOAD_RATE_MB_ENV}.",
            show_default=False,
        ),
    ] = None,
    reads_open: Annotated[
        bool | None,
        typer.Option(
            "--reads-open/--reads-closed",
            help="Whether reads need no token (default open). Env: WARMSTART_READS_OPEN.",
            show_default=False,
        ),
    ] = None,
    watch_seconds: Annotated[
        float | None,
        typer.Option(
            help="Check model files this often; 0: never (default 5). Env: WARMSTART_WATCH_SECONDS."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Prometheus /metrics port; 0: off. Env: WARMSTART_METRICS_PORT."),
    ] = None,
    grace_seconds: Annotated[
        float | None,
        typer.Option(
            help="Drain in-flight calls this long on SIGTERM (default 10). "
            "Env: WARMSTART_GRACE_SECONDS."
        ),
    ] = None,
    reuse_port: Annotated[
        bool | None,
        typer.Option(
            "--reuse-port/--no-reuse-port",
            help="Let several servers share the port (SO_REUSEPORT: the kernel spreads "
            "connections over them); default off. Env: WARMSTART_REUSE_PORT.",
            show_default=False,
        ),
    ] = None,
    refine_from: Annotated[
        int | None,
        typer.Option(
            help="Also suggest local refinements of this many of the best candidates (8 "
            "each; origin 'refinement'); several times the CPU per request (default 0: "
            "none). Env: WARMSTART_REFINE_FROM.",
            show_default=False,
        ),
    ] = None,
    batch_wait_ms: Annotated[
        float | None,
        typer.Option(
            help="On a busy server, a SuggestConfigs call waits at most this long for the "
            "next to be answered with it in one pass, which costs less CPU per call; each "
            "call that joins starts the wait again, up to 4 waits in all (default 1; 0: "
            "never wait). Env: WARMSTART_BATCH_WAIT_MS.",
            show_default=False,
        ),
    ] = None,
    keepalive_seconds: Annotated[
        float | None,
        typer.Option(
            help="Ping a connection quiet this long, to notice peers that are gone "
            "(default 60; 0: never). Env: WARMSTART_KEEPALIVE_SECONDS.",
            show_default=False,
        ),
    ] = None,
    keepalive_timeout_seconds: Annotated[
        float | None,
        typer.Option(
            help="Close a connection whose peer does not answer a ping, or finish its TLS "
            "and HTTP/2 handshake, within this long (default 20). "
            "Env: WARMSTART_KEEPALIVE_TIMEOUT_SECONDS.",
            show_default=False,
        ),
    ] = None,
    max_idle_seconds: Annotated[
        float | None,
        typer.Option(
            help="Close a connection that carried no call this long; clients reconnect on "
            "their next call (default 120; 0: never). Env: WARMSTART_MAX_IDLE_SECONDS.",
            show_default=False,
        ),
    ] = None,
    max_connection_age_seconds: Annotated[
        float | None,
        typer.Option(
            help="Ask a connection to close once it is this old; its client reconnects "
            "(default 1800; 0: never). Env: WARMSTART_MAX_CONNECTION_AGE_SECONDS.",
            show_default=False,
        ),
    ] = None,
    connection_age_grace_seconds: Annotated[
        float | None,
        typer.Option(
            help="Calls on a connection past its age may finish this long before it is "
            "closed (default 60). Env: WARMSTART_CONNECTION_AGE_GRACE_SECONDS.",
            show_default=False,
        ),
    ] = None,
    create_db: Annotated[
        bool,
        typer.Option(
            "--create-db",
            help="Create the database (and its folder) if it does not exist; without it, "
            "a database that does not exist is refused.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level of the JSON logs.")] = "info",
    db: DbOption = None,
) -> None:
    """Serve suggestions over gRPC until SIGTERM or SIGINT (then drain and stop)."""
    settings = server_settings(
        host=host,
        port=port,
        model_paths=model or (),
        tokens=token or (),
        admin_tokens=admin_token or (),
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_message_mb=max_message_mb,
        max_describe_mb=max_describe_mb,
        describe_budget_mb=describe_budget_mb,
        upload_rate_mb=upload_rate_mb,
        reads_open=reads_open,
        watch_seconds=watch_seconds,
        metrics_port=metrics_port,
        grace_seconds=grace_seconds,
        reuse_port=reuse_port,
        refine_from=refine_from,
        batch_wait_ms=batch_wait_ms,
        keepalive_seconds=keepalive_seconds,
        keepalive_timeout_seconds=keepalive_timeout_seconds,
        max_idle_seconds=max_idle_seconds,
        max_connection_age_seconds=max_connection_age_seconds,
        connection_age_grace_seconds=connection_age_grace_seconds,
    )
    if settings.tls_cert is not None and settings.tls_key is not None:
        server_credentials(settings.tls_cert, settings.tls_key)  # a bad pair stops us here
    configure_json_logging(log_level)
    try:
        store = open_store(db, create=create_db)
    except MissingDatabaseError as exc:
        raise MissingDatabaseError(
            f"{exc}. `warmstart serve` creates no database unless given --create-db; check "
            "--db, $WARMSTART_DB and $WARMSTART_HOME for a typo"
        ) from None
    paths = settings.model_paths
    locator = (
        (lambda: bundle_files(paths)) if paths else store_locator(store, data_dir() / "models")
    )
    models = ModelRegistry(locator, settings=settings.recommender)
    try:
        models.reload(strict=False)  # nothing served yet: serve what loads
    except FailedPreconditionError as exc:
        logging.getLogger("warmstart.server").warning("starting without a model: %s", exc)
    try:
        asyncio.run(run_server(models, store, settings, on_started=_announce))
    except OSError as exc:  # the port cannot be bound: say so in one line
        raise FailedPreconditionError(str(exc)) from None
