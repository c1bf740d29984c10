"""Connections the server does not keep: idle, silent, stalled and unanswering ones.

Each test opens raw TCP connections that speak as little HTTP/2 as a hostile or
broken client would, and checks that the server closes them under limits set to
about a second (the bound each waits is far above the limit, never a measurement).
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.service.server.conftest import ServerThread, registry_with, seed_store, settings
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.settings import ServerSettings, server_settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS, stream 0
WAIT = 60.0  # seconds a test waits for the server to close, far past any limit set here


def _literal(name: str, value: str) -> bytes:
    """One HPACK header field, literal without indexing, new name, no Huffman coding."""
    raw_name, raw_value = name.encode(), value.encode()
    return b"\x00" + bytes([len(raw_name)]) + raw_name + bytes([len(raw_value)]) + raw_value


def _headers_without_end() -> bytes:
    """A HEADERS frame opening a Check call on stream 1 whose request never follows."""
    block = b"".join(
        _literal(name, value)
        for name, value in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
    )
    # length (24 bits), type 1 (HEADERS), flags END_HEADERS only, stream 1
    return struct.pack(">I", len(block))[1:] + b"\x01\x04" + struct.pack(">I", 1) + block


def _closed_by_server(port: int, opening: bytes) -> bool:
    """Send ``opening``, then read (never answering pings) until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn:
        if opening:
            conn.sendall(opening)
        try:
            while conn.recv(65536):
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True


def _serve(bundle: ModelBundle, tmp_path: Path, **limits: float) -> ServerThread:
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    return ServerThread(registry_with(bundle), store, settings(**limits))


@pytest.mark.parametrize(
    "opening",
    [b"", PREFACE, PREFACE + EMPTY_SETTINGS],
    ids=["nothing", "preface only", "preface and settings"],
)
def test_a_connection_without_calls_is_closed_after_the_idle_limit(
    bundle: ModelBundle, tmp_path: Path, opening: bytes
) -> None:
    # The handshake and ping limits are left far above the idle limit: idleness closes it.
    with _serve(
        bundle,
        tmp_path,
        max_idle_seconds=1.0,
        keepalive_seconds=0.0,
        keepalive_timeout_seconds=WAIT,
    ) as server:
        assert server.server is not None
        assert _closed_by_server(server.server.port, opening)


def test_a_stalled_call_is_closed_after_the_connection_age(
    bundle: ModelBundle, tmp_path: Path
) -> None:
    with _serve(
        bundle,
        tmp_path,
        max_connection_age_seconds=1.0,
        connection_age_grace_seconds=1.0,
        keepalive_seconds=0.0,
        max_idle_seconds=0.0,
    ) as server:
        assert server.server is not None
        stalled = PREFACE + EMPTY_SETTINGS + _headers_without_end()
        assert _closed_by_server(server.server.port, stalled)


def test_a_peer_that_does_not_answer_pings_is_closed(bundle: ModelBundle, tmp_path: Path) -> None:
    with _serve(
        bundle,
        tmp_path,
        keepalive_seconds=1.0,
        keepalive_timeout_seconds=1.0,
        max_idle_seconds=0.0,
        max_connection_age_seconds=0.0,
    ) as server:
        assert server.server is not None
        stalled = PREFACE + EMPTY_SETTINGS + _headers_without_end()
        assert _closed_by_server(server.server.port, stalled)


def test_a_client_whose_idle_connection_was_closed_reconnects(
    bundle: ModelBundle, tmp_path: Path
) -> None:
    with (
        _serve(bundle, tmp_path, max_idle_seconds=1.0, keepalive_seconds=1.0) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        assert health.Check(request, timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        went_idle = threading.Event()

        def watch(state: grpc.ChannelConnectivity) -> None:
            if state is grpc.ChannelConnectivity.IDLE:
                went_idle.set()

        channel.subscribe(watch)
        assert went_idle.wait(WAIT)  # the server closed the idle connection
        channel.unsubscribe(watch)
        assert health.Check(request, timeout=10).status == health_pb2.HealthCheckResponse.SERVING


def test_connection_limits_come_from_flags_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = ServerSettings()
    assert (defaults.keepalive_seconds, defaults.keepalive_timeout_seconds) == (60.0, 20.0)
    assert (defaults.max_idle_seconds, defaults.max_connection_age_seconds) == (120.0, 1800.0)
    assert defaults.connection_age_grace_seconds == 60.0
    monkeypatch.setenv("WARMSTART_MAX_IDLE_SECONDS", "5")
    monkeypatch.setenv("WARMSTART_KEEPALIVE_TIMEOUT_SECONDS", "3")
    from_env = server_settings(max_connection_age_seconds=0)
    assert (from_env.max_idle_seconds, from_env.keepalive_timeout_seconds) == (5.0, 3.0)
    assert from_env.max_connection_age_seconds == 0.0
    assert server_settings(max_idle_seconds=7).max_idle_seconds == 7.0
    with pytest.raises(InvalidRequestError, match=r"keepalive timeout seconds must be in \(0"):
        ServerSettings(keepalive_timeout_seconds=0)
    with pytest.raises(InvalidRequestError, match=r"max idle seconds must be in \[0, 1e6\]"):
        ServerSettings(max_idle_seconds=-1)
