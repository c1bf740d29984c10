"""Settings from flags and the environment: the only module that reads os.environ.

``WARMSTART_HOME`` is the data directory (default ``$XDG_DATA_HOME/warmstart``,
else ``~/.local/share/warmstart``); the default database is the SQLite file
``warmstart.db`` inside it. ``WARMSTART_DB`` (or ``--db``) overrides it with
any supported URL. ``warmstart serve`` reads its own ``WARMSTART_*`` variables
through :func:`server_settings`; the client commands (``warmstart suggest``,
``warmstart report``) read theirs through :func:`client_settings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from warmstart.metamodel.errors import InvalidRequestError

if TYPE_CHECKING:  # the recommender loads LightGBM: only the server needs it
    from warmstart.metamodel.recommend import RecommenderSettings

__all__ = [
    "DB_ENV",
    "DEFAULT_SERVER",
    "HOME_ENV",
    "SERVER_ENV",
    "TLS_ROOT_CERT_ENV",
    "TOKEN_ENV",
    "ClientSettings",
    "ServerSettings",
    "client_settings",
    "data_dir",
    "default_db_url",
    "resolve_db_url",
    "server_settings",
]

HOME_ENV = "WARMSTART_HOME"
DB_ENV = "WARMSTART_DB"


def data_dir() -> Path:
    """Return the data directory (not created here)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "warmstart"


def default_db_url() -> str:
    """Return the URL of the embedded default database in the data directory."""
    return f"sqlite:///{(data_dir() / 'warmstart.db').resolve()}"


def resolve_db_url(flag: str | None) -> str:
    """Choose the database: ``--db`` flag, else ``WARMSTART_DB``, else the default file.

    A bare path (no ``://``) is taken as a SQLite file.
    """
    value = flag or os.environ.get(DB_ENV) or default_db_url()
    if "://" not in value:
        value = f"sqlite:///{Path(value).expanduser().resolve()}"
    return value


# -- the gRPC server ---------------------------------------------------------------------------

HOST_ENV = "WARMSTART_HOST"
PORT_ENV = "WARMSTART_PORT"
MODEL_ENV = "WARMSTART_MODEL"
TOKENS_ENV = "WARMSTART_TOKENS"
ADMIN_TOKENS_ENV = "WARMSTART_ADMIN_TOKENS"
TLS_CERT_ENV = "WARMSTART_TLS_CERT"
TLS_KEY_ENV = "WARMSTART_TLS_KEY"
MAX_MESSAGE_MB_ENV = "WARMSTART_MAX_MESSAGE_MB"
MAX_DESCRIBE_MB_ENV = "WARMSTART_MAX_DESCRIBE_MB"
DESCRIBE_BUDGET_MB_ENV = "WARMSTART_DESCRIBE_BUDGET_MB"
UPLOAD_RATE_MB_ENV = "WARMSTART_UPLOAD_RATE_MB"
READS_OPEN_ENV = "WARMSTART_READS_OPEN"
WATCH_SECONDS_ENV = "WARMSTART_WATCH_SECONDS"
METRICS_PORT_ENV = "WARMSTART_METRICS_PORT"
GRACE_SECONDS_ENV = "WARMSTART_GRACE_SECONDS"
REUSE_PORT_ENV = "WARMSTART_REUSE_PORT"
REFINE_FROM_ENV = "WARMSTART_REFINE_FROM"
BATCH_WAIT_MS_ENV = "WARMSTART_BATCH_WAIT_MS"
KEEPALIVE_SECONDS_ENV = "WARMSTART_KEEPALIVE_SECONDS"
KEEPALIVE_TIMEOUT_SECONDS_ENV = "WARMSTART_KEEPALIVE_TIMEOUT_SECONDS"
MAX_IDLE_SECONDS_ENV = "WARMSTART_MAX_IDLE_SECONDS"
MAX_CONNECTION_AGE_SECONDS_ENV = "WARMSTART_MAX_CONNECTION_AGE_SECONDS"
CONNECTION_AGE_GRACE_SECONDS_ENV = "WARMSTART_CONNECTION_AGE_GRACE_SECONDS"

