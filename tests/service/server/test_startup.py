"""Start-up refusals that name their cause: a bad TLS pair, a missing or foreign database.

A refused start leaves everything as it was: no port bound, no folder or file made,
a foreign database byte for byte as it was found.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.service.server.conftest import registry_with, seed_store, settings
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.cli import app


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test keys")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _certificate(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
        "-out", str(cert), "-subj", "/CN=localhost",
    )  # fmt: skip
    return cert, key


@pytest.fixture
def pairs(tmp_path: Path) -> dict[str, tuple[Path, Path, str]]:
    """Bad (certificate, key) pairs and what the refusal must say."""
    cert, key = _certificate(tmp_path / "a")
    _, other_key = _certificate(tmp_path / "b")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    encrypted = tmp_path / "encrypted.pem"
    _openssl(
        "genpkey", "-algorithm", "RSA", "-aes256", "-pass", "pass:secret", "-out", str(encrypted)
    )
    return {
        "garbage key": (cert, garbage, f"TLS key {garbage} (--tls-key) is not a usable PEM"),
        "another key": (cert, other_key, f"TLS key {other_key} (--tls-key) is not the key of"),
        "encrypted key": (cert, encrypted, f"TLS key {encrypted} (--tls-key) is encrypted"),
        "key as certificate": (key, key, f"TLS certificate {key} (--tls-cert) is not a PEM"),
        "missing key": (cert, tmp_path / "none.pem", f"TLS key {tmp_path / 'none.pem'}: cannot"),
    }


@pytest.mark.parametrize(
    "case", ["garbage key", "another key", "encrypted key", "key as certificate", "missing key"]
)
def test_a_bad_tls_pair_is_named_before_binding(
    bundle: ModelBundle, tmp_path: Path, pairs: dict[str, tuple[Path, Path, str]], case: str
) -> None:
    cert, key, message = pairs[case]
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")

    async def start() -> None:
        from warmstart.service.server import make_server

        server = make_server(registry_with(bundle), store, settings(tls_cert=cert, tls_key=key))
        await server.start()

    with pytest.raises(InvalidRequestError) as info:
        asyncio.run(start())
    assert message in str(info.value)
    assert "port" not in str(info.value)
    store.close()


def _serve(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warmstart.service.cli", "serve", "--port", "0",
         "--watch-seconds", "0",
         *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "WARMSTART_HOME": str(home)},
    )  # fmt: skip


def test_serve_with_a_key_that_is_not_the_certificates_says_so(
    tmp_path: Path, pairs: dict[str, tuple[Path, Path, str]]
) -> None:
    cert, key, message = pairs["another key"]
    done = _serve("--tls-cert", str(cert), "--tls-key", str(key), home=tmp_path)
    assert done.returncode == 2
    assert message in " ".join(done.stderr.split())
    assert "port is in use" not in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "dir" / "x.db"
    done = _serve("--db", str(path), home=tmp_path)
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert f"there is no database at {path}" in said
    assert "--create-db" in said
    assert "Traceback" not in said
    assert not (tmp_path / "typo").exists()


def test_serve_creates_a_database_when_told_to(tmp_path: Path) -> None:
    path = tmp_path / "new" / "x.db"
    command = [
        sys.executable, "-m", "warmstart.service.cli", "serve", "--port", "0",
        "--watch-seconds", "0",
        "--db", str(path), "--create-db",
    ]  # fmt: skip
    env = {**os.environ, "WARMSTART_HOME": str(tmp_path)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    try:
        listening = any(re.search(r"listening on", line) for line in process.stdout)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert listening
    assert path.is_file()


def _foreign(path: Path) -> Path:
    with sqlite3.connect(path) as conn:  # the default rollback journal, as other programs use
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    return path


def test_serve_and_db_commands_leave_a_foreign_database_byte_for_byte(tmp_path: Path) -> None:
    path = _foreign(tmp_path / "other.db")
    before = path.read_bytes()
    done = _serve("--db", str(path), home=tmp_path)
    assert done.returncode == 1
    assert "is not a warmstart database" in done.stderr
    assert path.read_bytes() == before
    for command in (["db", "stats"], ["db", "check"], ["db", "upgrade"]):
        result = CliRunner().invoke(app, [*command, "--db", str(path)])
        assert result.exit_code == 1, result.output
        assert "is not a warmstart database" in result.output
        assert path.read_bytes() == before, command
