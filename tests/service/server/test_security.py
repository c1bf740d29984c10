"""TLS with a self-signed certificate (made with the openssl CLI), and token access rules."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.server.conftest import (
    ADMIN_TOKEN,
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue
from warmstart.service.client import (
    PermissionDeniedRpcError,
    UnauthenticatedRpcError,
    UnavailableRpcError,
    WarmstartClient,
)
from warmstart.service.settings import ServerSettings
from warmstart.service.wire.api import ReportedResult

TASK = {"f0": 0.3, "f1": 0.8}


def a_result(result_id: str, seed: int = 0) -> ReportedResult:
    config: dict[str, ConfigValue] = {"C": 2.0, "kernel": "linear", "shrinking": False}
    return ReportedResult(result_id, TASK_IDS[0], "svm_like", config, score=0.7, seed=seed)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(
    bundle: ModelBundle, tmp_path: Path, certificate: tuple[Path, Path]
) -> Iterator[ServerThread]:
    cert, key = certificate
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with ServerThread(
        registry_with(bundle), store, settings(tls_cert=cert, tls_key=key, reads_open=False)
    ) as server:
        yield server


def test_tls_with_tokens(tls_server: ServerThread, certificate: tuple[Path, Path]):
    cert, _ = certificate
    with WarmstartClient(tls_server.target, token=WRITE_TOKEN, root_certificates=cert) as client:
        assert client.suggest(TASK, "svm_like", 2, feature_version="test-1").suggestions
        assert client.report([a_result("tls-1")]).stored == 1
        with pytest.raises(PermissionDeniedRpcError, match="needs an admin token"):
            client.reload_model()
    anonymous = WarmstartClient(tls_server.target, root_certificates=cert.read_bytes())
    with anonymous, pytest.raises(UnauthenticatedRpcError, match="SuggestConfigs needs a token"):
        anonymous.suggest(TASK, "svm_like", 2, feature_version="test-1")
    with WarmstartClient(tls_server.target, token=ADMIN_TOKEN, root_certificates=cert) as admin:
        assert admin.report([a_result("tls-2", seed=1)]).stored == 1  # admin may write too
        with pytest.raises(Exception, match="no configured model location"):
            admin.reload_model()
    plain = WarmstartClient(tls_server.target, token=WRITE_TOKEN, retries=1, backoff=0.01)
    with plain, pytest.raises(UnavailableRpcError):
        plain.spaces()  # plaintext against a TLS port never connects


def test_writes_and_admin_are_refused_without_configured_tokens(
    bundle: ModelBundle, tmp_path: Path
):
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    no_tokens = settings(write_tokens=frozenset(), admin_tokens=frozenset())
    with (
        ServerThread(registry_with(bundle), store, no_tokens) as server,
        WarmstartClient(server.target, token="anything") as client,
    ):
        assert client.spaces()  # reads are open by default
        with pytest.raises(PermissionDeniedRpcError, match="without a write token"):
            client.report([a_result("x")])
        with pytest.raises(PermissionDeniedRpcError, match="without an admin token"):
            client.reload_model()
    assert store.count_records() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reads_open": False}, "closed reads need at least one token"),
        ({"tls_cert": Path("cert.pem")}, "TLS needs both a certificate and a key"),
        ({"port": 70000}, "port must be in [0, 65535]"),
        ({"write_tokens": frozenset({"has space"})}, "contain no whitespace"),
        ({"refine_from": 100}, "refine-from must be in [0, 64]"),
    ],
)
def test_inconsistent_settings_are_refused(overrides: dict[str, object], message: str):
    with pytest.raises(InvalidRequestError, match=message.replace("[", r"\[")):
        ServerSettings(**overrides)  # type: ignore[arg-type]


def test_settings_come_from_flags_then_environment(monkeypatch: pytest.MonkeyPatch):
    from warmstart.service.settings import server_settings

    monkeypatch.setenv("WARMSTART_PORT", "6000")
    monkeypatch.setenv("WARMSTART_TOKENS", "a, b")
    monkeypatch.setenv("WARMSTART_READS_OPEN", "false")
    monkeypatch.setenv("WARMSTART_MAX_MESSAGE_MB", "2")
    from_env = server_settings()
    assert (from_env.port, from_env.write_tokens, from_env.reads_open) == (
        6000,
        frozenset({"a", "b"}),
        False,
    )
    assert from_env.max_message_bytes == 2 * 1024 * 1024
    assert server_settings(port=7000, tokens=["c"]).port == 7000
    monkeypatch.setenv("WARMSTART_REUSE_PORT", "yes")
    monkeypatch.setenv("WARMSTART_REFINE_FROM", "8")
    shared = server_settings()
    assert (shared.reuse_port, shared.recommender.n_refine_from) == (True, 8)
    assert server_settings(refine_from=0, reuse_port=False).recommender.n_refine_from == 0
    monkeypatch.setenv("WARMSTART_PORT", "many")
    with pytest.raises(InvalidRequestError, match=r"\$WARMSTART_PORT must be an integer"):
        server_settings()