_MIB = 1024 * 1024
_MAX_CONNECTION_SECONDS = 1e6  # about 11 days: longer limits are meant as "never" (use 0)


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``warmstart serve`` is configured with; built by :func:`server_settings`.

    Attributes:
        host: Interface to listen on (``0.0.0.0`` or ``[::]`` for every interface).
        port: gRPC port; 0 picks a free one.
        model_paths: Bundle files or folders of them (newest per space); empty: the
            store's serving model versions, else the data directory's ``models/``.
        write_tokens: Bearer tokens that may call ReportResults (and read).
        admin_tokens: Bearer tokens that may call ReloadModel (and write and read).
        tls_cert: PEM certificate chain; TLS is on when this and ``tls_key`` are set.
        tls_key: PEM private key.
        max_message_bytes: Largest request or response message.
        max_describe_bytes: Largest dataset one DescribeTask stream may send.
        describe_budget_bytes: Most DescribeTask data held at once over all streams (a
            stream's chunk that would pass it is refused with RESOURCE_EXHAUSTED); at
            least ``max_describe_bytes``. Describing holds a few times its data.
        upload_rate_bytes: Bytes a second of DescribeTask data read over all streams; a
            faster sender is slowed by HTTP/2 flow control. 0: as fast as it comes.
        max_results: Most results one ReportResults call may carry.
        reads_open: Whether reads need no token; when ``False`` any valid token reads.
        watch_seconds: How often model files are checked for changes; 0 turns it off.
        metrics_port: Port of the Prometheus ``/metrics`` endpoint; 0 turns it off.
        grace_seconds: How long in-flight calls may finish after SIGTERM/SIGINT.
        reuse_port: Let several servers listen on the same port (``SO_REUSEPORT``);
            the kernel spreads new connections over them. Off: a port in use is an error.
        refine_from: Also suggest local refinements of this many of the best candidates
            (8 each); 0: none. Several times the CPU of a request.
        batch_wait_ms: On a busy server, a SuggestConfigs call (from meta-features) waits
            at most this long for the next to be answered with it in one pass; each call
            that joins starts the wait again, up to 4 waits in all; 0: never.
        keepalive_seconds: Ping a connection that has been quiet this long; 0: never.
        keepalive_timeout_seconds: Close a connection whose peer has not answered a
            ping, or finished its TLS and HTTP/2 handshake, within this long.
        max_idle_seconds: Close a connection that has carried no call for this long
            (clients reconnect on their next call); 0: never.
        max_connection_age_seconds: Ask a connection to close once it is this old (its
            clients reconnect, which also spreads them over replicas); 0: never.
        connection_age_grace_seconds: How long calls on a connection past its age may
            still finish before it is closed.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    model_paths: tuple[Path, ...] = ()
    write_tokens: frozenset[str] = frozenset()
    admin_tokens: frozenset[str] = frozenset()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message_bytes: int = 16 * _MIB
    max_describe_bytes: int = 256 * _MIB
    describe_budget_bytes: int = 512 * _MIB
    upload_rate_bytes: float = 64 * _MIB
    max_results: int = 10_000
    reads_open: bool = True
    watch_seconds: float = 5.0
    metrics_port: int = 0
    grace_seconds: float = 10.0
    reuse_port: bool = False
    refine_from: int = 0
    batch_wait_ms: float = 1.0
    keepalive_seconds: float = 60.0
    keepalive_timeout_seconds: float = 20.0
    max_idle_seconds: float = 120.0
    max_connection_age_seconds: float = 1800.0
    connection_age_grace_seconds: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be in [0, 65535], got {self.port}")
        if not 0 <= self.metrics_port <= 65535:
            problems.append(f"metrics port must be in [0, 65535], got {self.metrics_port}")
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
        if self.max_message_bytes < 1024:
            problems.append(f"max message size must be >= 1 KiB, got {self.max_message_bytes} B")
        if self.max_describe_bytes < 1:
            problems.append(f"max DescribeTask bytes must be >= 1, got {self.max_describe_bytes}")
        if self.describe_budget_bytes < self.max_describe_bytes:
            problems.append(
                f"the DescribeTask budget ({self.describe_budget_bytes / _MIB:g} MiB) must be "
                f"at least the largest dataset ({self.max_describe_bytes / _MIB:g} MiB)"
            )
        if not (math.isfinite(self.upload_rate_bytes) and self.upload_rate_bytes >= 0):
            problems.append(
                "the upload rate must be a number of MiB/s >= 0 (0: unpaced), "
                f"got {self.upload_rate_bytes / _MIB:g}"
            )
        if self.max_results < 1:
            problems.append(f"max results per call must be >= 1, got {self.max_results}")
        if not 0 <= self.refine_from <= 64:
            problems.append(f"refine-from must be in [0, 64], got {self.refine_from}")
        if not 0.0 <= self.batch_wait_ms <= 100.0:
            problems.append(f"batch wait must be in [0, 100] ms, got {self.batch_wait_ms}")
        if self.watch_seconds < 0 or self.grace_seconds < 0:
            problems.append("watch and grace seconds must be >= 0")
        connection_seconds = {
            "keepalive": self.keepalive_seconds,
            "max idle": self.max_idle_seconds,
            "max connection age": self.max_connection_age_seconds,
            "connection age grace": self.connection_age_grace_seconds,
        }
        for what, seconds in connection_seconds.items():
            if not 0 <= seconds <= _MAX_CONNECTION_SECONDS:
                problems.append(f"{what} seconds must be in [0, 1e6], got {seconds:g}")
        timeout = self.keepalive_timeout_seconds
        if not 0 < timeout <= _MAX_CONNECTION_SECONDS:
            problems.append(f"keepalive timeout seconds must be in (0, 1e6], got {timeout:g}")
        if not self.reads_open and not (self.write_tokens or self.admin_tokens):
            problems.append("closed reads need at least one token (--token or --admin-token)")
        if any(not t or any(c.isspace() for c in t) for t in self.write_tokens | self.admin_tokens):
            problems.append("tokens must be non-empty and contain no whitespace")
        if problems:
            raise InvalidRequestError("server settings: " + "; ".join(problems))

    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS."""
        return self.tls_cert is not None

    @property
    def recommender(self) -> RecommenderSettings:
        """How the served models' recommenders choose candidates."""
        from warmstart.metamodel.recommend import RecommenderSettings

        return RecommenderSettings(n_refine_from=self.refine_from)


def _env_list(name: str, separator: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(separator) if part.strip()]


def _env_number(name: str, kind: type[int] | type[float]) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise InvalidRequestError(
            f"${name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}"
        ) from None


def _env_bool(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidRequestError(f"${name} must be true or false, got {raw!r}")


def server_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    model_paths: Sequence[Path] = (),
    tokens: Sequence[str] = (),
    admin_tokens: Sequence[str] = (),
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    max_message_mb: float | None = None,
    max_describe_mb: float | None = None,
    describe_budget_mb: float | None = None,
    upload_rate_mb: float | None = None,
    reads_open: bool | None = None,
    watch_seconds: float | None = None,
    metrics_port: int | None = None,
    grace_seconds: float | None = None,
    reuse_port: bool | None = None,
    refine_from: int | None = None,
    batch_wait_ms: float | None = None,
    keepalive_seconds: float | None = None,
    keepalive_timeout_seconds: float | None = None,
    max_idle_seconds: float | None = None,
    max_connection_age_seconds: float | None = None,
    connection_age_grace_seconds: float | None = None,
) -> ServerSettings:
    """Build server settings: each flag given wins, else its environment variable, else the default.

    Environment: ``WARMSTART_HOST``, ``WARMSTART_PORT``, ``WARMSTART_MODEL`` (paths
    separated by ``os.pathsep``), ``WARMSTART_TOKENS`` and ``WARMSTART_ADMIN_TOKENS``
    (comma-separated), ``WARMSTART_TLS_CERT``, ``WARMSTART_TLS_KEY``,
    ``WARMSTART_MAX_MESSAGE_MB``, ``WARMSTART_MAX_DESCRIBE_MB``,
    ``WARMSTART_DESCRIBE_BUDGET_MB``, ``WARMSTART_UPLOAD_RATE_MB``, ``WARMSTART_READS_OPEN``,
    ``WARMSTART_WATCH_SECONDS``, ``WARMSTART_METRICS_PORT``, ``WARMSTART_GRACE_SECONDS``,
    ``WARMSTART_REUSE_PORT``, ``WARMSTART_REFINE_FROM``, ``WARMSTART_BATCH_WAIT_MS``,
    ``WARMSTART_KEEPALIVE_SECONDS``, ``WARMSTART_KEEPALIVE_TIMEOUT_SECONDS``,
    ``WARMSTART_MAX_IDLE_SECONDS``, ``WARMSTART_MAX_CONNECTION_AGE_SECONDS``,
    ``WARMSTART_CONNECTION_AGE_GRACE_SECONDS``.

    Raises:
        InvalidRequestError: A value is malformed or the combination is inconsistent.
    """
    defaults = ServerSettings()

    def pick(flag: float | None, env: str, kind: type[int] | type[float], default: float) -> float:
        if flag is not None:
            return flag
        value = _env_number(env, kind)
        return default if value is None else value

    cert = tls_cert or (Path(p) if (p := os.environ.get(TLS_CERT_ENV)) else None)
    key = tls_key or (Path(p) if (p := os.environ.get(TLS_KEY_ENV)) else None)
    open_reads = reads_open if reads_open is not None else _env_bool(READS_OPEN_ENV)
    share_port = reuse_port if reuse_port is not None else _env_bool(REUSE_PORT_ENV)
    return ServerSettings(
        host=host or os.environ.get(HOST_ENV) or defaults.host,
        port=int(pick(port, PORT_ENV, int, defaults.port)),
        model_paths=tuple(
            Path(p).expanduser() for p in (model_paths or _env_list(MODEL_ENV, os.pathsep))
        ),
        write_tokens=frozenset(tokens or _env_list(TOKENS_ENV, ",")),
        admin_tokens=frozenset(admin_tokens or _env_list(ADMIN_TOKENS_ENV, ",")),
        tls_cert=cert,
        tls_key=key,
        max_message_bytes=int(
            pick(max_message_mb, MAX_MESSAGE_MB_ENV, float, defaults.max_message_bytes / _MIB)
            * _MIB
        ),
        max_describe_bytes=int(
            pick(max_describe_mb, MAX_DESCRIBE_MB_ENV, float, defaults.max_describe_bytes / _MIB)
            * _MIB
        ),
        describe_budget_bytes=int(
            pick(
                describe_budget_mb,
                DESCRIBE_BUDGET_MB_ENV,
                float,
                defaults.describe_budget_bytes / _MIB,
            )
            * _MIB
        ),
        upload_rate_bytes=float(
            pick(upload_rate_mb, UPLOAD_RATE_MB_ENV, float, defaults.upload_rate_bytes / _MIB)
            * _MIB
        ),
        reads_open=defaults.reads_open if open_reads is None else open_reads,
        watch_seconds=float(pick(watch_seconds, WATCH_SECONDS_ENV, float, defaults.watch_seconds)),
        metrics_port=int(pick(metrics_port, METRICS_PORT_ENV, int, defaults.metrics_port)),
        grace_seconds=float(pick(grace_seconds, GRACE_SECONDS_ENV, float, defaults.grace_seconds)),
        reuse_port=defaults.reuse_port if share_port is None else share_port,
        refine_from=int(pick(refine_from, REFINE_FROM_ENV, int, defaults.refine_from)),
        batch_wait_ms=float(pick(batch_wait_ms, BATCH_WAIT_MS_ENV, float, defaults.batch_wait_ms)),
        keepalive_seconds=float(
            pick(keepalive_seconds, KEEPALIVE_SECONDS_ENV, float, defaults.keepalive_seconds)
        ),
        keepalive_timeout_seconds=float(
            pick(
                keepalive_timeout_seconds,
                KEEPALIVE_TIMEOUT_SECONDS_ENV,
                float,
                defaults.keepalive_timeout_seconds,
            )
        ),
        max_idle_seconds=float(
            pick(max_idle_seconds, MAX_IDLE_SECONDS_ENV, float, defaults.max_idle_seconds)
        ),
        max_connection_age_seconds=float(
            pick(
                max_connection_age_seconds,
                MAX_CONNECTION_AGE_SECONDS_ENV,
                float,
                defaults.max_connection_age_seconds,
            )
        ),
        connection_age_grace_seconds=float(
            pick(
                connection_age_grace_seconds,
                CONNECTION_AGE_GRACE_SECONDS_ENV,
                float,
                defaults.connection_age_grace_seconds,
            )
        ),
    )


# -- the command-line client -------------------------------------------------------------------

SERVER_ENV = "WARMSTART_SERVER"
TOKEN_ENV = "WARMSTART_TOKEN"
TLS_ROOT_CERT_ENV = "WARMSTART_TLS_ROOT_CERT"
DEFAULT_SERVER = "127.0.0.1:50051"


@dataclass(frozen=True)
class ClientSettings:
    """Where the client commands find the server and how they authenticate.

    Attributes:
        server: ``host:port`` of the server.
        token: Bearer token sent with every call (``None``: none).
        tls_root_cert: PEM of the CA (or self-signed certificate) to trust; set, the
            client speaks TLS.
        timeout: Deadline of each call, in seconds.
    """

    server: str = DEFAULT_SERVER
    token: str | None = None
    tls_root_cert: Path | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        host, colon, port = self.server.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise InvalidRequestError(
                f"server address must be HOST:PORT (e.g. {DEFAULT_SERVER}), got {self.server!r}"
            )
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise InvalidRequestError("the token must be non-empty and contain no whitespace")
        if self.tls_root_cert is not None and not self.tls_root_cert.is_file():
            raise InvalidRequestError(f"TLS root certificate {self.tls_root_cert}: no such file")
        if not self.timeout > 0:
            raise InvalidRequestError(f"timeout must be > 0 seconds, got {self.timeout}")


def client_settings(
    *,
    server: str | None = None,
    token: str | None = None,
    tls_root_cert: Path | None = None,
    timeout: float | None = None,
) -> ClientSettings:
    """Build client settings: each flag given wins, else its environment variable, else the default.

    Environment: ``WARMSTART_SERVER`` (``host:port``, default ``127.0.0.1:50051``),
    ``WARMSTART_TOKEN`` (one bearer token), ``WARMSTART_TLS_ROOT_CERT`` (a PEM file).

    Raises:
        InvalidRequestError: A value is malformed.
    """
    cert = tls_root_cert or (Path(p) if (p := os.environ.get(TLS_ROOT_CERT_ENV)) else None)
    return ClientSettings(
        server=(server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).strip(),
        token=token or os.environ.get(TOKEN_ENV) or None,
        tls_root_cert=cert.expanduser() if cert else None,
        timeout=ClientSettings.timeout if timeout is None else timeout,
    )
