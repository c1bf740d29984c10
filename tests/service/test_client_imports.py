"""The client side loads no server, store or model: checked in fresh processes.

The import-linter contract checks the import graph; this checks what a process actually
has loaded after importing each client-side module.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_SIDE = ("lightgbm", "numba", "sqlalchemy", "warmstart.service.server")


def _loaded_after(module: str) -> list[str]:
    """Which of :data:`SERVER_SIDE` a fresh ``import module`` loads."""
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps([m for m in {list(SERVER_SIDE)!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        "warmstart.service.client",
        "warmstart.service.cli._suggest",
        "warmstart.service.cli._report",
    ],
)
def test_client_side_modules_load_no_server_store_or_model(module: str) -> None:
    assert _loaded_after(module) == []


def test_the_check_sees_a_server_import() -> None:
    loaded = _loaded_after("warmstart.service.server")
    assert {"sqlalchemy", "warmstart.service.server"} <= set(loaded)
