"""How the server meets connections: TLS credentials checked before binding, and the
keepalive, idle and age limits that stop dead or idle connections being held forever.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.settings import ServerSettings

__all__ = ["connection_options", "server_credentials"]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def connection_options(settings: ServerSettings) -> list[tuple[str, int]]:
    """The gRPC channel arguments for the settings' keepalive, idle and age limits.

    A limit of 0 leaves gRPC's own default, which is "never" for idle and age and
    two hours for keepalive pings. Keepalive pings go out with or without calls in
    flight, so a peer that vanished is noticed even on an idle connection; a peer
    that does not answer within the timeout (or does not finish its TLS and HTTP/2
    handshake within it) is disconnected.
    """
    timeout = _ms(settings.keepalive_timeout_seconds)
    options = [
        ("grpc.keepalive_timeout_ms", timeout),
        ("grpc.http2.ping_timeout_ms", timeout),
        ("grpc.server_handshake_timeout_ms", timeout),
    ]
    if settings.keepalive_seconds > 0:
        options += [
            ("grpc.keepalive_time_ms", _ms(settings.keepalive_seconds)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),  # keep pinging a quiet connection
        ]
    if settings.max_idle_seconds > 0:
        options.append(("grpc.max_connection_idle_ms", _ms(settings.max_idle_seconds)))
    if settings.max_connection_age_seconds > 0:
        options += [
            ("grpc.max_connection_age_ms", _ms(settings.max_connection_age_seconds)),
            ("grpc.max_connection_age_grace_ms", _ms(settings.connection_age_grace_seconds)),
        ]
    return options


def _read(what: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"{what} {path}: cannot read it ({exc.strerror})") from None


def _no_password() -> bytes:
    raise InvalidRequestError("encrypted")


def server_credentials(cert: Path, key: Path) -> grpc.ServerCredentials:
    """Check a PEM certificate chain and private key, then make gRPC credentials of them.

    gRPC itself only reports a bad pair as a failure to bind the port; this says
    which file is wrong and why, before anything binds.

    Args:
        cert: The PEM certificate chain (``--tls-cert``).
        key: The PEM private key (``--tls-key``) of the chain's first certificate.

    Raises:
        InvalidRequestError: A file cannot be read, the certificate is not PEM, the
            key is not an unencrypted PEM private key, or it is not the certificate's.
    """
    cert_pem, key_pem = _read("TLS certificate", cert), _read("TLS key", key)
    try:
        ssl.create_default_context(cadata=cert_pem.decode("ascii", errors="replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidRequestError(
            f"TLS certificate {cert} (--tls-cert) is not a PEM certificate: {exc}"
        ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except InvalidRequestError:
        raise InvalidRequestError(
            f"TLS key {key} (--tls-key) is encrypted; give the key without a passphrase"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise InvalidRequestError(
                f"TLS key {key} (--tls-key) is not the key of the certificate {cert} "
                "(--tls-cert); give the private key the certificate was issued for"
            ) from None
        found = (
            "a private key SSL cannot read"
            if b"PRIVATE KEY-----" in key_pem
            else "no '-----BEGIN ... PRIVATE KEY-----' block"
        )
        raise InvalidRequestError(
            f"TLS key {key} (--tls-key) is not a usable PEM private key: it holds {found} "
            f"({exc.reason or exc})"
        ) from None
    return grpc.ssl_server_credentials([(key_pem, cert_pem)])
